"""A real uvicorn server on 127.0.0.1 for the session's app, and helpers to log in and open the
agent event socket through it with the `websockets` client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import TEST_PASSWORD, TenantCtx


@dataclass
class LiveServer:
    base_url: str  # http://127.0.0.1:PORT
    host: str  # 127.0.0.1:PORT
    server: uvicorn.Server | None = None  # None for servers in other processes

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/ws/events"


@pytest.fixture(scope="session")
async def live_server(app: Any) -> AsyncIterator[LiveServer]:
    """Serve the session's app (its lifespan already running) over real TCP."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws_ping_interval=20, ws_ping_timeout=20,
                            timeout_graceful_shutdown=2)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", host=f"127.0.0.1:{port}", server=server)
    finally:
        server.should_exit = True
        await server.shutdown(sockets=[sock])


async def login_cookie(base_url: str, t: TenantCtx) -> str:
    """Log in as the tenant's owner through the API; returns the `Cookie` header value."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post("/api/auth/login", json={"email": t.owner_email, "password": TEST_PASSWORD})
        assert response.status_code == 200, response.text
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


async def open_socket(server: LiveServer, cookie: str | None, *, after: int | None = None,
                      origin: str | None = "same", **kwargs: Any) -> ClientConnection:
    headers: dict[str, str] = {}
    if cookie:
        headers["Cookie"] = cookie
    if origin == "same":
        headers["Origin"] = server.base_url
    elif origin is not None:
        headers["Origin"] = origin
    url = server.ws_url + (f"?after={after}" if after is not None else "")
    return await connect(url, additional_headers=headers, open_timeout=10, **kwargs)


async def next_frame(ws: ClientConnection, within: float = 10.0, *, skip_pings: bool = True) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no frame within the deadline")
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if skip_pings and frame.get("type") == "ping":
            continue
        return frame


async def frames_until(ws: ClientConnection, predicate: Any, within: float = 10.0) -> list[dict[str, Any]]:
    """Every frame up to and including the first one matching `predicate`."""
    deadline = time.monotonic() + within
    seen: list[dict[str, Any]] = []
    while True:
        frame = await next_frame(ws, max(0.01, deadline - time.monotonic()))
        seen.append(frame)
        if predicate(frame):
            return seen


async def close_code(ws: ClientConnection, within: float = 10.0) -> int | None:
    """Read until the server closes the socket; the close code it sent."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("unreachable")


def is_message(text: str) -> Any:
    return lambda f: f.get("type") == "message.created" and f["data"].get("content") == text
