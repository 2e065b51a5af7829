"""SQL of the outbox: placing a delivery in its recipient's queue, claims under a lease, and the
moves of a delivery to its end.

A conversation's undone deliveries form a queue: only its oldest is ever `pending` (or
`sending`, `paused`); the others are `waiting`. So a claim is one ordered range of one index
(`state = 'pending'` by `next_attempt_at`), however many messages wait behind their recipients'
first, and the queue is read through a partial index of undone rows only, never the history.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Table, bindparam, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.delivery.models import UNDONE, UNDONE_STATES, OutboundDelivery
from tertulia.kit.db import Reader, is_sqlite, tenant_select, tenant_update, utcnow

_d = OutboundDelivery.__table__
assert isinstance(_d, Table)
_table: Table = _d
ACTIVE = ("pending", "sending", "paused")  # the head of a queue; `waiting` rows follow it


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds under its lease (the token proves it at every later write)."""

    id: int
    tenant_id: uuid.UUID
    message_id: int
    channel_id: uuid.UUID
    conversation_id: uuid.UUID | None
    recipient: str | None
    attempts: int
    payload: dict[str, Any] | None
    lease_token: str
    due: datetime | None = None  # when it may leave (a claim takes what falls due in the next moments)


async def failing_by_channel(session: Reader, tenant_id: uuid.UUID, since: datetime,
                             channel_id: uuid.UUID | None = None) -> dict[uuid.UUID, tuple[int, str | None, datetime]]:
    """{channel id: (deliveries failing, the newest one's error, when)}: those that failed since
    `since`, those being retried after an error, and those paused (credentials refused)."""
    d = _table.c
    failing = (((d.state == "failed") & (d.updated_at >= since)) | (d.state == "paused")
               | ((d.state == "pending") & (d.attempts > 0) & d.last_error.is_not(None)))
    newest = func.row_number().over(partition_by=d.channel_id, order_by=d.updated_at.desc()).label("n")
    count = func.count().over(partition_by=d.channel_id).label("failures")
    inner = tenant_select(OutboundDelivery, tenant_id, d.channel_id, d.last_error, d.updated_at, newest, count).where(
        d.state.in_(("failed", "paused", "pending")), failing)
    if channel_id is not None:
        inner = inner.where(d.channel_id == channel_id)
    rows = inner.subquery()
    stmt = select(rows.c.channel_id, rows.c.failures, rows.c.last_error, rows.c.updated_at).where(rows.c.n == 1)
    return {r.channel_id: (r.failures, r.last_error, r.updated_at) for r in await session.execute(stmt)}


# --- placing a delivery ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Queue:
    """A conversation's queue as one statement reads it: its undone deliveries, oldest first, and
    its newest delivery (once done, its `next_attempt_at` is when the next message to the
    recipient may leave)."""

    undone: list[Row[Any]]  # (id, state, next_attempt_at)
    newest: Row[Any] | None

    @property
    def head_active(self) -> bool:
        return any(r.state in ACTIVE for r in self.undone)


