"""The agent event socket over a real server: who may connect, live delivery, resuming by seq,
resync past retention, dropping slow clients, tenant isolation."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import socket
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from websockets.asyncio.client import connect

from tertulia.kit.bus import InProcessBus
from tertulia.kit.db import Database, utcnow
from tertulia.realtime.retention import purge_old_events
from tests.helpers import post_inbound
from tests.realtime.conftest import (
    LiveServer,
    close_code,
    frames_until,
    is_message,
    login_cookie,
    next_frame,
    open_socket,
)


async def test_without_a_session_the_socket_says_why_and_closes_4401(live_server: LiveServer) -> None:
    for cookie in (None, "tertulia_session=not-a-real-session"):
        ws = await open_socket(live_server, cookie)
        frame = await next_frame(ws)
        assert frame["type"] == "error"
        assert frame["metadata"] == {"code": "WS_UNAUTHORIZED"}
        assert frame["message"]
        assert await close_code(ws) == 4401


async def test_a_foreign_origin_is_refused_with_4403(live_server: LiveServer, make_tenant: Any) -> None:
    t = await make_tenant("ws")
    cookie = await login_cookie(live_server.base_url, t)
    for origin in ("https://evil.example", "null", "http://127.0.0.1:1"):
        ws = await open_socket(live_server, cookie, origin=origin)
        frame = await next_frame(ws)
        assert frame["metadata"]["code"] == "WS_FORBIDDEN_ORIGIN"
        assert await close_code(ws) == 4403
    # The same cookie from the server's own origin, or with no Origin at all (not a browser), works.
    for origin in ("same", None):
        ws = await open_socket(live_server, cookie, origin=origin)
        assert (await next_frame(ws))["type"] == "hello"
        await ws.close()


async def test_a_bad_after_is_refused_with_4400(live_server: LiveServer, make_tenant: Any) -> None:
    t = await make_tenant("ws")
    cookie = await login_cookie(live_server.base_url, t)
    for bad in ("-1", "abc", "99999999999999999999", "１２"):
        sock = await connect(f"{live_server.ws_url}?after={quote(bad)}", additional_headers={"Cookie": cookie})
        frame = await next_frame(sock)
        assert frame["metadata"]["code"] == "WS_BAD_REQUEST"
        assert await close_code(sock) == 4400


async def test_an_inbound_message_arrives_live(live_server: LiveServer, make_tenant: Any,
                                               client: httpx2.AsyncClient) -> None:
    t = await make_tenant("ws")
    ws = await open_socket(live_server, await login_cookie(live_server.base_url, t))
    hello = await next_frame(ws)
    assert hello["type"] == "hello" and isinstance(hello["seq"], int)

    response = await post_inbound(client, t, "¿Tienen talla M?")
    assert response.status_code == 202, response.text
    frames = await frames_until(ws, is_message("¿Tienen talla M?"))
    created = frames[-1]
    assert created["seq"] == hello["seq"] + 1
    assert created["data"]["author"] == "contact" and created["at"].endswith("Z")
    # The conversation row moves too (the list re-sorts from it).
    update = await next_frame(ws)
    assert update == {**update, "type": "conversation.updated", "seq": created["seq"] + 1}
    await ws.close()


async def test_resume_after_seq_replays_what_was_missed_then_goes_live(
        live_server: LiveServer, make_tenant: Any, client: httpx2.AsyncClient) -> None:
    t = await make_tenant("ws")
    cookie = await login_cookie(live_server.base_url, t)
    ws = await open_socket(live_server, cookie)
    seen = (await next_frame(ws))["seq"]
    await post_inbound(client, t, "antes")
    seen = (await frames_until(ws, lambda f: f.get("type") == "conversation.updated"))[-1]["seq"]
    await ws.close()

    # While the tab is away, three messages arrive.
    for i in range(3):
        assert (await post_inbound(client, t, f"perdido {i}")).status_code == 202

    ws = await open_socket(live_server, cookie, after=seen)
    hello = await next_frame(ws)
    assert hello["type"] == "hello" and hello["seq"] == seen + 6
    replayed = [await next_frame(ws) for _ in range(6)]
    assert [f["seq"] for f in replayed] == list(range(seen + 1, seen + 7))
    assert [f["data"]["content"] for f in replayed if f["type"] == "message.created"] == [
        "perdido 0", "perdido 1", "perdido 2"]

    await post_inbound(client, t, "en vivo")
    live = await next_frame(ws)
    assert live["seq"] == seen + 7 and live["data"]["content"] == "en vivo"
    await ws.close()

    # Resuming from the head sends nothing old: straight to live.
    ws = await open_socket(live_server, cookie, after=seen + 8)
    assert await next_frame(ws) == {"type": "hello", "seq": seen + 8}
    await post_inbound(client, t, "siguiente")
    assert (await next_frame(ws))["seq"] == seen + 9
    await ws.close()


async def test_events_published_out_of_order_or_lost_are_filled_from_the_database(
        live_server: LiveServer, make_tenant: Any, client: httpx2.AsyncClient, app: Any) -> None:
    """Another process's events can arrive late or not at all (Redis hiccup): the socket still
    delivers every seq once, in order, by reading the gap from the database."""
    t = await make_tenant("ws")
    ws = await open_socket(live_server, await login_cookie(live_server.base_url, t))
    head = (await next_frame(ws))["seq"]

    real_bus = app.state.bus
    app.state.db.bus = InProcessBus()  # these two messages are stored but never fanned out
    try:
        await post_inbound(client, t, "sin aviso 1")
        await post_inbound(client, t, "sin aviso 2")
    finally:
        app.state.db.bus = real_bus
    await post_inbound(client, t, "con aviso")

    frames = await frames_until(ws, lambda f: f.get("seq") == head + 6)
    assert [f["seq"] for f in frames] == list(range(head + 1, head + 7))
    assert [f["data"]["content"] for f in frames if f["type"] == "message.created"] == [
        "sin aviso 1", "sin aviso 2", "con aviso"]
    # A late duplicate of something already sent is not sent again.
    await real_bus.publish(t.id, [frames[0]])
    await post_inbound(client, t, "después")
    assert (await next_frame(ws))["seq"] == head + 7
    await ws.close()


async def test_resuming_from_before_the_retention_window_asks_for_a_resync(
        live_server: LiveServer, make_tenant: Any, client: httpx2.AsyncClient, db: Database) -> None:
    t = await make_tenant("ws")
    cookie = await login_cookie(live_server.base_url, t)
    for i in range(2):
        await post_inbound(client, t, f"viejo {i}")
    # Everything so far falls out of the retention window.
    deleted = await purge_old_events(db, utcnow() + timedelta(seconds=1), tenant_ids=[t.id])
    assert deleted == 4

    ws = await open_socket(live_server, cookie, after=1)
    assert await next_frame(ws) == {"type": "hello", "seq": 4}
    assert await next_frame(ws) == {"type": "resync", "seq": 4}
    await post_inbound(client, t, "nuevo")
    assert (await next_frame(ws))["seq"] == 5
    await ws.close()

    # A client that had seen everything does not need to reload.
    ws = await open_socket(live_server, cookie, after=6)
    assert await next_frame(ws) == {"type": "hello", "seq": 6}
    await post_inbound(client, t, "otro")
    assert (await next_frame(ws))["seq"] == 7
    await ws.close()


async def test_a_slow_client_is_dropped_while_a_fast_one_keeps_up(
        live_server: LiveServer, make_tenant: Any, app: Any) -> None:
    t = await make_tenant("ws")
    cookie = await login_cookie(live_server.base_url, t)
    gateway = app.state.gateway
    old_size, old_close = gateway.config.queue_size, gateway.config.close_timeout_seconds
    gateway.config.queue_size = 20
    # The close frame waits until the slow client reads again (below); on a busy machine that
    # can be later than the default 10 s.
    gateway.config.close_timeout_seconds = 120
    try:
        fast = await open_socket(live_server, cookie)
        # A frozen tab: the client library stops reading the TCP stream after one frame
        # (`max_queue=1`), and a small receive buffer keeps the kernel from absorbing the burst.
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", int(live_server.host.rsplit(":", 1)[1])))
        slow = await open_socket(live_server, cookie, max_queue=1, sock=raw)
        head = (await next_frame(fast))["seq"]
        assert (await next_frame(slow))["type"] == "hello"  # both are subscribed now
    finally:
        gateway.config.queue_size = old_size

    # A burst of 400 large events (12 MB), published on the bus as another process would, at
    # the pace the fast client reads: far more than the kernel buffers hold for one that doesn't.
    received: list[int] = []
    for batch in range(40):
        # Random text: the socket compresses frames, and repeated bytes would shrink to nothing.
        events = [{"seq": head + 1 + batch * 10 + i, "type": "message.updated",
                   "data": {"padding": secrets.token_hex(15_000)}, "at": "2026-01-01T00:00:00Z"}
                  for i in range(10)]
        await app.state.bus.publish(t.id, events)
        while len(received) < (batch + 1) * 10:
            received.append((await next_frame(fast))["seq"])
    assert received == list(range(head + 1, head + 401))

    # The slow one was dropped (only the fast one is still subscribed); it sees code 4408 once it
    # reads again, and then resumes with ?after=<its last seq>.
    assert [s for s in gateway.subscriptions if s.tenant_id == t.id] and all(
        not s.lagging for s in gateway.subscriptions if s.tenant_id == t.id)
    assert len([s for s in gateway.subscriptions if s.tenant_id == t.id]) == 1
    try:
        assert await close_code(slow, within=30) == 4408
    finally:
        gateway.config.close_timeout_seconds = old_close
    await fast.close()


async def test_a_tenant_never_sees_another_tenants_events(
        live_server: LiveServer, make_tenant: Any, client: httpx2.AsyncClient) -> None:
    a, b = await make_tenant("wsa"), await make_tenant("wsb")
    ws_a = await open_socket(live_server, await login_cookie(live_server.base_url, a))
    ws_b = await open_socket(live_server, await login_cookie(live_server.base_url, b))
    await next_frame(ws_a)
    await next_frame(ws_b)

    await post_inbound(client, a, "solo para A")
    await frames_until(ws_a, is_message("solo para A"))
    await post_inbound(client, b, "solo para B")
    first_b = await next_frame(ws_b)
    # B's first event is its own message: A's, published earlier, never reached it.
    assert first_b["type"] == "message.created" and first_b["data"]["content"] == "solo para B"
    frames_b = [first_b, await next_frame(ws_b)]
    assert "solo para A" not in json.dumps(frames_b, ensure_ascii=False)

    # B resuming from 0 replays B's log only.
    ws_b2 = await open_socket(live_server, await login_cookie(live_server.base_url, b), after=0)
    assert (await next_frame(ws_b2))["type"] == "hello"
    replay = [await next_frame(ws_b2) for _ in range(2)]
    assert [f["seq"] for f in replay] == [1, 2]
    assert replay[0]["data"]["content"] == "solo para B"
    for ws in (ws_a, ws_b, ws_b2):
        await ws.close()


async def test_heartbeat_pings_reach_an_idle_socket(live_server: LiveServer, make_tenant: Any, app: Any) -> None:
    gateway = app.state.gateway
    t = await make_tenant("ws")
    ws = await open_socket(live_server, await login_cookie(live_server.base_url, t))
    await next_frame(ws)
    # Offer the heartbeat now rather than waiting 20 s for the timer.
    for sub in list(gateway.subscriptions):
        if sub.tenant_id == t.id:
            sub.offer({"type": "ping"})
    assert await next_frame(ws, skip_pings=False) == {"type": "ping"}
    await ws.send(json.dumps({"type": "pong"}))
    await ws.close()


async def test_a_bus_keeps_delivering_while_redis_is_away_and_recovers(tmp_path: Any) -> None:
    """Redis unreachable: local sockets still get every event and publishing never raises or
    waits; once Redis answers again, events reach the other processes again and the local
    sockets are told to look in the database for what they may have missed."""
    from tertulia.kit.bus import SYNC_MARKER, RedisBus

    server_binary = shutil.which("redis-server")
    if server_binary is None:
        pytest.skip("needs the redis-server program")
    with socket.socket() as probe:  # a port nobody listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url, channel = f"redis://127.0.0.1:{port}/0", f"test-{uuid.uuid4().hex}:events"
    here, there = RedisBus(url, channel), RedisBus(url, channel)
    await here.start()
    server = None
    try:
        tenant = uuid.uuid4()
        local = here.subscribe(tenant)
        await here.publish(tenant, [{"seq": 1, "type": "message.created", "data": {}}])
        assert local.get_nowait()["seq"] == 1
        await wait_for(lambda: here._outbox.empty(), "the sender to try Redis and fail")
        await here.publish(tenant, [{"seq": 2, "type": "message.created", "data": {}}])
        assert local.get_nowait()["seq"] == 2  # still delivered here while Redis is away

        server = await asyncio.create_subprocess_exec(
            server_binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path), stdout=asyncio.subprocess.DEVNULL)
        await there.start()
        remote = there.subscribe(tenant)
        await wait_for(lambda: here.subscribed.is_set() and there.subscribed.is_set(), "both buses to subscribe",
                       within=20)
        await wait_for(lambda: local.get_nowait() == SYNC_MARKER, "the resync marker after reconnecting")
        await here.publish(tenant, [{"seq": 3, "type": "message.created", "data": {}}])
        assert local.get_nowait()["seq"] == 3
        await wait_for(lambda: remote.get_nowait()["seq"] == 3, "the event through Redis")
    finally:
        await here.stop()
        await there.stop()
        if server is not None:
            server.terminate()
            await server.wait()


async def wait_for(check: Any, what: str, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if check():
                return
        except LookupError:  # an empty subscription
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_closed_socket_is_forgotten(live_server: LiveServer, make_tenant: Any, app: Any) -> None:
    t = await make_tenant("ws")
    ws = await open_socket(live_server, await login_cookie(live_server.base_url, t))
    await next_frame(ws)
    gateway = app.state.gateway
    assert any(s.tenant_id == t.id for s in gateway.subscriptions)
    await ws.close()
    try:
        async with asyncio.timeout(10):
            while True:
                if not any(s.tenant_id == t.id for s in gateway.subscriptions):
                    break
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError("the closed socket stayed subscribed") from None
