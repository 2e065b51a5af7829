"""The delivery worker: claims due outbound deliveries of every tenant and sends them.

It runs inside `tertulia serve` (the embedded default) and in `tertulia worker` processes; any
number of them share the outbox. Claims hold a lease: a worker that dies leaves its deliveries to
another once the lease runs out. Per recipient, messages leave in order (only the oldest undone
delivery of a conversation is ever due) and spaced (`TERTULIA_DELIVERY_SPACING` on WhatsApp);
different recipients go in parallel, up to `TERTULIA_DELIVERY_CHANNEL_RATE` sends a second per
channel, counted in Redis when the processes share one (kit/ratelimit.py), else in memory.

A send holds no transaction while it waits for the provider: the window between the provider
accepting a message and our commit is that one HTTP call (docs/architecture.md says what a crash
there can do).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx2
import structlog
from limits import RateLimitItem, RateLimitItemPerSecond

from tertulia.channels.providers import PROVIDERS
from tertulia.channels.sending import ProviderFailure
from tertulia.config import Settings
from tertulia.delivery import outbox, service
from tertulia.delivery import repository as repo
from tertulia.delivery.repository import ClaimedDelivery
from tertulia.delivery.senders import NotYetSender, Outgoing, Sender, SenderTools
from tertulia.kit.background import ClaimingWorker
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, utcnow
from tertulia.kit.egress import fenced_client, trusted_client
from tertulia.kit.ratelimit import RateLimiter
from tertulia.kit.storage import FileStore

log = structlog.get_logger("tertulia.delivery.worker")

CLAIMS_CROSS_TENANTS = "a worker claims due deliveries of every tenant"
MAX_BACKOFF = 300.0


@dataclass
class DeliveryConfig:
    concurrency: int = 32  # sends under way at once
    poll_seconds: float = 0.5  # how often a worker looks for work it was not told about
    lease_seconds: float = 60.0  # a claim not finished by then is presumed dead and taken over
    max_rate_wait: float = 5.0  # longer waits for the channel's rate give the delivery back
    sweep_seconds: float = 10.0  # how often statuses that raced a send's store are applied
    # A claim also takes what falls due this much later (held until its time): at a channel's
    # full rate, one claim per tenth of a second instead of one per delivery.
    claim_ahead_seconds: float = 0.1


def rate_item(rate: float) -> RateLimitItem:
    """The channel rate as whole sends per window: 20/s as 20 per second, 0.5/s as 1 per 2 seconds."""
    if rate >= 1:
        return RateLimitItemPerSecond(max(1, int(rate)), 1)
    return RateLimitItemPerSecond(1, max(1, math.ceil(1 / rate)))


def backoff(attempt: int, base: float, *, floor: float = 0.0, retry_after: float | None = None) -> float:
    """Seconds before try `attempt + 1`: exponential with jitter (half to all of it), capped."""
    delay = min(MAX_BACKOFF, base * 2 ** max(0, attempt - 1))
    delay = random.uniform(delay / 2, delay)
    return max(delay, floor, retry_after or 0.0)


class DeliveryWorker(ClaimingWorker):
    label = "delivery_worker"
    min_wait = 0.01

    def __init__(self, db: Database, secret_box: SecretBox, store: FileStore, limiter: RateLimiter,
                 settings: Settings, config: DeliveryConfig | None = None) -> None:
        self.config = config or DeliveryConfig()
        super().__init__(log, concurrency=self.config.concurrency, poll_seconds=self.config.poll_seconds)
        self.db = db
        self.box = secret_box
        self.store = store
        self.limiter = limiter
        self.settings = settings
        self.rate = rate_item(settings.delivery_channel_rate)
        self.claim_ahead = timedelta(seconds=self.config.claim_ahead_seconds)
        self.senders: dict[str, Sender] = {}
        self._clients: list[httpx2.AsyncClient] = []
        self._last_sweep = 0.0

    # -- wiring --------------------------------------------------------------------------------------
    def _open(self) -> None:
        # Sends finish well within the lease (another worker would take the delivery over).
        total = max(5.0, self.config.lease_seconds / 2)
        trusted = trusted_client(timeout=min(20.0, total), connect_timeout=5.0, total_timeout=total)
        fenced = fenced_client(timeout=min(20.0, total), connect_timeout=5.0, total_timeout=total)
        self._clients = [trusted, fenced]
        tools = SenderTools(trusted, fenced, self.settings, self.box, self.store)
        self.senders = {kind: provider.sender(tools) for kind, provider in PROVIDERS.items()}

    async def _close(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients = []

    # -- the loop (kit/background.py) ---------------------------------------------------------------
    async def _next_due(self) -> datetime | None:
        async with self.db.read_session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            return await repo.next_wake_at(session)

    async def _claim(self, free: int, hinted: bool) -> tuple[int, datetime | None]:
        """Claim and start; the next delivery's due time is read in the claim's transaction."""
        token = uuid.uuid4().hex
        async with self.db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            claimed = await repo.claim(session, utcnow(), timedelta(seconds=self.config.lease_seconds), free, token,
                                       self.claim_ahead)
            outgoing = await service.load_outgoing(session, claimed) if claimed else {}
            due = await repo.next_wake_at(session) if len(claimed) < free else None
        for delivery in claimed:
            self._start(self.deliver(delivery, outgoing.get(delivery.id)), f"delivery-{delivery.id}")
        return len(claimed), due

    async def _between(self) -> None:
        await self._sweep()

    async def run(self) -> None:
        self._open()
        outbox.listen(self.db, self.notify)
        try:
            await super().run()
        finally:
            outbox.stop_listening(self.db, self.notify)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let the sends under way finish (a cut send may go twice), then cancel."""
        await super().stop(grace)
        await self._close()

    async def _sweep(self) -> None:
        """Statuses kept as pending while their send was being stored are applied now."""
        if time.monotonic() - self._last_sweep < self.config.sweep_seconds:
            return
        self._last_sweep = time.monotonic()
        async with self.db.read_session(cross_tenant="the sweep finds pending statuses of every tenant") as session:
            found = await service.orphaned_statuses(session)
        for tenant_id, message_id in found:
            async with self.db.session(tenant_id) as session:
                await service.apply_pending_statuses(session, tenant_id, message_id)

    # -- one delivery --------------------------------------------------------------------------------
    async def deliver(self, claimed: ClaimedDelivery, out: Outgoing | None) -> None:
        """Send one claimed delivery (`out`: what it sends, loaded with the claim; None when its
        message is gone) and store what came of it. Never raises for the delivery's own failures:
        they become a retry, a failure on the message, or a paused channel."""
        try:
            await self._deliver(claimed, out)
        except asyncio.CancelledError:
            raise  # shutting down: the lease runs out and another worker sends it
        except Exception as exc:  # a bug, or the database failing: try again later, up to the limit
            log.exception("delivery_crashed", delivery_id=claimed.id, tenant_id=str(claimed.tenant_id))
            with contextlib.suppress(Exception):
                await self._after_failure(claimed, ProviderFailure(
                    "retry", "Un error interno impidió el envío; Tertulia lo reintenta sola.", "internal",
                    f"{type(exc).__name__}: {exc}"), spacing=0.0)

    async def _deliver(self, claimed: ClaimedDelivery, out: Outgoing | None) -> None:
        wait = (claimed.due - utcnow()).total_seconds() if claimed.due is not None else 0.0
        if wait > 0:  # claimed ahead of its time (the spacing ends then)
            await asyncio.sleep(wait)
        if out is None:
            async with self.db.session(claimed.tenant_id) as session:
                await repo.finish(session, claimed, state="failed", last_error="the message is gone")
            return
        sender = self.senders.get(out.channel.kind, NotYetSender())
        spacing = sender.spacing(self.settings)
        if out.channel.status == "attention":  # paused: not even tried
            await self._after_failure(claimed, ProviderFailure(
                "pause", out.channel.status_reason or "El canal necesita atención.", "channel_attention"), spacing)
            return
        if not out.channel.enabled:
            await self._after_failure(claimed, ProviderFailure(
                "fail", "El canal está desactivado: actívalo y reintenta el mensaje.", "channel_disabled"), spacing)
            return
        if sender.paced(out) and not await self._pace(claimed, out):
            return
        started = time.perf_counter()
        try:
            if out.typing_for:
                await self._typing(sender, out)
            provider_id = await sender.send(out)
        except ProviderFailure as failure:
            log.info("delivery_failed", action="delivery_attempt", delivery_id=claimed.id, attempt=claimed.attempts,
                     what=failure.action, code=failure.code, detail=failure.detail[:300],
                     tenant_id=str(claimed.tenant_id))
            await self._after_failure(claimed, failure, spacing)
            return
        now = utcnow()
        async with self.db.session(claimed.tenant_id) as session:
            stored = await service.record_sent(session, claimed, provider_id, now, spacing)
        log.info("delivery_sent", action="delivery_sent", delivery_id=claimed.id, message_id=claimed.message_id,
                 tenant_id=str(claimed.tenant_id), kind=out.channel.kind, attempt=claimed.attempts,
                 ms=round((time.perf_counter() - started) * 1000, 1), lease_kept=stored is not None)

    async def _pace(self, claimed: ClaimedDelivery, out: Outgoing) -> bool:
        """Wait for a send of the channel's rate; a wait longer than `max_rate_wait` gives the
        delivery back, due when the rate allows (not an attempt). True when it may go now."""
        waited = 0.0
        while True:
            wait = await self.limiter.wait_for(self.rate, "delivery", str(out.channel.id))
            if wait <= 0:
                return True
            if waited + wait > self.config.max_rate_wait:
                async with self.db.session(claimed.tenant_id) as session:
                    await service.release(session, claimed, utcnow() + timedelta(seconds=wait))
                return False
            await asyncio.sleep(wait)
            waited += wait

    async def _typing(self, sender: Sender, out: Outgoing) -> None:
        try:
            await sender.typing(out)
        except ProviderFailure as failure:  # only a courtesy: the message goes anyway
            log.info("typing_failed", delivery_id=out.claimed.id, code=failure.code, detail=failure.detail[:200])

    async def _after_failure(self, claimed: ClaimedDelivery, failure: ProviderFailure, spacing: float) -> None:
        now = utcnow()
        max_attempts = self.settings.delivery_max_attempts
        async with self.db.session(claimed.tenant_id) as session:
            if failure.action == "pause":
                await service.record_pause(session, claimed, failure, now)
            elif failure.action == "fail":
                await service.record_failure(session, claimed, failure.reason, failure.code, str(failure), now)
            elif claimed.attempts >= max_attempts:
                reason = (f"No se pudo entregar tras {claimed.attempts} intentos ({failure.code or 'error'}): "
                          "pulsa «Reintentar» para volver a intentarlo.")
                await service.record_failure(session, claimed, reason, failure.code, str(failure), now)
            else:
                # The pair rate limit: this recipient only, and no sooner than Meta's ~6 s per pair.
                floor = 1.5 * max(spacing, self.settings.delivery_spacing) if failure.action == "recipient" else 0.0
                delay = backoff(claimed.attempts, self.settings.delivery_retry_seconds, floor=floor,
                                retry_after=failure.retry_after)
                await service.record_retry(session, claimed, now + timedelta(seconds=delay), failure)
