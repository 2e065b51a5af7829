from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.kit.db import tenant_select


async def get_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel | None:
    stmt = tenant_select(Channel, tenant_id).where(Channel.id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_channels(session: AsyncSession, tenant_id: uuid.UUID) -> list[Channel]:
    stmt = tenant_select(Channel, tenant_id).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())


# Built once: every inbound message starts here.
_BY_INBOUND_TOKEN = select(Channel).where(Channel.inbound_token_hash == bindparam("token_hash"))


async def get_channel_by_inbound_token(session: AsyncSession, token_hash: str) -> Channel | None:
    """The channel an inbound token opens, whatever its tenant (the token decides the tenant)."""
    return (await session.execute(_BY_INBOUND_TOKEN, {"token_hash": token_hash})).scalar_one_or_none()
