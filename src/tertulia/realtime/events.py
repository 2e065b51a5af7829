"""The tenant event log: every change appends an event with the tenant's next sequence number.

Events are collected on the session and written at commit time, in one statement that bumps the
tenant's counter (`tenant_sequences`). The row lock taken by that UPDATE serialises concurrent
writers of one tenant only for the instant before COMMIT, and a rolled-back transaction rolls
its numbers back too, so the sequence never repeats and never skips.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tertulia.kit.db import after_commit, utcnow
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


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    pending: list[tuple[uuid.UUID, str, dict[str, Any]]] = session.info.pop("pending_events", [])
    if not pending:
        return
    session.flush()
    by_tenant: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
    for tenant_id, type_, data in pending:
        by_tenant.setdefault(tenant_id, []).append((type_, data))
    committed: dict[uuid.UUID, list[dict[str, Any]]] = session.info.setdefault("committed_events", {})
    now = utcnow()
    # A fixed order of tenants keeps two multi-tenant transactions from deadlocking on the counters.
    for tenant_id in sorted(by_tenant, key=str):
        items = by_tenant[tenant_id]
        last = session.execute(
            update(TenantSequence)
            .where(TenantSequence.tenant_id == tenant_id)
            .values(last_event_seq=TenantSequence.last_event_seq + len(items))
            .returning(TenantSequence.last_event_seq)
        ).scalar_one()
        first = last - len(items) + 1
        session.execute(insert(TenantEvent), [
            {"tenant_id": tenant_id, "seq": first + i, "type": t, "payload": d, "created_at": now}
            for i, (t, d) in enumerate(items)
        ])
        committed.setdefault(tenant_id, []).extend(
            event_frame(first + i, t, d, now) for i, (t, d) in enumerate(items))
