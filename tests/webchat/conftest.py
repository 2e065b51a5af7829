"""The panel chatbot over a real server: the session's app on uvicorn (tests/realtime's
`live_server`), a logged-in owner, and helpers to upload files and talk on `/ws/chat` with the
`websockets` client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.helpers import TEST_PASSWORD, TenantCtx
from tests.realtime.conftest import LiveServer, close_code, live_server

__all__ = ["close_code", "live_server"]


@dataclass
class Member:
    """A logged-in person of a tenant: the cookie header, the CSRF token, their tenant."""

    tenant: TenantCtx
    email: str
    cookie: str
    csrf: str
    cookies: dict[str, str]


async def log_in(base_url: str, tenant: TenantCtx, email: str | None = None) -> Member:
    async with httpx2.AsyncClient(base_url=base_url, timeout=10) as http:
        email = email or tenant.owner_email
        response = await http.post("/api/auth/login", json={"email": email, "password": TEST_PASSWORD})
        assert response.status_code == 200, response.text
        cookies = dict(http.cookies.items())
        csrf = (await http.get("/api/auth/me")).json()["csrf_token"]
    return Member(tenant=tenant, email=email, cookie="; ".join(f"{k}={v}" for k, v in cookies.items()), csrf=csrf,
                  cookies=cookies)


@pytest.fixture
async def member(live_server: LiveServer, make_tenant: Any) -> Member:
    return await log_in(live_server.base_url, await make_tenant("chat"))


def chat_url(server: LiveServer) -> str:
    return "ws" + server.base_url.removeprefix("http") + "/ws/chat"


async def open_chat(server: LiveServer, cookie: str | None = None, *, origin: str | None = "same",
                    headers: dict[str, str] | None = None) -> ClientConnection:
    sent = dict(headers or {})
    if cookie:
        sent["Cookie"] = cookie
    if origin == "same":
        sent["Origin"] = server.base_url
    elif origin is not None:
        sent["Origin"] = origin
    return await connect(chat_url(server), additional_headers=sent, open_timeout=10, max_size=None)


@pytest.fixture
async def chat(live_server: LiveServer, member: Member) -> AsyncIterator[ClientConnection]:
    """The member's chat socket, its history_snapshot already read."""
    ws = await open_chat(live_server, member.cookie)
    assert (await frame(ws))["type"] == "history_snapshot"
    yield ws
    await ws.close()


async def frame(ws: ClientConnection, within: float = 30.0) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return result


async def turn(ws: ClientConnection, message: dict[str, Any], within: float = 60.0) -> list[dict[str, Any]]:
    """Send a frame; every frame up to its `assistant_done` or `error`."""
    await ws.send(json.dumps(message))
    return await until_end(ws, within)


async def until_end(ws: ClientConnection, within: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    seen = []
    while True:
        got = await frame(ws, max(0.01, deadline - time.monotonic()))
        seen.append(got)
        if got["type"] in ("assistant_done", "error"):
            return seen


def says(frames: list[dict[str, Any]]) -> str:
    return "".join(f.get("content", "") for f in frames if f["type"] == "assistant_delta")


async def upload(server: LiveServer, member: Member, name: str, data: bytes, *,
                 content_type: str = "application/octet-stream", csrf: bool = True) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=server.base_url, cookies=member.cookies, timeout=30) as http:
        return await http.post("/api/chat/uploads", files={"file": (name, data, content_type)},
                               headers={"X-CSRF-Token": member.csrf} if csrf else {})
