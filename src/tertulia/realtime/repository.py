from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.kit.db import Reader, tenant_delete, tenant_select
from tertulia.realtime.models import TenantEvent
from tertulia.tenancy.models import TenantSequence


async def events_after(session: Reader, tenant_id: uuid.UUID, after: int, limit: int) -> list[TenantEvent]:
    stmt = tenant_select(TenantEvent, tenant_id).where(TenantEvent.seq > after).order_by(TenantEvent.seq).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def events_between(session: Reader, tenant_id: uuid.UUID, after: int, upto: int,
                         limit: int) -> list[TenantEvent]:
    """Events with after < seq <= upto, in order (a socket filling a gap in what it was sent)."""
    stmt = (tenant_select(TenantEvent, tenant_id)
            .where(TenantEvent.seq > after, TenantEvent.seq <= upto).order_by(TenantEvent.seq).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def head_seq(session: Reader, tenant_id: uuid.UUID) -> int:
    """The tenant's last assigned sequence number (0 before its first event)."""
    stmt = tenant_select(TenantSequence, tenant_id, TenantSequence.last_event_seq)
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)


async def oldest_kept_event(session: Reader, tenant_id: uuid.UUID) -> tuple[int, datetime] | None:
    """(seq, created_at) of the oldest event still kept for the tenant, None when none is kept.
    A client can resume from seq S only if S >= oldest seq - 1 (or S is the head)."""
    stmt = (tenant_select(TenantEvent, tenant_id, TenantEvent.seq, TenantEvent.created_at)
            .order_by(TenantEvent.seq).limit(1))
    row = (await session.execute(stmt)).first()
    return (int(row[0]), row[1]) if row else None


async def first_event_since(session: Reader, tenant_id: uuid.UUID, since: datetime) -> int | None:
    """The lowest seq created at or after `since`. Walks the primary key in seq order, so the
    cost is the number of older rows (the ones about to be deleted)."""
    stmt = (tenant_select(TenantEvent, tenant_id, TenantEvent.seq)
            .where(TenantEvent.created_at >= since).order_by(TenantEvent.seq).limit(1))
    value = (await session.execute(stmt)).scalar_one_or_none()
    return int(value) if value is not None else None


async def delete_events_before(session: AsyncSession, tenant_id: uuid.UUID, before_seq: int) -> int:
    stmt = tenant_delete(TenantEvent, tenant_id).where(TenantEvent.seq < before_seq)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def tenants_with_events(session: Reader) -> list[uuid.UUID]:
    """Every tenant that has ever had an event (the retention job walks them one by one)."""
    stmt = select(TenantSequence.tenant_id).where(TenantSequence.last_event_seq > 0)
    return list((await session.execute(stmt)).scalars())
