"""Background loops a process runs beside its requests (the AI worker, the delivery worker)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar


class Loop(Protocol):
    async def run(self) -> None: ...  # until stopped
    async def stop(self) -> None: ...


L = TypeVar("L", bound=Loop)


@asynccontextmanager
async def running(loop: L, name: str) -> AsyncIterator[L]:
    """The loop as a task for as long as the block lasts (`serve` with the inline worker, `tertulia
    worker`): stopped (its own way) and then cancelled when the block ends."""
    task = asyncio.create_task(loop.run(), name=name)
    try:
        yield loop
    finally:
        await loop.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
