"""Fixtures for the provider sandbox's own tests: one sandbox server for the session (state reset per
test; each test registers channels of its own), a tiny webhook receiver standing in for Tertulia's
inbound side, and an HTTP client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tertulia.sandbox.server import SandboxServer
from tertulia.sandbox.traffic import SandboxConfig
from tertulia.sandbox.webhooks import RetryPolicy
from tests.fakes.harness import ThreadedUvicorn


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every request; answers 200 unless `answers` holds statuses for the next ones."""

    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    http: ThreadedUvicorn | None = None

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append(Received(request.method, request.url.path, dict(request.query_params),
                                          {k.lower(): v for k, v in request.headers.items()}, body))
            status = self.answers.pop(0) if self.answers else 200
        if request.method == "GET" and status == 200:
            return PlainTextResponse(request.query_params.get("hub.challenge", ""))
        return PlainTextResponse("ok" if status < 300 else "nope", status_code=status)

    def url(self, name: str = "hook") -> str:
        assert self.http is not None
        return f"{self.http.url}/{name}"

    def posts(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "POST" and (path is None or r.path == path)]

    async def wait_posts(self, n: int, path: str | None = None, within: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.posts(path)) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} webhook(s) at {path}, got {len(self.posts(path))}")
            await asyncio.sleep(0.01)
        return self.posts(path)


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[SandboxServer]:
    config = SandboxConfig(auto_status=False, status_delays=(0.02, 0.02), async_failure_delay=0.01,
                           retry=RetryPolicy(attempts=4, delays=(0.02, 0.05, 0.1), timeout=5))
    server = SandboxServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(_sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The sandbox on 127.0.0.1, its logs and failures emptied; automatic statuses off."""
    _sandbox_server.state.reset()
    _sandbox_server.sandbox.config.auto_status = False
    yield _sandbox_server
    _sandbox_server.wait_idle()  # no echo or status of this test lands in the next one
    _sandbox_server.state.reset()


@pytest.fixture(scope="session")
def _receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.http = ThreadedUvicorn(Starlette(routes=[Route("/{name}", receiver.endpoint, methods=["GET", "POST"])]),
                                    name="webhook-receiver")
    receiver.http.start()
    yield receiver
    receiver.http.stop()


@pytest.fixture
def receiver(_receiver: WebhookReceiver) -> Iterator[WebhookReceiver]:
    with _receiver.lock:
        _receiver.received.clear()
        _receiver.answers.clear()
    yield _receiver


@pytest.fixture
async def http(sandbox: SandboxServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        yield client


async def register(http: httpx2.AsyncClient, receiver: WebhookReceiver, kind: str, **extra: Any) -> dict[str, Any]:
    """A channel of its own for one test; answers the control API's registration (credentials...)."""
    response = await http.post("/_sandbox/channels", json={"kind": kind, "webhook_url": receiver.url(kind), **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


DEFAULT_CUSTOMER = {"whatsapp_cloud": "34600111222", "ycloud": "+34600111222", "facebook": "6100000000000001",
                    "instagram": "1780000000000001"}


async def customer_writes(http: httpx2.AsyncClient, ch: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A customer of the channel writes (a text by default) through the control API."""
    spec.setdefault("from", DEFAULT_CUSTOMER[ch["channel"]["kind"]])
    spec.setdefault("type", "text")
    response = await http.post("/_sandbox/messages", json={"channel": ch["channel"]["key"], **spec})
    assert response.status_code == 200, response.text
    return dict(response.json())
