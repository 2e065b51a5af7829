"""Event fan-out to live subscribers (agent sockets).

In-process by default. With `TERTULIA_REDIS_URL` set, `RedisBus` also carries every published
batch to the other processes through one Redis pub/sub channel per installation. The database is
the source of truth: a subscriber that misses something (Redis down, a slow socket) catches up by
sequence number from `tenant_events`, so the bus may drop, but it never invents or reorders
within one publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tertulia.config import Settings

Event = dict[str, Any]  # {"seq": int, "type": str, "data": {...}, "at": "..."}

# A marker offered to local subscribers when events may have been missed (the Redis subscription
# was re-established): it carries no seq, and tells the socket to look in the database.
SYNC_MARKER: Event = {"type": "_sync"}

log = structlog.get_logger("tertulia.bus")


class Subscription:
    """A bounded queue of one subscriber. When it overflows the subscriber is marked `lagging`
    instead of slowing the publisher; the socket layer then drops it (the client resumes by seq).

    Hand-rolled rather than an `asyncio.Queue`: one list and, only while someone waits, one
    future. Thousands of idle sockets each hold one of these, and an asyncio.Queue costs about
    3 KB empty (four deques)."""

    __slots__ = ("_items", "_waiter", "bus", "lagging", "maxsize", "on_overflow", "tenant_id")

    def __init__(self, bus: InProcessBus, tenant_id: uuid.UUID, maxsize: int) -> None:
        self.bus = bus
        self.tenant_id = tenant_id
        self.maxsize = maxsize
        self._items: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None
        self.lagging = False
        # Called once, synchronously, when the queue overflows (the socket uses it to stop
        # waiting on a send that the client is not reading).
        self.on_overflow: Callable[[], object] | None = None

    def offer(self, event: Event) -> None:
        if self.lagging:
            return
        if len(self._items) >= self.maxsize:
            self.lagging = True
            self._items.clear()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Event:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)  # short lists: cheaper than a deque per subscriber

    def get_nowait(self) -> Event:
        if not self._items:
            raise LookupError("no pending event")
        return self._items.pop(0)

    def close(self) -> None:
        self.bus.unsubscribe(self)


class InProcessBus:
    def __init__(self) -> None:
        self._subs: dict[uuid.UUID, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subs.clear()

    def subscribe(self, tenant_id: uuid.UUID, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, tenant_id, maxsize)
        self._subs[tenant_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.tenant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                self._subs.pop(sub.tenant_id, None)

    def deliver_local(self, tenant_id: uuid.UUID, events: list[Event]) -> None:
        for sub in list(self._subs.get(tenant_id, ())):
            for event in events:
                sub.offer(event)

    def local_tenants(self) -> list[uuid.UUID]:
        return list(self._subs)

    async def publish(self, tenant_id: uuid.UUID, events: list[Event]) -> None:
        self.deliver_local(tenant_id, events)


class RedisBus(InProcessBus):
    """Fan-out across processes through Redis pub/sub.

    A batch is delivered to this process's own subscribers at once (no round trip through Redis,
    and local sockets keep working while Redis is down), and handed to a background sender that
    publishes it on the installation's channel with this process's id; the listener ignores
    messages carrying its own id, so every local subscriber sees each event exactly once.

    One channel for the whole installation (not one per tenant): each process holds a single
    subscriber connection and filters by tenant in memory, with no SUBSCRIBE churn as sockets come
    and go. Publishing never waits for Redis: if it is slow or unreachable, batches are dropped
    with a log line, and sockets recover them from the database by sequence number.
    """

    OUTBOX_SIZE = 10_000
    RETRY_MAX_SECONDS = 5.0

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._outbox: asyncio.Queue[tuple[uuid.UUID, list[Event]]] = asyncio.Queue(self.OUTBOX_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: Redis | None = None
        self._dropped = 0
        self.subscribed = asyncio.Event()  # set while the listener holds a live subscription

    async def start(self) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5,
                                     health_check_interval=30)
        self._tasks = [asyncio.create_task(self._listen(), name="bus-redis-listen"),
                       asyncio.create_task(self._send(), name="bus-redis-send")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        await super().stop()

    async def publish(self, tenant_id: uuid.UUID, events: list[Event]) -> None:
        self.deliver_local(tenant_id, events)
        try:
            self._outbox.put_nowait((tenant_id, events))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning("redis_outbox_full", action="bus_publish", dropped=self._dropped)

    def _encode(self, tenant_id: uuid.UUID, events: list[Event]) -> str:
        # "<origin> <tenant id> <events as JSON>": a listener reads who sent it and for which
        # tenant before parsing anything, so its own batches and those of tenants without a
        # socket here cost it no JSON decoding.
        return f"{self.origin} {tenant_id} " + json.dumps(events, separators=(",", ":"), default=str)

    async def _send(self) -> None:
        assert self._redis is not None
        failures = 0
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 200:
                batch.append(self._outbox.get_nowait())
            try:
                if len(batch) == 1:
                    await self._redis.publish(self.channel, self._encode(*batch[0]))
                else:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for tenant_id, events in batch:
                            pipe.publish(self.channel, self._encode(tenant_id, events))
                        await pipe.execute()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down or slow: the database still has every event
                failures += 1
                log.warning("redis_publish_failed", action="bus_publish", error=f"{type(exc).__name__}: {exc}",
                            dropped_batches=len(batch))
                await asyncio.sleep(min(self.RETRY_MAX_SECONDS, 0.1 * 2 ** min(failures, 6)))

    async def _listen(self) -> None:
        assert self._redis is not None
        failures = 0
        resubscribing = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                if resubscribing:
                    # Whatever was published while we were away is in the database; let each
                    # local socket look for it instead of waiting for the next event.
                    for tenant_id in self.local_tenants():
                        self.deliver_local(tenant_id, [SYNC_MARKER])
                    log.info("redis_resubscribed", action="bus_listen")
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None:
                        self._on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                failures += 1
                resubscribing = True
                log.warning("redis_subscribe_failed", action="bus_listen", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(min(self.RETRY_MAX_SECONDS, 0.1 * 2 ** min(failures, 6)))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, raw: bytes | str) -> None:
        text = raw.decode() if isinstance(raw, bytes) else raw
        try:
            origin, tenant, body = text.split(" ", 2)
            if origin == self.origin:
                return
            tenant_id = uuid.UUID(tenant)
            if tenant_id not in self._subs:
                return
            events = json.loads(body)
            if not isinstance(events, list):
                raise TypeError("a batch of events is a JSON list")
        except (ValueError, TypeError) as exc:
            log.warning("redis_bad_message", action="bus_listen", error=str(exc))
            return
        self.deliver_local(tenant_id, events)


def create_bus(settings: Settings) -> InProcessBus:
    """The process's bus: Redis-backed when a Redis URL is configured, in-process otherwise."""
    if settings.redis_url:
        return RedisBus(settings.redis_url, f"{settings.redis_prefix}:events")
    return InProcessBus()
