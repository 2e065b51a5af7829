"""The tenant event log: every change appends an event with the tenant's next sequence number.

`record_event` collects events on the session; they are written when it commits, in the same
transaction (`before_commit`), together with the bump of the tenant's counter
(`tenant_sequences`), and published on the bus after the commit. The counter's row stays locked
from the bump to the end of COMMIT, which serialises the commits of one tenant for that moment
only (on PostgreSQL the bump and the INSERT are one statement to keep that moment short); a
rolled-back transaction rolls its numbers back too, so the sequence never repeats and never skips.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Integer, Table, bindparam, column, event, func, insert, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tertulia.kit.db import ALL_TENANTS, after_commit, state_tenant, utcnow
from tertulia.realtime.models import TenantEvent
from tertulia.tenancy.models import TenantSequence

_events = cast(Table, TenantEvent.__table__)
_sequences = cast(Table, TenantSequence.__table__)


def record_event(session: AsyncSession, tenant_id: uuid.UUID, type_: str, data: dict[str, Any]) -> None:
    """Append an event to the tenant's log when this session commits (and publish it then)."""
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


_INSERT_EVENTS = insert(_events).returning(_events.c.seq)


# Built once per database, on first use, like the INSERT above: building it on every commit
# showed in the inbound path's profile.
@functools.cache
def _bump_statement(dialect: str) -> Any:
    """Add `count` to the tenant's counter (creating it at `count`); returns its new value."""
    count = bindparam("count", type_=Integer())
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(_sequences).values(
        tenant_id=bindparam("tenant_id", type_=_sequences.c.tenant_id.type), last_event_seq=count)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id"], set_={"last_event_seq": _sequences.c.last_event_seq + count},
    ).returning(_sequences.c.last_event_seq)


@functools.cache
def _bump_and_insert_statement() -> Any:
    """PostgreSQL: the bump and the events' INSERT as one statement (a data-modifying CTE), so the
    counter's row is held for that statement and COMMIT only, not for a round trip more and the
    event loop's turn between them (under load the loop's turn was most of the hold, and every
    writer of the tenant queued behind it). SQLite has one writer at a time and no such CTE."""
    count = bindparam("count", type_=Integer())
    bump = _bump_statement("postgresql").cte("bump")
    items = func.json_array_elements(bindparam("items", type_=postgresql.JSON())).table_valued(
        column("item", postgresql.JSON()), with_ordinality="i").render_derived()
    rows = select(
        bindparam("tenant_id", type_=_events.c.tenant_id.type),
        bump.c.last_event_seq - count + items.c.i,
        items.c.item["type"].astext,
        items.c.item["data"],
        bindparam("now", type_=DateTime(timezone=True)),
    ).select_from(bump).join(items, literal_column("true"))
    return (insert(_events).from_select(["tenant_id", "seq", "type", "payload", "created_at"], rows)
            .add_cte(bump).returning(_events.c.seq))


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    pending = session.info.pop("pending_events", None)
    if not pending:
        return
    session.flush()  # the transaction's other writes go first, before the counter is locked
    by_tenant: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
    for tenant_id, type_, data in pending:
        by_tenant.setdefault(tenant_id, []).append((type_, data))
    conn = session.connection()
    now = utcnow()
    committed = session.info.setdefault("committed_events", {})
    # Tenants in a fixed order: two transactions with events of several tenants then take the
    # counters in the same order and cannot deadlock.
    for tenant_id, items in sorted(by_tenant.items(), key=lambda item: str(item[0])):
        if session.info.get("tenant") != ALL_TENANTS:
            state_tenant(session, tenant_id)  # row-level security: a tenant's events are written as that tenant
        if conn.dialect.name == "postgresql":
            first = min(conn.execute(_bump_and_insert_statement(), {
                "tenant_id": tenant_id, "count": len(items), "now": now,
                "items": [{"type": t, "data": d} for t, d in items]}).scalars())
        else:
            first = conn.execute(_bump_statement(conn.dialect.name), {"tenant_id": tenant_id, "count": len(items)}
                                 ).scalar_one() - len(items) + 1
            # RETURNING makes it one multi-row INSERT (SQLAlchemy's "insertmanyvalues").
            conn.execute(_INSERT_EVENTS, [
                {"tenant_id": tenant_id, "seq": first + i, "type": t, "payload": d, "created_at": now}
                for i, (t, d) in enumerate(items)])
        committed.setdefault(tenant_id, []).extend(
            event_frame(first + i, t, d, now) for i, (t, d) in enumerate(items))
