"""The AI worker: claims due turns from the durable job table and runs them.

It runs inside `tertulia serve` (the embedded default, `inline_worker`) and as `tertulia worker`
processes; any number of them share the table. In-process it is woken right after an inbound
message commits; otherwise it polls. A worker that dies mid-turn leaves its lease to expire, and
another worker takes the turn over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta

import structlog

from tertulia.assistants import repository as repo
from tertulia.assistants.orchestrator import EngineConfig, Orchestrator, ReplyStream
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, utcnow

log = structlog.get_logger("tertulia.assistants.worker")

# A worker serves every tenant: it finds and claims due turns across them, then runs each turn as
# its tenant.
CLAIMS_CROSS_TENANTS = "a worker claims due turns of every tenant"


class AiWorker:
    def __init__(self, db: Database, secret_box: SecretBox, *, config: EngineConfig | None = None,
                 concurrency: int = 8, poll_seconds: float = 1.0, stream: ReplyStream | None = None) -> None:
        self.db = db
        self.orchestrator = Orchestrator(db, secret_box, config, stream)
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[str]] = set()
        self._stopping = False
        self._hint: datetime | None = None  # when work announced in this process becomes due

    @property
    def config(self) -> EngineConfig:
        return self.orchestrator.config

    def notify(self, due_at: datetime | None = None) -> None:
        due_at = due_at or utcnow()
        self._hint = due_at if self._hint is None else min(self._hint, due_at)
        self._wake.set()

    async def _next_wake(self) -> datetime | None:
        async with self.db.read_session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            return await repo.next_wake_at(session)

    async def run_once(self) -> int:
        """Claim what is due (up to the free slots) and start it; returns how many started."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        async with self.db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            jobs = await repo.claim_jobs(session, utcnow(), timedelta(seconds=self.config.lease_seconds), free)
        for job in jobs:
            task = asyncio.create_task(self.orchestrator.run_job(job), name=f"ai-turn-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._done)
        return len(jobs)

    def _done(self, task: asyncio.Task[str]) -> None:
        if len(self._running) >= self.concurrency:
            self._wake.set()  # a slot is free again and work may be waiting for it
        self._running.discard(task)

    async def run(self) -> None:
        log.info("ai_worker_started", action="ai_worker_start", worker=self.name)
        try:
            while not self._stopping:
                self._wake.clear()
                now = utcnow()
                try:
                    # Announced work that is due now is claimed straight away; otherwise a read
                    # says whether anything is due before taking SQLite's write lock to claim.
                    hinted = self._hint is not None and self._hint <= now
                    if hinted:
                        self._hint = None
                    due = None if hinted else await self._next_wake()
                    free = self.concurrency - len(self._running)
                    if free > 0 and (hinted or (due is not None and due <= now)):
                        started = await self.run_once()
                        if started == free:
                            continue  # every free slot was filled: there may be more due right now
                        # After announced work the next announcement or poll says what is due: a
                        # read now would run beside the turns just started, on their way to the model.
                        due = None if hinted else await self._next_wake()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: keep trying at the poll interval
                    log.warning("ai_worker_error", worker=self.name, error=f"{type(exc).__name__}: {exc}")
                    due = None
                timeout = self.poll_seconds
                now = utcnow()
                if due is not None and len(self._running) < self.concurrency:
                    # Never spin: a job that is due but was not ours to claim is retried shortly.
                    timeout = min(timeout, max(0.02, (due - now).total_seconds()))
                if self._hint is not None:
                    timeout = min(timeout, max(0.0, (self._hint - now).total_seconds()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            log.info("ai_worker_stopped", action="ai_worker_stop", worker=self.name)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
