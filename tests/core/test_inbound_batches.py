"""The inbound writer's batches: many deliveries in one transaction, each answered on its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx2
import pytest

from tertulia.conversations.inbound import InboundDelivery, InboundWriter, StoredMessage, ingest_batch
from tertulia.conversations.schemas import InboundMessage, InboundResult
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database
from tertulia.kit.errors import NotAuthenticated, NotFound
from tests.helpers import post_inbound


def _message(message_id: str, external_id: str, text: str, name: str | None = None) -> InboundMessage:
    contact: dict[str, Any] = {"external_id": external_id, **({"name": name} if name else {})}
    return InboundMessage.model_validate({"external_message_id": message_id, "contact": contact, "content": text})


async def _events(client: httpx2.AsyncClient, t: Any, after: int = 0) -> list[dict[str, Any]]:
    return (await client.get("/admin/events", params={"after": after, "limit": 1000}, headers=t.headers)).json()


async def test_one_batch_answers_each_delivery_on_its_own(client: httpx2.AsyncClient, make_tenant: Any,
                                                         db: Database) -> None:
    t = await make_tenant()
    stored_before = InboundResult.model_validate(
        (await post_inbound(client, t, "antes", external_id="ana", message_id="old-1")).json())
    head = (await _events(client, t))[-1]["seq"]
    disabled = (await client.post("/admin/channels", headers=t.headers,
                                  json={"kind": "api", "name": "Apagado"})).json()
    r = await client.patch(f"/admin/channels/{disabled['id']}", headers=t.headers, json={"enabled": False})
    assert r.status_code == 200, r.text
    token = hash_token(t.inbound_token)

    deliveries = [
        InboundDelivery(t.channel_id, _message("b-1", "ana", "uno"), token),
        InboundDelivery(t.channel_id, _message("b-2", "nuevo", "hola", name="Nuevo Cliente"), token),
        InboundDelivery(t.channel_id, _message("b-3", "ana", "dos"), token),
        InboundDelivery(t.channel_id, _message("b-1", "ana", "uno otra vez"), token),  # the same id again
        InboundDelivery(t.channel_id, _message("old-1", "ana", "repetido"), token),  # stored before
        InboundDelivery(t.channel_id, _message("b-4", "ana", "intruso"), hash_token("not-the-token")),
        InboundDelivery(uuid.UUID(disabled["id"]), _message("b-5", "ana", "apagado"), hash_token(
            disabled["inbound_token"])),
        InboundDelivery(t.channel_id, _message("b-6", "nuevo", "¿precio?"), token),
    ]
    async with db.session() as session:  # ingest_batch states the tenants itself
        results = await ingest_batch(session, deliveries)

    first, new_1, second, again, old, intruder, off, new_2 = results
    assert isinstance(first, InboundResult) and isinstance(second, InboundResult) and not first.duplicate
    assert first.conversation_id == second.conversation_id == stored_before.conversation_id
    assert first.message_id < second.message_id
    assert again == first.model_copy(update={"duplicate": True})
    assert old == stored_before.model_copy(update={"duplicate": True})
    assert isinstance(intruder, NotAuthenticated) and isinstance(off, NotFound)
    assert isinstance(new_1, InboundResult) and isinstance(new_2, InboundResult)
    assert new_1.conversation_id == new_2.conversation_id != first.conversation_id

    rows = {row["display_name"]: row for row in
            (await client.get("/admin/chats/summary", headers=t.headers)).json()}
    assert rows["Cliente"]["unread_count"] == 3 and rows["Cliente"]["last_message"] == "dos"
    assert rows["Nuevo Cliente"]["unread_count"] == 2 and rows["Nuevo Cliente"]["last_message"] == "¿precio?"
    texts = [m["content"] for m in (await client.get(f"/admin/chats/{first.conversation_id}/messages",
                                                     headers=t.headers)).json()]
    assert texts == ["antes", "uno", "dos"]

    # One message.created per stored message, one conversation.updated per conversation after its
    # last message, with the row as the batch left it; numbered without gaps.
    events = await _events(client, t, head)
    assert [e["seq"] for e in events] == list(range(head + 1, head + 1 + len(events)))
    assert [(e["type"], e["data"].get("content")) for e in events if e["type"] == "message.created"] == [
        ("message.created", "uno"), ("message.created", "hola"), ("message.created", "dos"),
        ("message.created", "¿precio?")]
    updates = [e for e in events if e["type"] == "conversation.updated"]
    assert sorted(u["data"]["unread_count"] for u in updates) == [2, 3]
    for update in updates:
        last_created = max(e["seq"] for e in events if e["type"] == "message.created"
                           and e["data"]["conversation_id"] == update["data"]["id"])
        assert update["seq"] > last_created


async def test_a_message_that_fails_its_batch_fails_alone(make_tenant: Any, db: Database) -> None:
    t = await make_tenant()

    async def refuse(session: Any, stored: list[StoredMessage]) -> None:
        if any(s.message.content == "rompe" for s in stored):
            raise RuntimeError("this message cannot be stored")

    writer = InboundWriter(db, after_store=[refuse], writers=1)
    await writer.start()
    token = hash_token(t.inbound_token)
    try:
        texts = [f"m{i}" for i in range(12)]
        texts[7] = "rompe"
        outcomes = await asyncio.gather(*[
            writer.submit(InboundDelivery(t.channel_id, _message(f"x-{i}", f"c{i % 3}", text), token))
            for i, text in enumerate(texts)], return_exceptions=True)
    finally:
        await writer.stop()
    assert isinstance(outcomes[7], RuntimeError)
    stored = [o for i, o in enumerate(outcomes) if i != 7]
    assert all(isinstance(o, InboundResult) and not o.duplicate for o in stored)
    assert len({o.message_id for o in stored if isinstance(o, InboundResult)}) == 11


async def test_a_stopped_writer_refuses_with_503(make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    writer = InboundWriter(db, writers=1)
    with pytest.raises(Exception) as refused:
        await writer.submit(InboundDelivery(t.channel_id, _message("z-1", "c", "hola"), hash_token(t.inbound_token)))
    assert getattr(refused.value, "status_code", None) == 503


async def test_the_conversation_row_carries_the_contacts_tags_once_each(client: httpx2.AsyncClient, make_tenant: Any,
                                                                        db: Database) -> None:
    # The tags come with the locked conversation (a row per identity and tag): a contact known by
    # two ids on the channel still shows each tag once, most recently applied first.
    t = await make_tenant()
    token = hash_token(t.inbound_token)
    first = InboundMessage.model_validate({"external_message_id": "t-1", "content": "hola",
                                           "contact": {"external_id": "34600111222", "aliases": ["bsuid-ana"]}})
    async with db.session() as session:
        stored = (await ingest_batch(session, [InboundDelivery(t.channel_id, first, token)]))[0]
    assert isinstance(stored, InboundResult)
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    tags = [(await client.post("/admin/tags", headers=t.headers, json={"name": name})).json()
            for name in ("Mayorista", "Urgente")]
    for tag in tags:
        r = await client.put(f"/admin/contacts/{row['contact_id']}/tags/{tag['id']}", headers=t.headers)
        assert r.status_code == 200, r.text
    head = (await _events(client, t))[-1]["seq"]

    async with db.session() as session:
        await ingest_batch(session, [
            InboundDelivery(t.channel_id, InboundMessage.model_validate(
                {"external_message_id": "t-2", "content": "¿sigue?",
                 "contact": {"external_id": "34600111222", "aliases": ["bsuid-ana"]}}), token),
            InboundDelivery(t.channel_id, _message("t-3", "otro", "sin etiquetas"), token)])

    updates = {e["data"]["id"]: e["data"] for e in await _events(client, t, head) if e["type"] == "conversation.updated"}
    assert [x["name"] for x in updates[str(stored.conversation_id)]["tags"]] == ["Urgente", "Mayorista"]
    assert [tags_of["tags"] for cid, tags_of in updates.items() if cid != str(stored.conversation_id)] == [[]]
