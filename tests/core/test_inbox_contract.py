"""The seed 001 contracts: field names and types of the inbox list, messages, send and override."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx2

from tests.helpers import TenantCtx, post_inbound

SUMMARY_FIELDS = {
    "id": str, "customer_phone": str, "display_name": str, "last_message": str, "timestamp": str,
    "channel_source": str, "unread_count": int, "is_locked": bool, "platform_origin": str,
}
OUR_SUMMARY_FIELDS = {"contact_id", "channel_id", "status", "tags", "last_inbound_at", "window_open_until", "match"}
MESSAGE_FIELDS = {"id": int, "conversation_id": str, "sender": str, "content": str, "timestamp": str}


def _iso_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return parsed


async def test_summary_has_exactly_the_seed_fields(client: httpx2.AsyncClient, make_tenant) -> None:
    t: TenantCtx = await make_tenant()
    r = await post_inbound(client, t, "Hola, ¿abren mañana?", external_id="c1", name="Lucía", phone="+5215512345678")
    assert r.status_code == 202, r.text
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert set(row) == set(SUMMARY_FIELDS) | OUR_SUMMARY_FIELDS
    for name, typ in SUMMARY_FIELDS.items():
        assert isinstance(row[name], typ), name
    uuid.UUID(row["id"])
    _iso_utc(row["timestamp"])
    assert row["customer_phone"] == "+5215512345678"
    assert row["display_name"] == "Lucía"
    assert row["last_message"] == "Hola, ¿abren mañana?"
    assert row["channel_source"] == "api"
    assert row["unread_count"] == 1
    assert row["is_locked"] is False
    assert row["platform_origin"] == "api-test" and row["channel_id"] == str(t.channel_id)
    assert row["status"] == "open" and row["tags"] == []


async def test_messages_contract_and_delta_sync(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    for i in range(5):
        await post_inbound(client, t, f"mensaje {i}", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["id"]
    sent = await client.post("/admin/whatsapp/send", headers=t.headers,
                             json={"conversation_id": conv, "message": "Hola, soy Ana", "channel_source": "api"})
    assert sent.status_code == 202, sent.text
    msgs = (await client.get(f"/admin/chats/{conv}/messages", headers=t.headers)).json()
    assert [m["content"] for m in msgs] == [f"mensaje {i}" for i in range(5)] + ["Hola, soy Ana"]
    for m in msgs:
        for name, typ in MESSAGE_FIELDS.items():
            assert isinstance(m[name], typ), name
        assert m["conversation_id"] == conv
        _iso_utc(m["timestamp"])
    assert [m["sender"] for m in msgs] == ["user"] * 5 + ["agent"]
    assert [m["author"] for m in msgs] == ["contact"] * 5 + ["human"]
    assert msgs[-1]["status"] in ("queued", "sent")  # the delivery worker may have sent it already
    ids = [m["id"] for m in msgs]
    assert ids == sorted(ids)

    delta = (await client.get(f"/admin/chats/{conv}/messages", params={"after_id": ids[3]}, headers=t.headers)).json()
    assert [m["id"] for m in delta] == ids[4:]
    # 0 is "after nothing": a client starting a delta sync gets every message (the README's example)
    everything = (await client.get(f"/admin/chats/{conv}/messages", params={"after_id": 0}, headers=t.headers)).json()
    assert [m["id"] for m in everything] == ids
    assert (await client.get(f"/admin/chats/{conv}/messages", params={"after_id": ids[-1]},
                             headers=t.headers)).json() == []
    back = (await client.get(f"/admin/chats/{conv}/messages", params={"before_id": ids[3], "limit": 2},
                             headers=t.headers)).json()
    assert [m["id"] for m in back] == ids[1:3]


async def test_default_message_page_is_latest_fifty(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    for i in range(55):
        await post_inbound(client, t, f"m{i}", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["id"]
    msgs = (await client.get(f"/admin/chats/{conv}/messages", headers=t.headers)).json()
    assert len(msgs) == 50
    assert msgs[0]["content"] == "m5" and msgs[-1]["content"] == "m54"


async def test_attachments_round_trip(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    atts = [{"type": "image", "url": "https://cdn.example.com/a.jpg", "mime_type": "image/jpeg"},
            {"type": "document", "url": "https://cdn.example.com/f.pdf", "filename": "factura.pdf"}]
    r = await post_inbound(client, t, "", external_id="c1", attachments=atts)
    assert r.status_code == 202, r.text
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["last_message"] == "📷 Imagen"
    msgs = (await client.get(f"/admin/chats/{row['id']}/messages", headers=t.headers)).json()
    assert msgs[0]["attachments"] == atts
    bad = await post_inbound(client, t, "x", external_id="c1", attachments=[{"type": "sticker", "url": "https://x"}])
    assert bad.status_code == 422


async def test_send_takes_over_and_validates(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["id"]

    mismatch = await client.post("/admin/whatsapp/send", headers=t.headers,
                                 json={"conversation_id": conv, "message": "hola", "channel_source": "whatsapp"})
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["code"] == "channel_mismatch"
    for text in ("", "   ", "x" * 4097):
        r = await client.post("/admin/whatsapp/send", headers=t.headers,
                              json={"conversation_id": conv, "message": text, "channel_source": "api"})
        assert r.status_code == 422, text
        assert r.json()["error"]["code"] == "validation_error"
    # nothing was stored by the rejected sends
    assert len((await client.get(f"/admin/chats/{conv}/messages", headers=t.headers)).json()) == 1

    ok = await client.post("/admin/whatsapp/send", headers=t.headers,
                           json={"conversation_id": conv, "message": "Te atiendo yo", "channel_source": "api"})
    body = ok.json()
    assert ok.status_code == 202 and body["is_locked"] is True and body["status"] == "queued"
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["is_locked"] is True and row["last_message"] == "Te atiendo yo" and row["unread_count"] == 0

    alias = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={"message": "¿Algo más?"})
    assert alias.status_code == 202 and alias.json()["message"]["author"] == "human"


async def test_human_override_and_read(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "uno", external_id="c1")
    await post_inbound(client, t, "dos", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert conv["unread_count"] == 2
    r = await client.post(f"/admin/conversations/{conv['id']}/human-override", headers=t.headers, json={"locked": True})
    assert r.json() == {"locked": True}
    only_human = (await client.get("/admin/chats/summary", params={"human_filter": "human_only"}, headers=t.headers)).json()
    assert [c["id"] for c in only_human] == [conv["id"]]
    assert (await client.get("/admin/chats/summary", params={"human_filter": "bot_only"}, headers=t.headers)).json() == []
    r = await client.post(f"/admin/conversations/{conv['id']}/human-override", headers=t.headers, json={"locked": False})
    assert r.json() == {"locked": False}
    read = await client.post(f"/admin/chats/{conv['id']}/read", headers=t.headers)
    assert read.json()["unread_count"] == 0
    assert (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["unread_count"] == 0


async def test_inbound_idempotent_and_needs_its_token(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    first = await post_inbound(client, t, "hola", external_id="c1", message_id="ext-1")
    again = await post_inbound(client, t, "hola otra vez", external_id="c1", message_id="ext-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert first.json()["message_id"] == again.json()["message_id"]
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert conv["unread_count"] == 1
    msgs = (await client.get(f"/admin/chats/{conv['id']}/messages", headers=t.headers)).json()
    assert [m["content"] for m in msgs] == ["hola"]

    other = await make_tenant()
    wrong = await client.post(f"/api/v1/inbound/{t.channel_id}", headers=other.inbound_headers,
                              json={"external_message_id": "x", "contact": {"external_id": "c"}, "content": "x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"
    missing = await client.post(f"/api/v1/inbound/{t.channel_id}",
                                json={"external_message_id": "x", "contact": {"external_id": "c"}, "content": "x"})
    assert missing.status_code == 401


async def test_list_rows_are_the_summary_model(client: httpx2.AsyncClient, make_tenant) -> None:
    """The list writes its rows from plain values (service.summary_fields), the single chat through
    the ChatSummary model: the same JSON, key for key and in the same order, timestamps included."""
    t = await make_tenant()
    await post_inbound(client, t, "Sin teléfono", external_id="c1", name="Ana")
    await post_inbound(client, t, "Con etiquetas", external_id="c2", name="Luis", phone="+34612345678")
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    tagged = next(r for r in rows if r["display_name"] == "Luis")
    for name, color in (("VIP", "#22c55e"), ("Mayorista", "#0ea5e9")):
        tag = (await client.post("/admin/tags", headers=t.headers, json={"name": name, "color": color})).json()
        r = await client.put(f"/admin/contacts/{tagged['contact_id']}/tags/{tag['id']}", headers=t.headers)
        assert r.status_code < 300, r.text
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert [len(r["tags"]) for r in rows] == [2, 0] and rows[0]["customer_phone"] == "+34612345678"
    for row in rows:
        one = (await client.get(f"/admin/chats/{row['id']}", headers=t.headers)).json()
        assert list(row.items()) == list(one.items())
