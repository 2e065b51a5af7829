"""What becomes of a delivery, in the database: sent (the provider's id stored, early statuses
applied, the next message of the recipient started after the spacing), tried again later, failed
(visible on the message, with the reason), paused with its channel, retried by a person.

Each outcome is one short transaction that proves the worker still holds the delivery's lease; the
ones that move a recipient's queue lock the conversation first (as enqueueing does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tertulia.channels import repository as channels_repo
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure
from tertulia.conversations import repository as conversations_repo
from tertulia.conversations.models import Conversation, Message, PendingStatus
from tertulia.conversations.service import emit_message_updated, lock_conversation
from tertulia.conversations.statuses import take_pending_statuses
from tertulia.conversations.window import require_open_window
from tertulia.delivery import outbox
from tertulia.delivery import repository as repo
from tertulia.delivery.models import OutboundDelivery
from tertulia.delivery.repository import ClaimedDelivery
from tertulia.delivery.senders import Outgoing
from tertulia.kit.db import Reader, tenant_select, utcnow
from tertulia.kit.errors import Conflict, NotFound

log = structlog.get_logger("tertulia.delivery")


# Built once: a fresh alias per call made SQLAlchemy rebuild (and re-memoize) its columns on every
# send, about 40 % of this function's time in a profile of the delivery bench.
_LAST_INBOUND = aliased(Message, name="last_inbound")


async def load_outgoing(session: Reader, claimed: Sequence[ClaimedDelivery]) -> dict[int, Outgoing]:
    """Each claimed delivery's message, channel and (for the AI's messages) the customer's last
    message, by delivery id (a message gone is missing): one statement per tenant of the batch,
    run in the claim's own transaction (a send then opens no session before the provider call)."""
    by_tenant: dict[uuid.UUID, dict[int, ClaimedDelivery]] = {}
    for one in claimed:
        by_tenant.setdefault(one.tenant_id, {})[one.message_id] = one
    found: dict[int, Outgoing] = {}
    inbound = _LAST_INBOUND
    for tenant_id, of_message in by_tenant.items():
        stmt = (tenant_select(Message, tenant_id, Message, Channel, inbound.provider_message_id.label("typing_for"),
                              Conversation.last_inbound_at)
                .select_from(Message)
                .join(Channel, and_(Channel.tenant_id == tenant_id, Channel.id == Message.channel_id))
                .outerjoin(Conversation, and_(Conversation.tenant_id == tenant_id,
                                              Conversation.id == Message.conversation_id))
                .outerjoin(inbound, and_(inbound.tenant_id == tenant_id,
                                         inbound.id == Conversation.last_inbound_message_id))
                .where(Message.id.in_(list(of_message))))
        for row in (await session.execute(stmt)).all():
            message, channel = row[0], row[1]
            one = of_message[message.id]
            found[one.id] = Outgoing(one, channel, message, row.typing_for if message.author == "ai" else None,
                                     row.last_inbound_at)
    return found


async def _message(session: AsyncSession, claimed: ClaimedDelivery) -> Message | None:
    return await conversations_repo.get_message(session, claimed.tenant_id, claimed.message_id)


async def _lock_queue(session: AsyncSession, claimed: ClaimedDelivery) -> None:
    if claimed.conversation_id is not None:
        await conversations_repo.lock_conversation(session, claimed.tenant_id, claimed.conversation_id)


async def _start_next(session: AsyncSession, claimed: ClaimedDelivery, not_before: datetime) -> None:
    """The recipient's next message may leave from `not_before`: start the next waiting one, or,
    when this delivery was not the newest (a retried old one), carry the time to the newest."""
    if claimed.conversation_id is None:
        return
    queue = await repo.queue_of(session, claimed.tenant_id, claimed.conversation_id)
    if await repo.start_next(session, claimed.tenant_id, queue, not_before) is not None:
        return
    newest = queue.newest
    if newest is not None and newest.id != claimed.id and newest.state in ("done", "failed"):
        await repo.set_next_not_before(session, claimed.tenant_id, newest.id, not_before)


# Another message of the channel under the same provider id, and statuses that came before the
# send's answer: asked in the statement that loads the sent message (a send costs one statement
# for the three, where most sends find neither).
_OTHER = aliased(Message, name="other")


