"""Event fan-out to live subscribers (agent sockets). In-process by default; issue-level
implementations for Redis plug in behind the same two methods."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any, Protocol

Event = dict[str, Any]  # {"seq": int, "type": str, "data": {...}}


class Bus(Protocol):
    async def publish(self, tenant_id: uuid.UUID, events: list[Event]) -> None: ...
    def subscribe(self, tenant_id: uuid.UUID, maxsize: int = 1000) -> Subscription: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Subscription:
    """A bounded queue of one subscriber. When it overflows the subscriber is marked `lagging`
    instead of slowing the publisher; the socket layer then drops it (the client resumes by seq)."""

    def __init__(self, bus: InProcessBus, tenant_id: uuid.UUID, maxsize: int) -> None:
        self.bus = bus
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.lagging = False
        self.overflowed = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.lagging:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagging = True
            self.overflowed.set()

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

    async def publish(self, tenant_id: uuid.UUID, events: list[Event]) -> None:
        self.deliver_local(tenant_id, events)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())


_bus: Bus = InProcessBus()


def get_bus() -> Bus:
    return _bus


def set_bus(bus: Bus) -> None:
    global _bus
    _bus = bus
