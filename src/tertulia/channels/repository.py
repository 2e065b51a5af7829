from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import SOURCE_OF_KIND, Channel
from tertulia.kit.db import fetch_rows, tenant_select


async def get_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel | None:
    stmt = tenant_select(Channel, tenant_id).where(Channel.id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_channels(session: AsyncSession, tenant_id: uuid.UUID) -> list[Channel]:
    stmt = tenant_select(Channel, tenant_id).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class InboundChannel:
    """What the inbound path needs of the channel a message arrives on (read without the ORM:
    every inbound message starts here)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    platform_origin: str
    enabled: bool
    assistant_id: uuid.UUID | None

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]

    @classmethod
    def of(cls, channel: Channel) -> InboundChannel:
        return cls(channel.id, channel.tenant_id, channel.kind, channel.platform_origin, channel.enabled,
                   channel.assistant_id)


_c = Channel.__table__.c
INBOUND_COLUMNS = (_c.id, _c.tenant_id, _c.kind, _c.platform_origin, _c.enabled, _c.assistant_id)
_BY_ID = select(*INBOUND_COLUMNS).where(_c.id == bindparam("channel_id"))
_BY_ID_AND_TOKEN = _BY_ID.where(_c.inbound_token_hash == bindparam("token_hash"))


async def open_inbound_channel(session: AsyncSession, channel_id: uuid.UUID,
                               token_hash: str | None) -> InboundChannel | None:
    """The channel a delivery is addressed to, whatever its tenant; with `token_hash` (the generic
    `api` channel's inbound token), only when that token opens it."""
    if token_hash is None:
        rows = await fetch_rows(session, _BY_ID, {"channel_id": channel_id}, prepare=True)
    else:
        rows = await fetch_rows(session, _BY_ID_AND_TOKEN, {"channel_id": channel_id, "token_hash": token_hash},
                                prepare=True)
    return InboundChannel(*rows[0]) if rows else None