async def _sent_message(session: AsyncSession, claimed: ClaimedDelivery,
                        provider_id: str | None) -> tuple[Message, str | None, bool] | None:
    """The sent message, the provider's id to store (None when another message of the channel
    has it already: the provider repeating itself must not fail the store of a message it did
    send) and whether statuses for that id are waiting."""
    tenant_id = claimed.tenant_id
    if not provider_id:
        alone = await _message(session, claimed)
        return None if alone is None else (alone, None, False)
    taken = (select(_OTHER.id).where(_OTHER.tenant_id == tenant_id, _OTHER.channel_id == Message.channel_id,
                                     _OTHER.provider_message_id == provider_id, _OTHER.id != Message.id)
             .exists().label("taken"))
    early = (select(PendingStatus.id).where(PendingStatus.tenant_id == tenant_id,
                                            PendingStatus.channel_id == Message.channel_id,
                                            PendingStatus.provider_message_id == provider_id)
             .exists().label("early"))
    stmt = tenant_select(Message, tenant_id, Message, taken, early).where(Message.id == claimed.message_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    message: Message = row[0]
    if row.taken:
        log.warning("provider_id_taken", message_id=message.id, provider_message_id=provider_id)
        return message, None, False
    return message, provider_id, bool(row.early)


async def record_sent(session: AsyncSession, claimed: ClaimedDelivery, provider_id: str | None, now: datetime,
                      spacing: float) -> Message | None:
    """The provider took the message: its id and `sent` on the message (then the statuses that
    arrived first), and the recipient's next message due after the spacing."""
    await _lock_queue(session, claimed)
    next_send = now + timedelta(seconds=spacing)
    if not await repo.finish(session, claimed, state="done", sent_at=now, next_attempt_at=next_send, last_error=None):
        return None
    found = await _sent_message(session, claimed, provider_id)
    if found is None:
        return None
    message, stored_id, early = found
    message.provider_message_id = stored_id
    if message.status in ("queued", "failed"):
        message.status, message.status_at = "sent", now
        message.error = message.error_code = None
    message.updated_at = now
    if early:
        await take_pending_statuses(session, message)
    await emit_message_updated(session, message)
    await _start_next(session, claimed, next_send)
    return message


async def record_retry(session: AsyncSession, claimed: ClaimedDelivery, due: datetime,
                       failure: ProviderFailure) -> None:
    """A passing failure: the delivery is due again at `due` (still the head of its queue)."""
    await repo.finish(session, claimed, state="pending", next_attempt_at=due, last_error=str(failure)[:2000])


async def release(session: AsyncSession, claimed: ClaimedDelivery, due: datetime) -> None:
    """Given back untried (the channel's rate is used up for now): not an attempt."""
    await repo.finish(session, claimed, state="pending", next_attempt_at=due, attempts=max(0, claimed.attempts - 1))


async def record_failure(session: AsyncSession, claimed: ClaimedDelivery, reason: str, code: str | None,
                         detail: str, now: datetime) -> Message | None:
    """The message cannot go: `failed` with the reason (the inbox shows it, with a retry), and the
    recipient's next message starts."""
    await _lock_queue(session, claimed)
    if not await repo.finish(session, claimed, state="failed", next_attempt_at=now,
                             last_error=(detail or reason)[:2000]):
        return None
    message = await _message(session, claimed)
    if message is not None:
        message.status, message.status_at, message.updated_at = "failed", now, now
        message.error, message.error_code = reason, (code or "")[:32] or None
        await emit_message_updated(session, message)
    await _start_next(session, claimed, now)
    return message


async def record_pause(session: AsyncSession, claimed: ClaimedDelivery, failure: ProviderFailure,
                       now: datetime) -> None:
    """The provider refused the channel's credentials (or account): the channel needs attention,
    and its deliveries wait, untried, until its credentials change (or its check passes)."""
    if not await repo.finish(session, claimed, state="paused", attempts=max(0, claimed.attempts - 1),
                             last_error=str(failure)[:2000]):
        return
    channel = await channels_repo.get_channel(session, claimed.tenant_id, claimed.channel_id)
    if channel is not None and (channel.status != "attention" or channel.status_reason != failure.reason):
        channel.status, channel.status_reason = "attention", failure.reason
        log.warning("channel_paused", action="channel_paused", tenant_id=str(claimed.tenant_id),
                    channel_id=str(claimed.channel_id), code=failure.code, reason=failure.reason)
    await repo.pause_channel(session, claimed.tenant_id, claimed.channel_id)
    message = await _message(session, claimed)
    if message is not None and message.status == "queued":
        message.error, message.error_code, message.updated_at = failure.reason, (failure.code or "")[:32] or None, now
        await emit_message_updated(session, message)


async def resume_channel(session: AsyncSession, channel: Channel) -> int:
    """The channel's credentials changed (or its check passed): it is `ok` again and its paused
    deliveries are due now. Answers how many resumed."""
    now = utcnow()
    channel.status, channel.status_reason = "ok", None
    message_ids = await repo.resume_channel(session, channel.tenant_id, channel.id, now)
    if message_ids:
        stmt = tenant_select(Message, channel.tenant_id).where(Message.id.in_(list(message_ids)),
                                                               Message.error.is_not(None), Message.status == "queued")
        for message in (await session.execute(stmt)).scalars():
            message.error = message.error_code = None
            message.updated_at = now
            await emit_message_updated(session, message)
        outbox.wake_workers(session, None)
        log.info("channel_resumed", action="channel_resumed", tenant_id=str(channel.tenant_id),
                 channel_id=str(channel.id), deliveries=len(message_ids))
    return len(message_ids)


async def retry_message(session: AsyncSession, tenant_id: uuid.UUID, message_id: int) -> Message:
    """A person retries a failed message: the same message, queued again with fresh tries (behind
    what its recipient has queued). A free-form WhatsApp message still needs an open window."""
    message = await conversations_repo.get_message(session, tenant_id, message_id)
    if message is None:
        raise NotFound("no such message", code="message_not_found")
    if message.direction != "outbound" or message.status != "failed":
        raise Conflict("only a failed outbound message can be sent again", code="message_not_failed")
    conv = await lock_conversation(session, tenant_id, message.conversation_id)
    if message.kind != "template":
        await require_open_window(session, conv)
    now = utcnow()
    state, due = await outbox.place(session, tenant_id, conv.id, now)
    delivery = await repo.get_by_message(session, tenant_id, message.id)
    if delivery is None:
        delivery = OutboundDelivery(tenant_id=tenant_id, message_id=message.id, channel_id=message.channel_id,
                                    created_at=now)
        session.add(delivery)
    values: dict[str, Any] = {"state": state, "next_attempt_at": due, "attempts": 0, "last_error": None,
                              "lease_token": None, "locked_until": None, "sent_at": None, "updated_at": now,
                              "conversation_id": conv.id,
                              "recipient": delivery.recipient or await outbox.recipient_of(session, conv)}
    for column, value in values.items():
        setattr(delivery, column, value)
    message.status, message.error, message.error_code, message.updated_at = "queued", None, None, now
    await emit_message_updated(session, message)
    if state == "pending":
        outbox.wake_workers(session, due)
    return message


# A status can only slip past a send being stored within moments of it: the sweep reads the
# statuses kept in the last minutes (through their own index), never the whole table.
SWEEP_WINDOW = timedelta(minutes=10)


async def orphaned_statuses(session: Reader, limit: int = 200) -> Sequence[tuple[uuid.UUID, int]]:
    """(tenant, message id) of statuses kept as pending whose message has its provider id by now:
    a webhook that looked for the message while the send's answer was being stored. Crosses
    tenants (the worker's sweep)."""
    stmt = (select(PendingStatus.tenant_id, Message.id)
            .join(Message, and_(Message.tenant_id == PendingStatus.tenant_id,
                                Message.channel_id == PendingStatus.channel_id,
                                Message.provider_message_id == PendingStatus.provider_message_id))
            .where(PendingStatus.created_at > utcnow() - SWEEP_WINDOW)
            .distinct().limit(limit))
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all()]


async def apply_pending_statuses(session: AsyncSession, tenant_id: uuid.UUID, message_id: int) -> bool:
    stmt = tenant_select(Message, tenant_id).where(Message.id == message_id).with_for_update()
    message = (await session.execute(stmt)).scalar_one_or_none()
    if message is None or not message.provider_message_id:
        return False
    moved = await take_pending_statuses(session, message)
    if moved:
        await emit_message_updated(session, message)
    return moved
