"""Races the database must settle: duplicate deliveries of one message and concurrent event writers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
from sqlalchemy import func, select

from tertulia.contacts.models import Contact
from tertulia.conversations.inbound import InboundDelivery, InboundWriter
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.schemas import InboundMessage
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database
from tests.helpers import post_inbound


async def test_two_writers_store_one_delivery_once(make_tenant: Any, db: Database) -> None:
    """Each writer stores its own batch in its own transaction, so nothing in Python sees both
    copies: the database's unique key on (channel, provider message id) decides, on SQLite (whose
    writers take turns) and on PostgreSQL (whose writers race). New customers too: their identity's
    unique key decides who creates them."""
    t = await make_tenant()
    token = hash_token(t.inbound_token)
    writers = [InboundWriter(db, writers=1), InboundWriter(db, writers=1)]
    for writer in writers:
        await writer.start()
    try:
        def delivery(message_id: str, sender: str) -> InboundDelivery:
            body = InboundMessage.model_validate({"external_message_id": message_id, "content": message_id,
                                                  "contact": {"external_id": sender}})
            return InboundDelivery(t.channel_id, body, token)

        # Every message goes to both writers at once; each writer's batch holds one copy of each.
        posts = [writer.submit(delivery(f"m{i}", f"c{i % 4}")) for i in range(12) for writer in writers]
        results = await asyncio.gather(*posts)
    finally:
        for writer in writers:
            await writer.stop()
    by_message: dict[int, list[bool]] = {}
    for result in results:
        by_message.setdefault(result.message_id, []).append(result.duplicate)
    assert len(by_message) == 12 and all(sorted(d) == [False, True] for d in by_message.values())
    async with db.read_session(t.id) as session:
        counts = [(await session.execute(select(func.count()).select_from(model).where(model.tenant_id == t.id)))
                  .scalar_one() for model in (Message, Conversation, Contact)]
        unread = sorted((await session.execute(select(Conversation.unread_count).where(
            Conversation.tenant_id == t.id))).scalars())
    assert counts == [12, 4, 4] and unread == [3, 3, 3, 3]


async def test_fifty_identical_inbound_posts_make_one_message(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    responses = await asyncio.gather(*[
        post_inbound(client, t, "¿tienen stock?", external_id="racer", message_id="same-id") for _ in range(50)])
    assert all(r.status_code == 202 for r in responses), {r.status_code for r in responses}
    bodies = [r.json() for r in responses]
    assert sum(1 for b in bodies if not b["duplicate"]) == 1
    assert len({b["message_id"] for b in bodies}) == 1
    assert len({b["conversation_id"] for b in bodies}) == 1
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert len(rows) == 1 and rows[0]["unread_count"] == 1
    msgs = (await client.get(f"/admin/chats/{rows[0]['id']}/messages", headers=t.headers)).json()
    assert len(msgs) == 1
    contacts = (await client.get("/admin/contacts", headers=t.headers)).json()
    assert len(contacts) == 1


async def test_concurrent_writers_make_a_gapless_event_sequence(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    other = await make_tenant()
    jobs = [post_inbound(client, t, f"hola {i}", external_id=f"c{i % 7}") for i in range(40)]
    jobs += [client.post("/admin/tags", headers=t.headers, json={"name": f"tag {i}"}) for i in range(10)]
    jobs += [post_inbound(client, other, f"otro {i}", external_id="o") for i in range(10)]
    results = await asyncio.gather(*jobs)
    assert all(r.status_code in (201, 202) for r in results)
    events = (await client.get("/admin/events", params={"after": 0, "limit": 1000}, headers=t.headers)).json()
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    # Every inbound message makes message.created; each conversation a conversation.updated after
    # the last of its messages that were stored together (one per message when each was alone).
    created = [e for e in events if e["type"] == "message.created"]
    updated = [e for e in events if e["type"] == "conversation.updated"]
    assert len(created) == 40 and 7 <= len(updated) <= 40
    assert sum(1 for e in events if e["type"] == "tag.created") == 10
    last_created = {e["data"]["conversation_id"]: e["seq"] for e in created}
    last_updated = {e["data"]["id"]: e["seq"] for e in updated}
    assert last_updated.keys() == last_created.keys()
    assert all(last_updated[c] > seq for c, seq in last_created.items())
    tail = (await client.get("/admin/events", params={"after": len(events) - 5}, headers=t.headers)).json()
    assert [e["seq"] for e in tail] == seqs[-5:]
    other_events = (await client.get("/admin/events", headers=other.headers)).json()
    assert [e["seq"] for e in other_events] == list(range(1, len(other_events) + 1))
    assert sum(1 for e in other_events if e["type"] == "message.created") == 10


async def test_concurrent_messages_keep_counters_exact(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await asyncio.gather(*[post_inbound(client, t, f"m{i}", external_id="same") for i in range(30)])
    row = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert row["unread_count"] == 30
    msgs = (await client.get(f"/admin/chats/{row['id']}/messages", headers=t.headers)).json()
    assert len(msgs) == 30
    assert row["last_message"] == msgs[-1]["content"]


async def test_concurrent_first_messages_of_a_new_contact_create_it_once(client: httpx2.AsyncClient,
                                                                         make_tenant) -> None:
    t = await make_tenant()
    results = await asyncio.gather(*[
        post_inbound(client, t, f"hola {i}", external_id="nuevo", message_id=f"m{i}") for i in range(20)])
    assert all(r.status_code == 202 and not r.json()["duplicate"] for r in results)
    assert len({r.json()["conversation_id"] for r in results}) == 1
    assert len((await client.get("/admin/contacts", headers=t.headers)).json()) == 1
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert len(rows) == 1 and rows[0]["unread_count"] == 20
    events = (await client.get("/admin/events", params={"after": 0, "limit": 1000}, headers=t.headers)).json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(1 for e in events if e["type"] == "message.created") == 20

    # A repeated delivery changes nothing, even when it names another contact.
    again = await post_inbound(client, t, "otra vez", external_id="otro", message_id="m3")
    assert again.json() == {**results[3].json(), "duplicate": True}
    assert len((await client.get("/admin/contacts", headers=t.headers)).json()) == 1
    assert (await client.get("/admin/chats/summary", headers=t.headers)).json() == rows
    assert (await client.get("/admin/events", params={"after": len(events)}, headers=t.headers)).json() == []
