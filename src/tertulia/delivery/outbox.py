"""Enqueueing: the delivery row written with its outbound message, in the same transaction
(the transactional outbox), placed in its recipient's queue, and the wake-up of this process's
delivery workers once it commits (workers of other processes find it by polling).

Callers hold the conversation's lock (`conversations.service.lock_conversation`); the worker takes
it too when it finishes a delivery, so "is anything ahead of this message?" and "start the next
one" never miss each other.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.contacts.models import ContactIdentity
from tertulia.conversations.models import Conversation, Message
from tertulia.delivery import repository as repo
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import Database, Reader, after_commit, tenant_select, utcnow

# A WhatsApp contact may be known by phone (wa_id, E.164) and by business-scoped user id: sends
# go to the phone where there is one.
PHONE = re.compile(r"^\+?\d{6,16}$")

Wake = Callable[[datetime | None], None]
_workers: weakref.WeakKeyDictionary[Database, set[Wake]] = weakref.WeakKeyDictionary()


def listen(db: Database, wake: Wake) -> None:
    """Have `wake(due_at)` called after each commit of this database that enqueued a delivery."""
    _workers.setdefault(db, set()).add(wake)


def stop_listening(db: Database, wake: Wake) -> None:
    _workers.get(db, set()).discard(wake)


def wake_workers(session: AsyncSession, due_at: datetime | None) -> None:
    """After this transaction commits, wake the process's delivery workers (due_at: when the
    work becomes due; None: at once)."""
    db = session.info.get("db")
    if not isinstance(db, Database) or not _workers.get(db):
        return

    async def wake() -> None:
        for callback in list(_workers.get(db, ())):
            callback(due_at)

    after_commit(session, wake)


async def recipient_of(session: Reader, conv: Conversation) -> str | None:
    """Who the conversation's messages go to on its channel: the contact's id there (on WhatsApp
    its phone when it has one, else its business-scoped user id)."""
    stmt = (tenant_select(ContactIdentity, conv.tenant_id, ContactIdentity.external_id)
            .where(ContactIdentity.contact_id == conv.contact_id, ContactIdentity.channel_id == conv.channel_id)
            .order_by(ContactIdentity.created_at))
    ids = list((await session.execute(stmt)).scalars())
    if conv.channel_source == "whatsapp":
        ids.sort(key=lambda external_id: PHONE.match(external_id) is None)
    return ids[0] if ids else None


async def place(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                now: datetime) -> tuple[str, datetime]:
    """(state, next_attempt_at) for a delivery joining the conversation's queue: behind the
    undone ones, else due when the previous message's spacing ends (or now)."""
    queue = await repo.queue_of(session, tenant_id, conversation_id)
    if queue.undone:
        return "waiting", now
    return "pending", max(now, queue.newest.next_attempt_at) if queue.newest is not None else now


async def enqueue(session: AsyncSession, conv: Conversation, msg: Message, *,
                  payload: dict[str, Any] | None = None) -> OutboundDelivery:
    """The delivery of a new outbound message (the conversation locked)."""
    now = utcnow()
    state, due = await place(session, conv.tenant_id, conv.id, now)
    delivery = OutboundDelivery(tenant_id=conv.tenant_id, message_id=msg.id, channel_id=conv.channel_id,
                                conversation_id=conv.id, recipient=await recipient_of(session, conv), state=state,
                                next_attempt_at=due, payload=payload, created_at=now, updated_at=now)
    session.add(delivery)
    await session.flush()  # the next message of this transaction (a reply's bubbles) queues behind it
    if state == "pending":
        wake_workers(session, due)
    return delivery
