"""Delivery statuses: what the provider says became of a message we sent.

Statuses move a message forward only (`read` never goes back to `delivered`), whatever order they
arrive in. A status may arrive before the send's own answer was stored (the webhook can beat the
HTTP response): it is kept as a pending status and applied when a message takes that provider id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.contacts.models import ContactIdentity
from tertulia.conversations.models import Conversation, Message, PendingStatus
from tertulia.conversations.service import emit_message_updated
from tertulia.kit.db import tenant_delete, tenant_select, utcnow

# How far along a message is; `failed` counts only while the message has not reached the customer
# (a provider may report a failure, then the delivery after all).
RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A provider's word about one of our messages."""

    provider_message_id: str
    status: str  # sent | delivered | read | played | failed
    at: datetime
    error_code: str | None = None
    error: str | None = None  # for a person: what went wrong and what to do


def moves_forward(current: str, new: str) -> bool:
    if new == "failed":
        return RANK.get(current, 0) < RANK["delivered"] and current != "failed"
    if current == "failed":
        return RANK[new] >= RANK["delivered"]
    return RANK.get(new, 0) > RANK.get(current, 0)


def apply_report(message: Message, report: StatusReport) -> bool:
    """Move the message's status if the report moves it forward; True when it did."""
    if not moves_forward(message.status, report.status):
        return False
    message.status = report.status
    message.status_at = report.at
    message.updated_at = utcnow()
    if report.status == "failed":
        message.error, message.error_code = report.error, report.error_code
    else:
        message.error = message.error_code = None
    return True


async def record_status(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                        report: StatusReport) -> Message | None:
    """Apply a status webhook: to the message sent under that provider id (returned when it moved,
    with a `message.updated` event), or, when no message has the id yet, kept for later."""
    stmt = (tenant_select(Message, tenant_id)
            .where(Message.channel_id == channel_id, Message.provider_message_id == report.provider_message_id)
            .with_for_update())
    message = (await session.execute(stmt)).scalar_one_or_none()
    if message is None:
        session.add(PendingStatus(tenant_id=tenant_id, channel_id=channel_id,
                                  provider_message_id=report.provider_message_id, status=report.status,
                                  at=report.at, error_code=report.error_code, error=report.error))
        await session.flush()
        return None
    if message.direction != "outbound" or not apply_report(message, report):
        return None
    await emit_message_updated(session, message)
    return message


async def take_pending_statuses(session: AsyncSession, message: Message) -> bool:
    """A message just took its provider id (the send's answer): apply the statuses that came
    first, in the order the provider stamped them. True when the status moved."""
    assert message.provider_message_id is not None
    stmt = (tenant_select(PendingStatus, message.tenant_id)
            .where(PendingStatus.channel_id == message.channel_id,
                   PendingStatus.provider_message_id == message.provider_message_id)
            .order_by(PendingStatus.at, PendingStatus.id))
    pending = list((await session.execute(stmt)).scalars())
    if not pending:
        return False
    moved = False
    for row in pending:
        moved |= apply_report(message, StatusReport(row.provider_message_id, row.status, row.at, row.error_code,
                                                    row.error))
    await session.execute(tenant_delete(PendingStatus, message.tenant_id).where(
        PendingStatus.id.in_([row.id for row in pending])))
    return moved


async def record_watermark(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, customer: str,
                           status: str, at: datetime, *, mid: str | None = None) -> int:
    """Messenger's watermarks: every message we sent the customer (`customer`: their id on the
    channel) up to `at` — or up to the message `mid`, Instagram's `read` — reached `status`.
    Answers how many moved."""
    if mid is not None:
        found = (await session.execute(tenant_select(Message, tenant_id, Message.created_at).where(
            Message.channel_id == channel_id, Message.provider_message_id == mid))).scalar_one_or_none()
        if found is None:
            return 0
        at = max(at, found)
    conversations = (tenant_select(ContactIdentity, tenant_id, Conversation.id)
                     .select_from(ContactIdentity)
                     .join(Conversation, and_(Conversation.tenant_id == tenant_id,
                                              Conversation.contact_id == ContactIdentity.contact_id,
                                              Conversation.channel_id == channel_id))
                     .where(ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == customer))
    stmt = (tenant_select(Message, tenant_id)
            .where(Message.conversation_id.in_(conversations), Message.channel_id == channel_id,
                   Message.direction == "outbound", Message.provider_message_id.is_not(None),
                   Message.status.in_([s for s, rank in RANK.items() if 0 < rank < RANK[status]]),
                   Message.created_at <= at)
            .with_for_update())
    moved = 0
    for message in (await session.execute(stmt)).scalars():
        if apply_report(message, StatusReport(str(message.provider_message_id), status, at)):
            await emit_message_updated(session, message)
            moved += 1
    return moved
