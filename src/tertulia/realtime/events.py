"""The tenant event log: every change appends an event with the tenant's next sequence number.

Events are collected on the session and written at commit time, together with the bump of the
tenant's counter (`tenant_sequences`). The row lock taken by that UPDATE serialises concurrent
writers of one tenant only for the instant before COMMIT, and a rolled-back transaction rolls
its numbers back too, so the sequence never repeats and never skips.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, Text, Uuid, bindparam, event, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tertulia.kit.db import UTCDateTime, after_commit, utcnow
from tertulia.realtime.models import TenantEvent
from tertulia.tenancy.models import TenantSequence

EVENT_TYPES = (
    "message.created", "message.updated", "conversation.updated", "contact.updated",
    "tag.created", "tag.updated", "tag.deleted",
)


def record_event(session: AsyncSession, tenant_id: uuid.UUID, type_: str, data: dict[str, Any]) -> None:
    pending: list[tuple[uuid.UUID, str, dict[str, Any]]] = session.info.setdefault("pending_events", [])
    if not pending:
        after_commit(session, lambda: _publish(session))
    pending.append((tenant_id, type_, data))


def event_frame(seq: int, type_: str, data: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"seq": seq, "type": type_, "data": data}
    if at is not None:
        frame["at"] = at.isoformat().replace("+00:00", "Z")
    return frame


async def _publish(session: AsyncSession) -> None:
    committed: dict[uuid.UUID, list[dict[str, Any]]] = session.info.pop("committed_events", {})
    db = session.info.get("db")
    bus = db.bus if db is not None else None
    if bus is None:  # a process without listeners (the CLI): the log in the database is enough
        return
    for tenant_id, frames in committed.items():
        await bus.publish(tenant_id, frames)


# The sequence row is locked from the statement that bumps it until COMMIT, which serialises the
# commits of one tenant: that stretch is kept to one round trip before the COMMIT. On PostgreSQL
# one statement bumps the counter and inserts the events; SQLite (one writer at a time anyway)
# takes two.
_PG_WRITE_EVENTS = text("""
WITH bumped AS (
    UPDATE tenant_sequences SET last_event_seq = last_event_seq + :count WHERE tenant_id = :tenant
    RETURNING last_event_seq)
INSERT INTO tenant_events (tenant_id, seq, type, payload, created_at)
SELECT :tenant, bumped.last_event_seq - :count + item.n, item.event ->> 'type', item.event -> 'data', :at
FROM bumped, json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS item(event, n)
RETURNING seq
""").bindparams(bindparam("tenant", type_=Uuid()), bindparam("count", type_=Integer()),
                bindparam("at", type_=UTCDateTime()), bindparam("events", type_=Text()))
_seq = cast(Table, TenantSequence.__table__)
_BUMP_SEQUENCE = (update(_seq).where(_seq.c.tenant_id == bindparam("tenant", type_=Uuid()))
                  .values(last_event_seq=_seq.c.last_event_seq + bindparam("count", type_=Integer()))
                  .returning(_seq.c.last_event_seq))
_INSERT_EVENT = insert(cast(Table, TenantEvent.__table__))


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    pending: list[tuple[uuid.UUID, str, dict[str, Any]]] = session.info.pop("pending_events", [])
    if not pending:
        return
    session.flush()  # the transaction's other writes go first, before the sequence is locked
    by_tenant: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
    for tenant_id, type_, data in pending:
        by_tenant.setdefault(tenant_id, []).append((type_, data))
    committed: dict[uuid.UUID, list[dict[str, Any]]] = session.info.setdefault("committed_events", {})
    conn = session.connection()
    now = utcnow()
    # A fixed order of tenants keeps two multi-tenant transactions from deadlocking on the counters.
    for tenant_id in sorted(by_tenant, key=str):
        items = by_tenant[tenant_id]
        if conn.dialect.name == "postgresql":
            events = json.dumps([{"type": t, "data": d} for t, d in items])
            seqs = conn.execute(_PG_WRITE_EVENTS, {"tenant": tenant_id, "count": len(items), "at": now,
                                                   "events": events}).scalars().all()
            if len(seqs) != len(items):
                raise RuntimeError(f"tenant {tenant_id} has no event sequence")
            first = min(seqs)
        else:
            last = conn.execute(_BUMP_SEQUENCE, {"tenant": tenant_id, "count": len(items)}).scalar_one()
            first = last - len(items) + 1
            conn.execute(_INSERT_EVENT, [
                {"tenant_id": tenant_id, "seq": first + i, "type": t, "payload": d, "created_at": now}
                for i, (t, d) in enumerate(items)
            ])
        committed.setdefault(tenant_id, []).extend(
            event_frame(first + i, t, d, now) for i, (t, d) in enumerate(items))
