"""Background loops that live as long as a block: a worker's `run()` as a task, stopped with its
`stop()` when the block ends (the inline workers of `serve`, those of `tertulia worker`); and the
loop the workers that claim due rows share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from tertulia.kit.db import utcnow


class Loop(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


L = TypeVar("L", bound=Loop)


@asynccontextmanager
async def running(loop: L, name: str) -> AsyncIterator[L]:
    """`loop.run()` as a task named `name` for as long as the block lasts; then `loop.stop()` (which
    lets work under way end or hands it back), and the task is cancelled if it is still there."""
    task = asyncio.create_task(loop.run(), name=name)
    try:
        yield loop
    finally:
        await loop.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ClaimingWorker:
    """The loop every worker that claims due rows from a shared table runs (the AI turns, media
    fetches, deliveries): look for what is due, claim up to the free slots, run each claim as a task,
    then sleep until the next due time, an announcement (`notify`) or the poll interval. The
    subclass says what is due (`_next_due`) and how a claim is taken and started (`_claim`)."""

    label = "worker"  # the log events: f"{label}_started", f"{label}_error", f"{label}_stopped"
    min_wait = 0.02  # never spin: a row that is due but was not ours to claim is looked at again after this
    claim_ahead = timedelta(0)  # a row due this soon is claimed already (and held until its time)

    def __init__(self, logger: Any, *, concurrency: int, poll_seconds: float) -> None:
        self.log = logger
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._hint: datetime | None = None  # when work announced in this process becomes due

    def notify(self, due_at: datetime | None = None) -> None:
        """Work was queued in this process (due at `due_at`, else now): claim it then, without
        waiting for the next poll."""
        due_at = due_at or utcnow()
        self._hint = due_at if self._hint is None else min(self._hint, due_at)
        self._wake.set()

    async def _next_due(self) -> datetime | None:
        raise NotImplementedError

    async def _claim(self, free: int, hinted: bool) -> tuple[int, datetime | None]:
        """Claim up to `free` rows and `_start` each; how many, and when the next row falls due if
        that is known (None: the next poll or announcement says). `hinted`: the claim follows an
        announcement rather than a read."""
        raise NotImplementedError

    async def _between(self) -> None:
        """Housekeeping at every turn of the loop."""

    def _start(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        if len(self._running) >= self.concurrency:
            self._wake.set()  # a slot is free again and work may be waiting for it
        self._running.discard(task)

    async def run(self) -> None:
        self.log.info(f"{self.label}_started", action=f"{self.label}_start", worker=self.name)
        try:
            while not self._stopping:
                self._wake.clear()
                now = utcnow()
                due: datetime | None = None
                try:
                    # Announced work that is due now is claimed straight away; otherwise a read
                    # says whether anything is due before taking SQLite's write lock to claim.
                    hinted = self._hint is not None and self._hint <= now
                    if hinted:
                        self._hint = None
                    free = self.concurrency - len(self._running)
                    if free > 0:
                        due = None if hinted else await self._next_due()
                        if hinted or (due is not None and due <= now + self.claim_ahead):
                            started, due = await self._claim(free, hinted)
                            if started == free:
                                continue  # every free slot was filled: more may be due right now
                    await self._between()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: keep trying at the poll interval
                    self.log.warning(f"{self.label}_error", worker=self.name, error=f"{type(exc).__name__}: {exc}")
                    due = None
                timeout = self.poll_seconds
                now = utcnow()
                if due is not None and len(self._running) < self.concurrency:
                    timeout = min(timeout, max(self.min_wait, (due - self.claim_ahead - now).total_seconds()))
                if self._hint is not None:
                    timeout = min(timeout, max(0.0, (self._hint - now).total_seconds()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            self.log.info(f"{self.label}_stopped", action=f"{self.label}_stop", worker=self.name)

    async def stop(self, grace: float = 0.0) -> None:
        """Stop claiming; give the work under way `grace` seconds to finish, then cancel what is left
        (its lease runs out and another worker takes it over)."""
        self._stopping = True
        self._wake.set()
        if grace > 0 and self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        left = list(self._running)  # (with any the loop started meanwhile)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
