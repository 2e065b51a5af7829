"""The outbound tests' per-test fixtures (imported by tests/delivery and tests/channels conftests,
so that these short names stay theirs): the sandbox emptied, the app's client, the sandbox's
control client. The session-wide pieces are in harness.py (a plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver


@pytest.fixture
def sandbox(out_sandbox: SandboxServer, out_receiver: Receiver) -> Iterator[SandboxServer]:
    """The sandbox, its logs and failures emptied (channels and customers stay: each test has its own)."""
    out_sandbox.state.reset()
    out_receiver.reset()
    yield out_sandbox
    out_sandbox.wait_idle()
    out_sandbox.state.reset()


@pytest.fixture
async def api(out_app: Any, sandbox: SandboxServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=out_app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def control(sandbox: SandboxServer) -> AsyncIterator[httpx2.AsyncClient]:
    """The sandbox's control API."""
    async with httpx2.AsyncClient(base_url=sandbox.url, timeout=10) as c:
        yield c
