"""Statuses that arrive before the send's answer was stored (the provider's webhook can beat its own
HTTP answer) are kept, and applied when the send is stored; one that slipped in while it was being
stored is applied by the worker's sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import select

from tertulia.conversations.models import Message, PendingStatus
from tertulia.conversations.service import add_outbound_message, lock_conversation
from tertulia.conversations.statuses import StatusReport, record_status
from tertulia.delivery import service
from tertulia.delivery.models import OutboundDelivery
from tertulia.delivery.repository import ClaimedDelivery
from tertulia.kit.db import tenant_update, utcnow
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, Shop, customer_writes, make_shop, message_of


async def held_delivery(shop: Shop, conversation_id: str, text: str) -> tuple[int, ClaimedDelivery]:
    """A message whose delivery this test holds as a worker would (no worker can claim it)."""
    token = uuid.uuid4().hex
    async with shop.db.session(shop.tenant_id) as session:
        conv = await lock_conversation(session, shop.tenant_id, uuid.UUID(conversation_id))
        message = await add_outbound_message(session, conv, author="human", content=text)
        await session.execute(tenant_update(OutboundDelivery, shop.tenant_id)
                              .where(OutboundDelivery.message_id == message.id)
                              .values(state="sending", lease_token=token, locked_until=utcnow() + timedelta(hours=1),
                                      attempts=1))
        row = (await session.execute(select(OutboundDelivery).where(
            OutboundDelivery.tenant_id == shop.tenant_id, OutboundDelivery.message_id == message.id))).scalar_one()
    return message.id, ClaimedDelivery(row.id, shop.tenant_id, message.id, shop.channel_id, row.conversation_id,
                                       row.recipient, 1, None, token)


async def test_statuses_that_came_first_are_applied_when_the_send_is_stored(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    message_id, claimed = await held_delivery(shop, conv, "Tu pedido salió")
    wamid = "wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    read_at = datetime.now(UTC).replace(microsecond=0)
    async with shop.db.session(shop.tenant_id) as session:  # the webhook: delivered, then read, before our store
        for status, at in (("read", read_at), ("delivered", read_at - timedelta(seconds=2))):
            assert await record_status(session, shop.tenant_id, shop.channel_id,
                                       StatusReport(wamid, status, at)) is None
    assert (await message_of(api, shop, conv, message_id))["status"] == "queued"
    async with shop.db.session(shop.tenant_id) as session:
        stored = await service.record_sent(session, claimed, wamid, utcnow(), spacing=0.3)
    assert stored is not None
    shown = await message_of(api, shop, conv, message_id)
    assert shown["status"] == "read" and datetime.fromisoformat(shown["status_at"]) == read_at
    async with shop.db.read_session(shop.tenant_id) as session:
        left = (await session.execute(select(PendingStatus).where(PendingStatus.tenant_id == shop.tenant_id))).all()
    assert left == []


async def test_a_status_that_slipped_in_while_the_send_was_stored_is_applied_by_the_sweep(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "ycloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    message_id, claimed = await held_delivery(shop, conv, "Te esperamos")
    async with shop.db.session(shop.tenant_id) as session:
        await service.record_sent(session, claimed, "wamid.sweep-1", utcnow(), spacing=0.3)
    # The webhook looked for the message just before that commit, and kept its status.
    async with shop.db.session(shop.tenant_id) as session:
        session.add(PendingStatus(tenant_id=shop.tenant_id, channel_id=shop.channel_id,
                                  provider_message_id="wamid.sweep-1", status="delivered", at=utcnow()))
    async with shop.db.read_session(cross_tenant="the sweep, as the worker runs it") as session:
        found = await service.orphaned_statuses(session)
    assert (shop.tenant_id, message_id) in found
    async with shop.db.session(shop.tenant_id) as session:
        assert await service.apply_pending_statuses(session, shop.tenant_id, message_id) is True
    assert (await message_of(api, shop, conv, message_id))["status"] == "delivered"
    async with shop.db.read_session(shop.tenant_id) as session:
        status = (await session.execute(select(Message.status).where(
            Message.tenant_id == shop.tenant_id, Message.id == message_id))).scalar_one()
    assert status == "delivered"
