"""Typing both ways over real sockets: the visitor's typing reaches the panel's event socket as an
ephemeral frame (no `seq`, never in the event log, never replayed on resume), coalesced per
conversation; a person's typing reaches the widget, and only from the conversation's own tenant."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
from websockets.asyncio.client import connect

from tests.realtime.conftest import LiveServer, frames_until, login_cookie, open_socket
from tests.widget.conftest import SITE, WebChannel, create_web_channel
from tests.widget.test_socket import _session, _until, _url


def _typing_of(conv: str) -> Any:
    return lambda f: f.get("type") == "visitor.typing" and f["data"]["conversation_id"] == conv


async def _started_conversation(live_server: LiveServer, ch: WebChannel) -> tuple[dict[str, Any], str]:
    """A visitor's session whose first message made its conversation."""
    s = await _session(live_server.base_url, ch)
    async with connect(_url(live_server, ch, s["token"]), origin=SITE) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "send", "client_id": uuid.uuid4().hex, "text": "Hola"}))
        sent = (await _until(ws, lambda f: f["type"] == "sent"))[-1]
    return s, str(sent["conversation_id"])


async def _stored_types(client: httpx2.AsyncClient, ch: WebChannel) -> list[str]:
    events = (await client.get("/admin/events", headers=ch.tenant.headers, params={"limit": 1000})).json()
    return [e["type"] for e in events]


async def test_visitor_typing_reaches_the_panel_coalesced_and_never_stored(
        live_server: LiveServer, web_channel: WebChannel, client: httpx2.AsyncClient) -> None:
    s, conv = await _started_conversation(live_server, web_channel)
    cookie = await login_cookie(live_server.base_url, web_channel.tenant)
    panel = await open_socket(live_server, cookie)
    try:
        hello = json.loads(await panel.recv())
        assert hello["type"] == "hello"
        async with connect(_url(live_server, web_channel, s["token"]), origin=SITE) as ws:
            await ws.recv()
            # a burst of keystrokes (a page sending more than the widget's one per 3 s), then a stop
            for _ in range(5):
                await ws.send(json.dumps({"type": "typing", "on": True}))
            await ws.send(json.dumps({"type": "typing", "on": False}))
            frames = await frames_until(panel, lambda f: _typing_of(conv)(f) and f["data"]["on"] is False)
        typing = [f for f in frames if _typing_of(conv)(f)]
        assert [f["data"]["on"] for f in typing] == [True, False]  # one "on" of the five goes out
        assert all("seq" not in f for f in typing) and typing[0] == {
            "type": "visitor.typing", "data": {"conversation_id": conv, "on": True}}
        # the widget's HTTP fallback takes the same path
        async with httpx2.AsyncClient(base_url=live_server.base_url) as http:
            r = await http.post(f"/widget/{web_channel.id}/typing", json={"on": True},
                                headers={"Origin": SITE, "Authorization": f"Bearer {s['token']}"})
            assert r.status_code == 204
        # never an event row, so a resumed socket never replays it
        assert not [t for t in await _stored_types(client, web_channel) if "typing" in t]
        r = await client.post(f"/admin/chats/{conv}/notes", headers=web_channel.tenant.headers,
                              json={"content": "nota de cierre"})
        assert r.status_code < 300, r.text
        await frames_until(panel, lambda f: f.get("type") == "message.created"
                           and f["data"].get("content") == "nota de cierre")
    finally:
        await panel.close()
    resumed = await open_socket(live_server, cookie, after=hello["seq"])
    try:
        replayed = await frames_until(resumed, lambda f: f.get("type") == "message.created"
                                      and f["data"].get("content") == "nota de cierre")
        assert replayed[0]["type"] == "hello" and not [f for f in replayed if "typing" in f["type"]]
    finally:
        await resumed.close()


async def test_agent_typing_reaches_the_widget_from_its_own_tenant_only(
        live_server: LiveServer, web_channel: WebChannel, client: httpx2.AsyncClient, make_tenant: Any) -> None:
    s, conv = await _started_conversation(live_server, web_channel)
    other = await create_web_channel(client, await make_tenant("x"), assistant=False)
    async with connect(_url(live_server, web_channel, s["token"]), origin=SITE) as ws:
        await ws.recv()
        # another tenant's agent: the conversation does not exist for them
        r = await client.post(f"/admin/conversations/{conv}/typing", headers=other.tenant.headers, json={"on": True})
        assert r.status_code == 404 and r.json()["error"]["code"], r.text
        # three "on" (one goes out), "off", then typing again at once, twice (the first goes out)
        for on in (True, True, True, False, True, True):
            r = await client.post(f"/admin/conversations/{conv}/typing", headers=web_channel.tenant.headers,
                                  json={"on": on})
            assert r.status_code == 204
        r = await client.post(f"/admin/chats/{conv}/messages", headers=web_channel.tenant.headers,
                              json={"message": "Ya estoy aquí"})
        assert r.status_code < 300, r.text
        frames = await _until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "Ya estoy aquí")
        # the other tenant's attempt sent nothing
        assert [f["on"] for f in frames if f["type"] == "typing"] == [True, False, True]
        # with an API token there is no person to name
        assert {(f["who"], f.get("name")) for f in frames if f["type"] == "typing"} == {("agent", None)}
        # bad input is a 4xx, not a 500
        r = await client.post(f"/admin/conversations/{conv}/typing", headers=web_channel.tenant.headers,
                              json={"on": "maybe"})
        assert r.status_code == 422
        r = await client.post(f"/admin/conversations/{uuid.uuid4()}/typing", headers=web_channel.tenant.headers,
                              json={"on": True})
        assert r.status_code == 404
    assert not [t for t in await _stored_types(client, web_channel) if "typing" in t]


async def test_an_on_off_flood_is_capped(live_server: LiveServer, web_channel: WebChannel,
                                         client: httpx2.AsyncClient) -> None:
    s, conv = await _started_conversation(live_server, web_channel)
    async with connect(_url(live_server, web_channel, s["token"]), origin=SITE) as ws:
        await ws.recv()
        for n in range(12):
            r = await client.post(f"/admin/conversations/{conv}/typing", headers=web_channel.tenant.headers,
                                  json={"on": n % 2 == 0})
            assert r.status_code == 204
        r = await client.post(f"/admin/chats/{conv}/messages", headers=web_channel.tenant.headers,
                              json={"message": "Listo"})
        assert r.status_code < 300, r.text
        frames = await _until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "Listo")
    # each change of state would go out at once; four per 2 s do
    assert [f["on"] for f in frames if f["type"] == "typing"] == [True, False, True, False]