async def queue_of(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Queue:
    """The conversation's queue (see Queue): the undone rows through their partial index, the
    newest through the conversation's index, in one statement (enqueueing and every finished
    send read both)."""
    newest_id = (tenant_select(OutboundDelivery, tenant_id, func.max(OutboundDelivery.id))
                 .where(OutboundDelivery.conversation_id == conversation_id).scalar_subquery())
    stmt = (tenant_select(OutboundDelivery, tenant_id, OutboundDelivery.id, OutboundDelivery.state,
                          OutboundDelivery.next_attempt_at)
            .where(OutboundDelivery.conversation_id == conversation_id, or_(UNDONE, OutboundDelivery.id == newest_id))
            .order_by(OutboundDelivery.id))
    rows = list((await session.execute(stmt)).all())
    return Queue([r for r in rows if r.state in UNDONE_STATES], rows[-1] if rows else None)


async def get_by_message(session: Reader, tenant_id: uuid.UUID, message_id: int) -> OutboundDelivery | None:
    stmt = tenant_select(OutboundDelivery, tenant_id).where(OutboundDelivery.message_id == message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_next_not_before(session: AsyncSession, tenant_id: uuid.UUID, delivery_id: int,
                              not_before: datetime) -> None:
    """Move a finished delivery's "next message not before" later (never earlier)."""
    await session.execute(tenant_update(OutboundDelivery, tenant_id)
                          .where(OutboundDelivery.id == delivery_id, OutboundDelivery.next_attempt_at < not_before)
                          .values(next_attempt_at=not_before))


async def start_next(session: AsyncSession, tenant_id: uuid.UUID, queue: Queue, not_before: datetime) -> int | None:
    """After the head of a conversation's queue finished: the oldest waiting delivery becomes
    `pending`, due no earlier than `not_before` (the spacing). Answers its id, or None when the
    queue is empty or still has a head. Runs with the conversation locked (`queue` read under it)."""
    if not queue.undone or queue.head_active:
        return None
    first = queue.undone[0]
    await session.execute(tenant_update(OutboundDelivery, tenant_id).where(OutboundDelivery.id == first.id)
                          .values(state="pending", next_attempt_at=max(first.next_attempt_at, not_before),
                                  updated_at=utcnow()))
    return int(first.id)


# --- claims ----------------------------------------------------------------------------------------
# Plain statements on the table: a worker serves every tenant (its session says so), and the
# ORM's bulk-update bookkeeping would cost more than the statements.

_NOW = bindparam("now", type_=_d.c.next_attempt_at.type)

RECLAIM = (update(_table).where(_d.c.state == "sending", _d.c.locked_until < _NOW)
           .values(state="pending", lease_token=None, locked_until=None, next_attempt_at=_NOW, updated_at=_NOW))


def _claim_statement(skip_locked: bool) -> Any:
    due = (select(_d.c.id).where(_d.c.state == "pending",
                                 _d.c.next_attempt_at <= bindparam("horizon", type_=_d.c.next_attempt_at.type))
           .order_by(_d.c.next_attempt_at).limit(bindparam("limit", type_=Integer())))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (update(_table).where(_d.c.id.in_(due.scalar_subquery()))
            .values(state="sending", lease_token=bindparam("token"),
                    locked_until=bindparam("until", type_=_d.c.locked_until.type),
                    attempts=_d.c.attempts + 1, updated_at=_NOW)
            .returning(_d.c.id, _d.c.tenant_id, _d.c.message_id, _d.c.channel_id, _d.c.conversation_id,
                       _d.c.recipient, _d.c.attempts, _d.c.payload, _d.c.next_attempt_at))


CLAIM = {"sqlite": _claim_statement(skip_locked=False), "postgresql": _claim_statement(skip_locked=True)}


async def claim(session: AsyncSession, now: datetime, lease: timedelta, limit: int, token: str,
                ahead: timedelta = timedelta(0)) -> list[ClaimedDelivery]:
    """Take up to `limit` deliveries due by `now + ahead` under a fresh lease (the worker holds
    those not yet due until their time: at a channel's full rate one claim takes a batch instead
    of one delivery each), first giving back those whose worker's lease ran out (it died:
    another worker sends them). On PostgreSQL concurrent workers skip each other's rows; SQLite
    has one writer at a time anyway."""
    await session.execute(RECLAIM, {"now": now})
    rows = await session.execute(CLAIM["sqlite" if is_sqlite(session) else "postgresql"],
                                 {"now": now, "horizon": now + ahead, "until": now + lease, "token": token,
                                  "limit": limit})
    return [ClaimedDelivery(r.id, r.tenant_id, r.message_id, r.channel_id, r.conversation_id, r.recipient,
                            r.attempts, r.payload, token, r.next_attempt_at) for r in rows]


NEXT_WAKE = select(
    select(func.min(_d.c.next_attempt_at)).where(_d.c.state == "pending").scalar_subquery(),
    select(func.min(_d.c.locked_until)).where(_d.c.state == "sending").scalar_subquery())


async def next_wake_at(session: Reader) -> datetime | None:
    """When the next delivery becomes due: a pending one's time, or a held one's lease."""
    row = (await session.execute(NEXT_WAKE)).one()
    times = [t for t in row if t is not None]
    return min(times) if times else None


async def finish(session: AsyncSession, claimed: ClaimedDelivery, **values: Any) -> bool:
    """Move a held delivery on (its state, times, error), releasing the lease; False when the lease
    was lost meanwhile (another worker took the delivery over: it decides now)."""
    result = await session.execute(
        tenant_update(OutboundDelivery, claimed.tenant_id)
        .where(OutboundDelivery.id == claimed.id, OutboundDelivery.lease_token == claimed.lease_token)
        .values(lease_token=None, locked_until=None, updated_at=utcnow(), **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- a channel's credentials refused, then fixed ------------------------------------------------

async def pause_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> None:
    """The channel's due deliveries wait (as `paused`) until its credentials are fixed."""
    await session.execute(tenant_update(OutboundDelivery, tenant_id)
                          .where(OutboundDelivery.channel_id == channel_id, OutboundDelivery.state == "pending")
                          .values(state="paused", updated_at=utcnow()))


async def resume_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                         now: datetime) -> Sequence[int]:
    """Paused deliveries of the channel are due again, with their tries counted afresh; answers
    their messages' ids."""
    result = await session.execute(
        tenant_update(OutboundDelivery, tenant_id)
        .where(OutboundDelivery.channel_id == channel_id, OutboundDelivery.state == "paused")
        .values(state="pending", next_attempt_at=now, attempts=0, updated_at=now)
        .returning(OutboundDelivery.message_id))
    return list(result.scalars())
