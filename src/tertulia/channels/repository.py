from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.kit.db import tenant_select


async def get_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel | None:
    stmt = tenant_select(Channel, tenant_id).where(Channel.id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_channels(session: AsyncSession, tenant_id: uuid.UUID) -> list[Channel]:
    stmt = tenant_select(Channel, tenant_id).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())
