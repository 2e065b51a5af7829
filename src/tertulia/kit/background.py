"""Background loops that live as long as a block: a worker's `run()` as a task, stopped with its
`stop()` when the block ends (the inline workers of `serve`, those of `tertulia worker`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar


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
