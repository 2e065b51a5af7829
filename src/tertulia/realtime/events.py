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

from psycopg import AsyncClientCursor
from sqlalchemy import Integer, Table, Text, Uuid, bindparam, event, insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tertulia.kit.db import UTCDateTime, after_commit, commit_with, pg_driver, utcnow
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
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            commit_with(session, _write_pending_events_and_commit)
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
# commits of one tenant, so that stretch must stay short. On PostgreSQL one statement bumps the
# counter and inserts the events, and it goes to the server together with the COMMIT (one query
# string: one round trip, no Python between the lock and the commit, so a busy process cannot
# make the tenant's other writers queue behind it). Sessions committed otherwise, and SQLite (one writer at
# a time anyway, two statements), write them in `before_commit`.
#
# The counter is bumped with an upsert, so events always get their numbers: a tenant has its row
# from the start, and on PostgreSQL the statement's result is only read once committed.
_PG_WRITE_EVENTS = text("""
WITH bumped AS (
    INSERT INTO tenant_sequences AS s (tenant_id, last_event_seq) VALUES (:tenant, :count)
    ON CONFLICT (tenant_id) DO UPDATE SET last_event_seq = s.last_event_seq + excluded.last_event_seq
    RETURNING last_event_seq)
INSERT INTO tenant_events (tenant_id, seq, type, payload, created_at)
SELECT :tenant, bumped.last_event_seq - :count + item.n, item.event ->> 'type', item.event -> 'data', :at
FROM bumped, json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS item(event, n)
RETURNING seq
""").bindparams(bindparam("tenant", type_=Uuid()), bindparam("count", type_=Integer()),
                bindparam("at", type_=UTCDateTime()), bindparam("events", type_=Text()))
_seq = cast(Table, TenantSequence.__table__)
_bump = sqlite.insert(_seq).values(tenant_id=bindparam("tenant", type_=Uuid()),
                                   last_event_seq=bindparam("count", type_=Integer()))
_BUMP_SEQUENCE = _bump.on_conflict_do_update(
    index_elements=["tenant_id"], set_={"last_event_seq": _seq.c.last_event_seq + _bump.excluded.last_event_seq},
).returning(_seq.c.last_event_seq)
_INSERT_EVENT = insert(cast(Table, TenantEvent.__table__))
_pg_sql: list[str] = []  # _PG_WRITE_EVENTS compiled once for psycopg


def _take_pending(session: Session | AsyncSession) -> list[tuple[uuid.UUID, list[tuple[str, dict[str, Any]]]]]:
    """The session's events by tenant, tenants in a fixed order (two multi-tenant transactions
    then take the counters in the same order and cannot deadlock)."""
    by_tenant: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
    for tenant_id, type_, data in session.info.pop("pending_events", []):
        by_tenant.setdefault(tenant_id, []).append((type_, data))
    return sorted(by_tenant.items(), key=lambda item: str(item[0]))


def _committed(session: Session | AsyncSession, tenant_id: uuid.UUID, first: int,
               items: list[tuple[str, dict[str, Any]]], at: datetime) -> None:
    frames = session.info.setdefault("committed_events", {}).setdefault(tenant_id, [])
    frames.extend(event_frame(first + i, t, d, at) for i, (t, d) in enumerate(items))


async def _write_pending_events_and_commit(session: AsyncSession) -> None:
    await session.flush()  # the transaction's other writes go first
    pending = _take_pending(session)
    if not pending:
        return
    if not _pg_sql:
        assert session.bind is not None
        _pg_sql.append(_PG_WRITE_EVENTS.compile(dialect=session.bind.dialect).string)
    driver = await pg_driver(session)
    now = utcnow()
    # One query string: the events of each tenant, then COMMIT, bound client-side (a query of
    # several statements cannot take server-side parameters). SQLAlchemy's own COMMIT then has
    # nothing to do. Cheaper than a pipeline, and just as short a hold on the sequence rows.
    async with AsyncClientCursor(driver) as cursor:
        statements = [cursor.mogrify(_pg_sql[0], {
            "tenant": tenant_id, "count": len(items), "at": now,
            "events": json.dumps([{"type": t, "data": d} for t, d in items])}) for tenant_id, items in pending]
        await cursor.execute("; ".join([*statements, "COMMIT"]))
        for tenant_id, items in pending:
            _committed(session, tenant_id, min(row[0] for row in await cursor.fetchall()), items, now)
            cursor.nextset()


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    if not session.info.get("pending_events"):
        return
    session.flush()  # the transaction's other writes go first, before the sequence is locked
    conn = session.connection()
    now = utcnow()
    for tenant_id, items in _take_pending(session):
        if conn.dialect.name == "postgresql":
            events = json.dumps([{"type": t, "data": d} for t, d in items])
            first = min(conn.execute(_PG_WRITE_EVENTS, {"tenant": tenant_id, "count": len(items), "at": now,
                                                        "events": events}).scalars())
        else:
            last = conn.execute(_BUMP_SEQUENCE, {"tenant": tenant_id, "count": len(items)}).scalar_one()
            first = last - len(items) + 1
            conn.execute(_INSERT_EVENT, [
                {"tenant_id": tenant_id, "seq": first + i, "type": t, "payload": d, "created_at": now}
                for i, (t, d) in enumerate(items)
            ])
        _committed(session, tenant_id, first, items, now)
