"""What the providers say about the business's side: delivery statuses of what it sent (in order, out
of order, before the send's own answer was stored), echoes of what it wrote from its phone, and
template reviews."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from tertulia.channels.models import MessageTemplate
from tertulia.conversations.models import Message, PendingStatus
from tertulia.conversations.service import add_outbound_message, lock_conversation
from tertulia.conversations.statuses import take_pending_statuses
from tertulia.kit.db import Database, tenant_select
from tertulia.sandbox.server import SandboxServer
from tests.channels.conftest import Connected, connect, conversation_of, customer_writes, events_of, messages_of
from tests.realtime.conftest import LiveServer

PROVIDERS = ["whatsapp_cloud", "ycloud"]


async def send_through_provider(sandbox: SandboxServer, ch: Connected, text: str) -> dict[str, str]:
    """What the delivery worker does: the provider's send API; answers the ids it gave the message."""
    async with httpx2.AsyncClient(timeout=10) as api:
        if ch.kind == "whatsapp_cloud":
            response = await api.post(
                f"{sandbox.graph_url}/{ch.credentials['phone_number_id']}/messages",
                headers={"Authorization": f"Bearer {ch.credentials['access_token']}"},
                json={"messaging_product": "whatsapp", "to": ch.customer, "type": "text", "text": {"body": text}})
            assert response.status_code == 200, response.text
            return {"wamid": response.json()["messages"][0]["id"]}
        response = await api.post(f"{sandbox.ycloud_url}/whatsapp/messages/sendDirectly",
                                  headers={"X-API-Key": ch.credentials["api_key"]},
                                  json={"from": ch.credentials["phone_number"], "to": ch.customer, "type": "text",
                                        "text": {"body": text}})
        assert response.status_code == 200, response.text
        return {"wamid": response.json()["wamid"], "ycloud_id": response.json()["id"]}


async def store_sent(db: Database, ch: Connected, conversation_id: str, text: str, provider_id: str) -> int:
    """Our side of the send: the outbound message, as the delivery worker leaves it."""
    async with db.session(ch.tenant.id) as session:
        conv = await lock_conversation(session, ch.tenant.id, uuid.UUID(conversation_id))
        message = await add_outbound_message(session, conv, author="ai", content=text, deliver=False)
        message.status, message.provider_message_id = "queued", provider_id
        await take_pending_statuses(session, message)
        return message.id


async def emit(http: httpx2.AsyncClient, message_id: str, status: str, error_code: str | None = None) -> None:
    response = await http.post("/_sandbox/statuses", json={"message_id": message_id, "status": status,
                                                           "error_code": error_code})
    assert response.status_code == 200, response.text
    assert [a["status"] for a in response.json()["delivery"]["attempts"]] == [200]


