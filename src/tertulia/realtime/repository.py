from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.kit.db import tenant_select
from tertulia.realtime.models import TenantEvent


async def events_after(session: AsyncSession, tenant_id: uuid.UUID, after: int, limit: int) -> list[TenantEvent]:
    stmt = tenant_select(TenantEvent, tenant_id).where(TenantEvent.seq > after).order_by(TenantEvent.seq).limit(limit)
    return list((await session.execute(stmt)).scalars())
