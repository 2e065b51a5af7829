"""The visitor socket over real TCP: hello and resume, a message through the inbound path, the
AI's reply streamed in deltas then posted, a person's reply live, typing, delivered and read."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.conftest import LiveServer
from tests.widget.conftest import SITE, WebChannel


async def _session(base: str, ch: WebChannel, **body: Any) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=base) as http:
        r = await http.post(f"/widget/{ch.id}/session", json=body, headers={"Origin": SITE})
        assert r.status_code == 200, r.text
        return dict(r.json())


def _url(server: LiveServer, ch: WebChannel, token: str, after: int | None = None) -> str:
    url = f"ws{server.base_url.removeprefix('http')}/widget/{ch.id}/socket?token={token}"
    return url + (f"&after={after}" if after is not None else "")


async def _until(ws: ClientConnection, want: Any, seconds: float = 10.0) -> list[dict[str, Any]]:
    """Frames until one satisfies `want` (that one last)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no such frame; saw {[f.get('type') for f in seen]}"
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        seen.append(frame)
        if want(frame):
            return seen


async def test_visitor_writes_ai_streams_human_answers_live(live_server: LiveServer, web_channel: WebChannel,
                                                            client: httpx2.AsyncClient) -> None:
    s = await _session(live_server.base_url, web_channel)
    async with connect(_url(live_server, web_channel, s["token"]), origin=SITE) as ws:
        hello = json.loads(await ws.recv())
        assert hello == {"type": "hello", "conversation_id": None, "messages": []}
        await ws.send(json.dumps({"type": "send", "client_id": uuid.uuid4().hex, "text": "Hola"}))
        frames = await _until(ws, lambda f: f["type"] == "message" and f["message"]["by"] == "ai")
        sent = next(f for f in frames if f["type"] == "sent")
        assert sent["message"]["text"] == "Hola" and sent["duplicate"] is False
        deltas = [f for f in frames if f["type"] == "ai_delta"]
        reply = frames[-1]["message"]
        assert len(deltas) > 2 and "".join(d["text"] for d in deltas) == reply["text"]
        assert {d["turn"] for d in deltas} == {reply["turn"]} and "Nora" in reply["text"]
        assert [f["type"] for f in frames].index("ai_delta") < len(frames) - 1
        # pushed to a connected visitor: delivered; the widget reports it seen: read
        await _until(ws, lambda f: f["type"] == "message" and f["message"]["id"] == reply["id"]
                     and f["message"]["status"] == "delivered")
        await ws.send(json.dumps({"type": "read", "up_to": reply["id"]}))
        await _until(ws, lambda f: f["type"] == "message" and f["message"]["id"] == reply["id"]
                     and f["message"]["status"] == "read")
        conv = sent["conversation_id"]
        # a person takes over in the inbox: typing, then the reply, live
        t = web_channel.tenant
        r = await client.post(f"/admin/conversations/{conv}/typing", headers=t.headers, json={"on": True})
        assert r.status_code == 204
        await _until(ws, lambda f: f["type"] == "typing" and f["who"] == "agent")
        r = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={"message": "Soy Marta, te ayudo"})
        assert r.status_code < 300, r.text
        frames = await _until(ws, lambda f: f["type"] == "message" and f["message"]["by"] == "agent")
        assert frames[-1]["message"]["text"] == "Soy Marta, te ayudo"
        last_id = frames[-1]["message"]["id"]
    # resume: a reconnect with after= gets only what came later
    async with connect(_url(live_server, web_channel, s["token"], after=last_id), origin=SITE) as ws:
        hello = json.loads(await ws.recv())
        assert hello["conversation_id"] == conv and hello["messages"] == []
    async with connect(_url(live_server, web_channel, s["token"]), origin=SITE) as ws:
        hello = json.loads(await ws.recv())
        assert [m["text"] for m in hello["messages"]][-1] == "Soy Marta, te ayudo"
        assert hello["messages"][0]["text"] == "Hola"


async def test_socket_refuses_bad_origin_and_token(live_server: LiveServer, web_channel: WebChannel) -> None:
    s = await _session(live_server.base_url, web_channel)
    for origin, token, code in (("https://evil.example.test", s["token"], 4403), (SITE, "wvt1.x.y", 4401),
                                (None, s["token"], 4403)):
        kwargs = {"origin": origin} if origin else {}
        async with connect(_url(live_server, web_channel, token), **kwargs) as ws:
            frame = json.loads(await ws.recv())
            assert frame["type"] == "error"
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == code
            else:
                raise AssertionError("the socket stayed open")