async def shown(client: httpx2.AsyncClient, ch: Connected, message_id: int) -> dict[str, Any]:
    return next(m for m in await messages_of(client, ch) if m["id"] == message_id)


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_statuses_move_a_message_forward_only_whatever_their_order(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        sandbox: SandboxServer, db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    await customer_writes(http, ch, text="¿Tienen mesa?")
    conv = await conversation_of(client, ch)

    ids = await send_through_provider(sandbox, ch, "Sí, a las nueve")
    ours = await store_sent(db, ch, conv["id"], "Sí, a las nueve", ids["wamid"])
    await emit(http, ids["wamid"], "sent")
    assert (await shown(client, ch, ours))["status"] == "sent"
    await emit(http, ids["wamid"], "read")
    await emit(http, ids["wamid"], "delivered")  # late: read never goes back to delivered
    message = await shown(client, ch, ours)
    assert message["status"] == "read" and message["status_at"] is not None

    failing = await send_through_provider(sandbox, ch, "Otra cosa")
    other = await store_sent(db, ch, conv["id"], "Otra cosa", failing["wamid"])
    await emit(http, failing["wamid"], "failed", "131047")
    message = await shown(client, ch, other)
    assert message["status"] == "failed" and message["error_code"] == "131047"
    assert message["error"] == "More than 24 hours since the customer wrote: send a template"
    await emit(http, failing["wamid"], "delivered")  # the provider changed its mind: it did arrive
    message = await shown(client, ch, other)
    assert message["status"] == "delivered" and message["error"] is None
    assert {e.outcome for e in await events_of(db, ch)} == {"processed"}


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_status_that_beats_the_send_answer_waits_for_it(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        sandbox: SandboxServer, db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    await customer_writes(http, ch, text="hola")
    conv = await conversation_of(client, ch)
    ids = await send_through_provider(sandbox, ch, "Te escribo")
    await emit(http, ids["wamid"], "delivered")
    await emit(http, ids["wamid"], "failed", "131026")  # after delivered: changes nothing
    async with db.read_session(ch.tenant.id) as session:
        waiting = list((await session.execute(tenant_select(PendingStatus, ch.tenant.id))).scalars())
    assert {w.status for w in waiting} == {"delivered", "failed"}
    # YCloud names the message by its wamid and its own id: the send may have stored either
    ours = await store_sent(db, ch, conv["id"], "Te escribo", ids.get("ycloud_id", ids["wamid"]))
    message = await shown(client, ch, ours)
    assert message["status"] == "delivered" and message["error"] is None


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_an_echo_is_the_business_writing_from_its_phone_and_takes_over(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    await customer_writes(http, ch, text="¿Me llamas?")
    assert (await conversation_of(client, ch))["is_locked"] is False
    echo = await http.post("/_sandbox/echoes", json={"channel": ch.key, "to": ch.customer,
                                                     "text": "Te llamo en cinco minutos"})
    assert echo.status_code == 200 and echo.json()["delivery"]["attempts"][0]["status"] == 200
    _, message = await messages_of(client, ch)
    assert message["content"] == "Te llamo en cinco minutos" and message["is_echo"] is True
    assert message["author"] == "human" and message["sender"] == "agent" and message["status"] == "sent"
    conv = await conversation_of(client, ch)
    assert conv["is_locked"] is True and conv["unread_count"] == 0  # a person answered from the phone
    async with db.read_session(ch.tenant.id) as session:
        stored = (await session.execute(tenant_select(Message, ch.tenant.id).where(
            Message.id == message["id"]))).scalar_one()
    assert stored.direction == "outbound" and stored.provider_message_id == echo.json()["message_id"]


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_template_review_updates_the_synced_template(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    waba = ch.credentials["waba_id"]
    assert (await http.put(f"/_sandbox/templates/{waba}", json={"templates": [
        {"name": "pedido_listo", "language": "es", "status": "PENDING",
         "components": [{"type": "BODY", "text": "Tu pedido está listo"}]},
        {"name": "sin_sincronizar", "language": "es"}]})).status_code == 200
    async with db.session(ch.tenant.id) as session:  # what the template sync stored
        session.add(MessageTemplate(tenant_id=ch.tenant.id, channel_id=ch.id, name="pedido_listo", language="es",
                                    status="PENDING", category="UTILITY", components=[]))
    review = await http.post(f"/_sandbox/templates/{waba}/review", json={
        "name": "pedido_listo", "language": "es", "event": "REJECTED", "reason": "INVALID_FORMAT"})
    assert review.status_code == 200, review.text
    async with db.read_session(ch.tenant.id) as session:
        template = (await session.execute(select(MessageTemplate).where(MessageTemplate.channel_id == ch.id))
                    ).scalar_one()
    assert (template.status, template.rejected_reason) == ("REJECTED", "INVALID_FORMAT")

    await http.post(f"/_sandbox/templates/{waba}/review", json={"name": "sin_sincronizar", "event": "APPROVED"})
    last = (await events_of(db, ch))[-1]
    assert last.outcome == "processed" and "sin_sincronizar" in (last.error or "")
    assert "next sync" in (last.error or "")
