"""The inbound writer: stores inbound messages in batches.

Every inbound message is one row, a conversation's counters, a contact's last sight and two
events: the fixed cost of its transaction (the round trips of BEGIN, the lock, the write and
COMMIT, the WAL flush, the hold on the tenant's event counter) is most of its cost. So requests
hand their message to this writer and wait for it to be committed; each writer task takes
everything that arrived while it was busy and stores it in one transaction. A lone message waits
for nothing; under load the batches grow and those costs are shared, so the process keeps up
instead of queueing (natural batching). A batch that fails is retried a message at a time, so one
bad message cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Histogram

from tertulia.conversations.schemas import InboundMessage, InboundResult
from tertulia.conversations.service import InboundDelivery, ingest_batch
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database
from tertulia.kit.errors import TertuliaError

log = structlog.get_logger("tertulia.conversations.inbound")

BATCH_SIZE = Histogram("tertulia_inbound_batch_messages", "Inbound messages stored per transaction",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
BATCH_SECONDS = Histogram("tertulia_inbound_batch_seconds", "Time to store one batch of inbound messages",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


class WriterStopped(TertuliaError):
    status_code, code = 503, "shutting_down"


@dataclass(slots=True)
class _Pending:
    delivery: InboundDelivery
    future: asyncio.Future[InboundResult]


class InboundWriter:
    """The process's inbound writer (`app.state.inbound_writer`)."""

    def __init__(self, db: Database, *, writers: int = 1, max_batch: int = 200, queue_size: int = 10_000) -> None:
        self.db = db
        self.writers = writers
        self.max_batch = max_batch
        # Bounded: when the database cannot keep up, requests wait to be queued instead of
        # piling up in memory.
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, channel_id: uuid.UUID, body: InboundMessage) -> InboundResult:
        """Store a message that arrived on a channel the caller authenticated (a verified webhook);
        returns once it is committed."""
        return await self._enqueue(InboundDelivery(channel_id, body))

    async def submit_api(self, channel_id: uuid.UUID, token: str, body: InboundMessage) -> InboundResult:
        """Store a message posted to the generic `api` channel with its inbound token."""
        return await self._enqueue(InboundDelivery(channel_id, body, hash_token(token)))

    async def _enqueue(self, delivery: InboundDelivery) -> InboundResult:
        if not self._tasks:
            raise WriterStopped("this process is not taking messages now; retry", code="shutting_down")
        pending = _Pending(delivery, asyncio.get_running_loop().create_future())
        await self._queue.put(pending)
        return await pending.future

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"inbound-writer-{n}") for n in range(self.writers)]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), WriterStopped("this process stopped before storing the message; retry"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            BATCH_SIZE.observe(len(batch))
            try:
                with BATCH_SECONDS.time():
                    await self._write(batch)
            except asyncio.CancelledError:
                for pending in batch:
                    _fail(pending, WriterStopped("this process stopped before storing the message; retry"))
                raise

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await self._store(batch)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            log.warning("inbound_batch_failed", action="inbound_write", size=len(batch),
                        error=f"{type(exc).__name__}: {exc}")
            for pending in batch:  # one at a time: only the message at fault fails
                await self._write([pending])

    async def _store(self, batch: list[_Pending]) -> None:
        async with self.db.session() as session:
            results = await ingest_batch(session, [pending.delivery for pending in batch])
        for pending, result in zip(batch, results, strict=True):  # committed
            if isinstance(result, TertuliaError):
                _fail(pending, result)
            elif not pending.future.done():
                pending.future.set_result(result)


def _fail(pending: _Pending, exc: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)


@asynccontextmanager
async def inbound_lifespan(app: Any) -> AsyncIterator[None]:
    """Lifespan hook: the process's inbound writer."""
    settings = app.state.settings
    db: Database = app.state.db
    writers = settings.inbound_writers or (1 if db.dialect == "sqlite" else 2)
    writer = InboundWriter(db, writers=writers)
    app.state.inbound_writer = writer
    await writer.start()
    try:
        yield
    finally:
        await writer.stop()
