"""Contacts and tags: validation, case-insensitive tag names, events for every change."""

from __future__ import annotations

import httpx2

from tests.helpers import post_inbound


async def _contact(client: httpx2.AsyncClient, t) -> dict:
    await post_inbound(client, t, "hola", external_id="wa-1", name="Lucía")
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    return (await client.get(f"/admin/contacts/{row['contact_id']}", headers=t.headers)).json()


async def _events(client: httpx2.AsyncClient, t, after: int) -> list[dict]:
    return (await client.get("/admin/events", params={"after": after}, headers=t.headers)).json()


async def test_edit_contact_with_validation(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    contact = await _contact(client, t)
    assert contact["identities"][0]["external_id"] == "wa-1"
    head = (await _events(client, t, 0))[-1]["seq"]
    r = await client.patch(f"/admin/contacts/{contact['id']}", headers=t.headers,
                           json={"display_name": "  Lucía Pérez ", "phone": "+525512345678", "notes": "Prefiere tarde"})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Lucía Pérez" and r.json()["phone"] == "+525512345678"
    events = await _events(client, t, head)
    assert [e["type"] for e in events] == ["contact.updated"]
    assert events[0]["data"]["notes"] == "Prefiere tarde"

    for bad in ("5512345678", "+12", "+999999999999999999", "+52 55 1234", "hola"):
        resp = await client.patch(f"/admin/contacts/{contact['id']}", headers=t.headers, json={"phone": bad})
        assert resp.status_code == 422, bad
        assert resp.json()["error"]["details"][0]["field"] == "phone"
    blank = await client.patch(f"/admin/contacts/{contact['id']}", headers=t.headers, json={"display_name": "  "})
    assert blank.status_code == 422
    unchanged = (await client.get(f"/admin/contacts/{contact['id']}", headers=t.headers)).json()
    assert unchanged["phone"] == "+525512345678" and unchanged["display_name"] == "Lucía Pérez"
    cleared = await client.patch(f"/admin/contacts/{contact['id']}", headers=t.headers, json={"phone": None})
    assert cleared.json()["phone"] is None
    found = (await client.get("/admin/contacts", params={"q": "pérez"}, headers=t.headers)).json()
    assert [c["id"] for c in found] == [contact["id"]]


async def test_tags_lifecycle(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    contact = await _contact(client, t)
    created = await client.post("/admin/tags", headers=t.headers, json={"name": "Mayorista", "color": "#22C55E"})
    assert created.status_code == 201 and created.json()["color"] == "#22c55e"
    tag = created.json()
    dup = await client.post("/admin/tags", headers=t.headers, json={"name": "MAYORISTA"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "duplicate_tag"
    other = (await client.post("/admin/tags", headers=t.headers, json={"name": "Otro"})).json()
    clash = await client.patch(f"/admin/tags/{other['id']}", headers=t.headers, json={"name": "mayorista"})
    assert clash.status_code == 409

    applied = await client.put(f"/admin/contacts/{contact['id']}/tags/{tag['id']}", headers=t.headers)
    assert [x["name"] for x in applied.json()["tags"]] == ["Mayorista"]
    again = await client.put(f"/admin/contacts/{contact['id']}/tags/{tag['id']}", headers=t.headers)
    assert [x["name"] for x in again.json()["tags"]] == ["Mayorista"]  # idempotent
    renamed = await client.patch(f"/admin/tags/{tag['id']}", headers=t.headers, json={"name": "Mayoreo", "color": "#0ea5e9"})
    assert renamed.json() == {"id": tag["id"], "name": "Mayoreo", "color": "#0ea5e9"}
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["tags"] == [renamed.json()]
    removed = await client.delete(f"/admin/contacts/{contact['id']}/tags/{tag['id']}", headers=t.headers)
    assert removed.json()["tags"] == []
    await client.put(f"/admin/contacts/{contact['id']}/tags/{tag['id']}", headers=t.headers)
    assert (await client.delete(f"/admin/tags/{tag['id']}", headers=t.headers)).status_code == 204
    assert (await client.get(f"/admin/contacts/{contact['id']}", headers=t.headers)).json()["tags"] == []
    assert [x["name"] for x in (await client.get("/admin/tags", headers=t.headers)).json()] == ["Otro"]
    types = [e["type"] for e in await _events(client, t, 0)]
    assert types.count("tag.created") == 2 and "tag.updated" in types and types[-1] == "tag.deleted"
    assert types.count("contact.updated") == 4


async def test_inbound_fills_in_what_a_contact_lacks_and_keeps_what_an_agent_typed(client: httpx2.AsyncClient,
                                                                                   make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="wa-7", name=None)
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["display_name"] == "wa-7" and row["customer_phone"] == ""
    head = (await _events(client, t, 0))[-1]["seq"]
    await post_inbound(client, t, "soy Ana", external_id="wa-7", name="Ana", phone="+525512345678")
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["display_name"] == "Ana" and row["customer_phone"] == "+525512345678"
    updated = [e for e in await _events(client, t, head) if e["type"] == "conversation.updated"]
    assert updated[-1]["data"]["display_name"] == "Ana"

    await client.patch(f"/admin/contacts/{row['contact_id']}", headers=t.headers, json={"display_name": "Ana López"})
    await post_inbound(client, t, "otra vez", external_id="wa-7", name="Anita", phone="+34911222333")
    contact = (await client.get(f"/admin/contacts/{row['contact_id']}", headers=t.headers)).json()
    assert contact["display_name"] == "Ana López" and contact["phone"] == "+525512345678"
    assert contact["last_seen_at"] is not None
