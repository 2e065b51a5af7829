"""What the chat's banners say: an assistant answers only when an enabled one is linked to the
conversation's enabled channel, and a channel that cannot deliver says why."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import select, update

from tertulia.channels.models import Channel
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import Database
from tests.helpers import post_inbound


async def _answering(client: httpx2.AsyncClient, t: Any, conversation_id: str) -> dict[str, Any]:
    r = await client.get(f"/admin/chats/{conversation_id}/answering", headers=t.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_ai_answers_only_with_an_enabled_assistant_on_an_enabled_channel(
        client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    assert (await post_inbound(client, t, "hola", external_id="c1")).status_code == 202
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["id"]
    assert await _answering(client, t, conv) == {
        "ai_answers": False, "assistant": None, "ai_missing": "no_assistant", "delivery": "ok",
        "delivery_reason": None, "delivery_code": None, "next_attempt_at": None, "waiting": 0}

    nora = (await client.post("/admin/assistants", headers=t.headers, json={"name": "Nora"})).json()
    linked = await client.patch(f"/admin/channels/{t.channel_id}", headers=t.headers, json={"assistant_id": nora["id"]})
    assert linked.status_code == 200, linked.text
    state = await _answering(client, t, conv)
    assert (state["ai_answers"], state["assistant"], state["ai_missing"]) == (
        True, {"id": nora["id"], "name": "Nora"}, None)

    assert (await client.patch(f"/admin/assistants/{nora['id']}", headers=t.headers,
                               json={"enabled": False})).status_code == 200
    assert (await _answering(client, t, conv))["ai_missing"] == "assistant_disabled"
    assert (await client.patch(f"/admin/channels/{t.channel_id}", headers=t.headers,
                               json={"enabled": False})).status_code == 200
    state = await _answering(client, t, conv)
    assert (state["ai_answers"], state["ai_missing"], state["delivery"]) == (False, "channel_disabled", "disabled")

    other = await make_tenant()
    assert (await client.get(f"/admin/chats/{conv}/answering", headers=other.headers)).status_code == 404


async def test_a_channel_that_cannot_deliver_says_why(client: httpx2.AsyncClient, make_tenant: Any,
                                                      db: Database) -> None:
    t = await make_tenant()
    assert (await post_inbound(client, t, "hola", external_id="c1")).status_code == 202
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["id"]
    sent = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={"message": "¿Sigue ahí?"})
    assert sent.status_code == 202, sent.text
    for _ in range(200):  # the worker's own attempt ends first (it would overwrite what is set below)
        async with db.session(t.id) as session:
            held = (await session.execute(select(OutboundDelivery.state, OutboundDelivery.lease_token).where(
                OutboundDelivery.conversation_id == uuid.UUID(conv)))).one()
        if held.state not in ("pending", "sending") and held.lease_token is None:
            break
        await asyncio.sleep(0.02)

    async with db.session(t.id) as session:  # what the worker records when a send fails
        await session.execute(update(OutboundDelivery).where(OutboundDelivery.conversation_id == uuid.UUID(conv)).values(
            state="pending", attempts=2, last_error="http_503: the provider answered 503",
            next_attempt_at=datetime.now(UTC) + timedelta(hours=1)))
    state = await _answering(client, t, conv)
    assert (state["delivery"], state["delivery_reason"], state["delivery_code"], state["waiting"]) == (
        "retrying", "http_503: the provider answered 503", "http_503", 1)
    assert state["next_attempt_at"] is not None

    async with db.session(t.id) as session:  # the provider refused the credentials
        await session.execute(update(Channel).where(Channel.id == t.channel_id).values(
            status="attention", status_reason="the access token was rejected (401)"))
        await session.execute(update(OutboundDelivery).where(OutboundDelivery.conversation_id == uuid.UUID(conv))
                              .values(state="paused"))
    state = await _answering(client, t, conv)
    assert (state["delivery"], state["delivery_reason"], state["delivery_code"]) == (
        "paused", "the access token was rejected (401)", "channel_attention")
