"""Private notes: the team's own words in a conversation, shown live to every agent, never a reply."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.helpers import post_inbound


async def _events(client: httpx2.AsyncClient, t: Any, after: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (await client.get("/admin/events", params={"after": after, "limit": 1000},
                                                     headers=t.headers)).json()
    return events


async def test_a_note_is_shown_to_the_team_live_and_is_no_reply(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant("notes")
    conv = (await post_inbound(client, t, "¿Me facturan el pedido?")).json()["conversation_id"]
    before = (await client.get(f"/admin/chats/{conv}", headers=t.headers)).json()
    head = (await _events(client, t, 0))[-1]["seq"]

    r = await client.post(f"/admin/chats/{conv}/notes", headers=t.headers,
                          json={"content": "  Pidió factura: enviarla el lunes.  "})
    assert r.status_code == 201, r.text
    note = r.json()
    assert (note["kind"], note["author"], note["status"], note["content"]) == (
        "note", "human", "note", "Pidió factura: enviarla el lunes.")

    # Other agents get it as they get messages: a `message.created` event; nothing else moved.
    events = await _events(client, t, head)
    assert [e["type"] for e in events] == ["message.created"] and events[0]["data"]["id"] == note["id"]
    after = (await client.get(f"/admin/chats/{conv}", headers=t.headers)).json()
    assert after["is_locked"] is False  # the AI keeps the conversation
    assert (after["last_message"], after["timestamp"], after["unread_count"]) == (
        before["last_message"], before["timestamp"], before["unread_count"])
    shown = (await client.get(f"/admin/chats/{conv}/messages", headers=t.headers)).json()
    assert [m["kind"] for m in shown] == ["text", "note"]


async def test_bad_notes_are_refused_with_reasons(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant("notes-bad")
    conv = (await post_inbound(client, t, "hola")).json()["conversation_id"]
    for body in ({"content": "   "}, {}, {"content": "x" * 4097}):
        r = await client.post(f"/admin/chats/{conv}/notes", headers=t.headers, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == "content"
    r = await client.post("/admin/chats/00000000-0000-0000-0000-000000000000/notes", headers=t.headers,
                          json={"content": "hola"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
