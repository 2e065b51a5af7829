"""What the provider tests share: quick backoff, a sample tool, a delta collector."""

from __future__ import annotations

import asyncio
import time

from tertulia.assistants.providers.base import StreamDelta, ToolSpec
from tertulia.assistants.providers.network import Backoff

FAST = Backoff(base=0.01, cap=0.05)
TAG_TOOL = ToolSpec("add_tag", "Tag the conversation", {"type": "object", "properties": {"tag": {"type": "string"}},
                                                         "required": ["tag"]})


class Collector:
    def __init__(self) -> None:
        self.deltas: list[StreamDelta] = []

    async def __call__(self, delta: StreamDelta) -> None:
        self.deltas.append(delta)

    @property
    def text(self) -> list[str]:
        return [d.text for d in self.deltas if d.text]

    async def wait_for_text(self, n: int, within: float = 5.0) -> None:
        """The server sends before the client reads: wait (with a deadline) for n text deltas."""
        deadline = time.monotonic() + within
        while len(self.text) < n:
            assert time.monotonic() < deadline, f"only {len(self.text)} text deltas arrived"
            await asyncio.sleep(0.005)
