"""conversations/statuses.py on its own: a message's delivery status moves forward only, whatever the
order reports arrive in, and a report that beats the send's own answer waits for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import func, select

from tertulia.conversations.models import Message, PendingStatus
from tertulia.conversations.service import add_outbound_message, lock_conversation
from tertulia.conversations.statuses import StatusReport, moves_forward, record_status, take_pending_statuses
from tertulia.kit.db import Database, tenant_select
from tertulia.realtime.models import TenantEvent
from tests.helpers import TenantCtx, post_inbound

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def _outbound(db: Database, client: httpx2.AsyncClient, t: TenantCtx, provider_id: str | None) -> int:
    conv = (await post_inbound(client, t, "hola", external_id=f"c-{uuid.uuid4().hex[:6]}")).json()["conversation_id"]
    async with db.session(t.id) as session:
        message = await add_outbound_message(session, await lock_conversation(session, t.id, uuid.UUID(conv)),
                                             author="ai", content="respuesta", deliver=False)
        message.status, message.provider_message_id = "queued", provider_id
        return message.id


async def _report(db: Database, t: TenantCtx, provider_id: str, status: str, when: datetime,
                  code: str | None = None) -> Message | None:
    async with db.session(t.id) as session:
        return await record_status(session, t.id, t.channel_id, StatusReport(
            provider_id, status, when, code, f"error {code}" if code else None))


async def _message(db: Database, t: TenantCtx, message_id: int) -> Message:
    async with db.read_session(t.id) as session:
        return (await session.execute(tenant_select(Message, t.id).where(Message.id == message_id))).scalar_one()


async def _updates(db: Database, t: TenantCtx) -> int:
    async with db.read_session(t.id) as session:
        return int(await session.scalar(tenant_select(TenantEvent, t.id, func.count()).where(
            TenantEvent.type == "message.updated")) or 0)


def test_the_order_of_statuses() -> None:
    assert moves_forward("queued", "sent") and moves_forward("sent", "read") and moves_forward("read", "played")
    assert not moves_forward("read", "delivered") and not moves_forward("delivered", "sent")
    assert moves_forward("sent", "failed") and not moves_forward("delivered", "failed")
    assert moves_forward("failed", "delivered") and not moves_forward("failed", "sent")
    assert not moves_forward("failed", "failed")


async def test_statuses_out_of_order_never_move_a_message_back(
        db: Database, client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    mid = await _outbound(db, client, t, "wamid.A")
    assert await _report(db, t, "wamid.A", "read", at(30)) is not None
    assert await _report(db, t, "wamid.A", "delivered", at(20)) is None
    assert await _report(db, t, "wamid.A", "sent", at(10)) is None
    message = await _message(db, t, mid)
    assert (message.status, message.status_at) == ("read", at(30))
    assert await _updates(db, t) == 1  # only the move was announced
    assert await _report(db, t, "wamid.A", "played", at(40)) is not None
    assert (await _message(db, t, mid)).status == "played"


async def test_a_failure_then_a_delivery_ends_delivered_and_a_late_failure_changes_nothing(
        db: Database, client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    mid = await _outbound(db, client, t, "wamid.B")
    await _report(db, t, "wamid.B", "sent", at(1))
    await _report(db, t, "wamid.B", "failed", at(2), "131026")
    failed = await _message(db, t, mid)
    assert (failed.status, failed.error_code, failed.error) == ("failed", "131026", "error 131026")
    await _report(db, t, "wamid.B", "delivered", at(3))
    delivered = await _message(db, t, mid)
    assert (delivered.status, delivered.error_code, delivered.error) == ("delivered", None, None)
    assert await _report(db, t, "wamid.B", "failed", at(4), "131047") is None
    assert (await _message(db, t, mid)).status == "delivered"


async def test_statuses_before_the_send_answer_wait_and_apply_in_the_provider_order(
        db: Database, client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    assert await _report(db, t, "wamid.EARLY", "read", at(20)) is None
    assert await _report(db, t, "wamid.EARLY", "delivered", at(10)) is None
    async with db.read_session(t.id) as session:
        waiting = list((await session.execute(tenant_select(PendingStatus, t.id))).scalars())
    assert sorted(w.status for w in waiting) == ["delivered", "read"]

    mid = await _outbound(db, client, t, None)
    async with db.session(t.id) as session:  # the send's answer names the message
        message = (await session.execute(tenant_select(Message, t.id).where(Message.id == mid))).scalar_one()
        message.provider_message_id = "wamid.EARLY"
        assert await take_pending_statuses(session, message) is True
    message = await _message(db, t, mid)
    assert (message.status, message.status_at) == ("read", at(20))
    async with db.read_session(t.id) as session:
        assert await session.scalar(select(func.count()).select_from(PendingStatus).where(
            PendingStatus.tenant_id == t.id)) == 0
        nothing = (await session.execute(tenant_select(Message, t.id).where(Message.id == mid))).scalar_one()
    async with db.session(t.id) as session:
        assert await take_pending_statuses(session, nothing) is False  # once taken, gone


async def test_a_status_never_touches_a_customer_message(db: Database, client: httpx2.AsyncClient,
                                                         make_tenant: Any) -> None:
    t = await make_tenant()
    inbound = (await post_inbound(client, t, "hola", message_id="wamid.IN")).json()
    assert await _report(db, t, "wamid.IN", "read", at(1)) is None
    assert (await _message(db, t, inbound["message_id"])).status == "received"
