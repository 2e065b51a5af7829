"""SQL for channels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from tertulia.channels.models import SOURCE_OF_KIND, Channel
from tertulia.kit.db import Reader, tenant_select


async def get_channel(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel | None:
    stmt = tenant_select(Channel, tenant_id).where(Channel.id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_channels(session: Reader, tenant_id: uuid.UUID) -> list[Channel]:
    stmt = tenant_select(Channel, tenant_id).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class InboundChannel:
    """What the inbound path needs of the channel a message arrives on."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    platform_origin: str
    enabled: bool
    assistant_id: uuid.UUID | None
    inbound_token_hash: str | None

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]


_c = Channel.__table__.c


async def channels_by_id(session: Reader, channel_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, InboundChannel]:
    """The channels deliveries are addressed to, whatever their tenant: the address (a webhook's
    URL, the inbound API's path) names the channel, and the channel says whose it is. Crosses
    tenants: run it in a session that says so."""
    if not channel_ids:
        return {}
    stmt = select(_c.id, _c.tenant_id, _c.kind, _c.platform_origin, _c.enabled, _c.assistant_id,
                  _c.inbound_token_hash).where(_c.id.in_(list(set(channel_ids))))
    return {row.id: InboundChannel(*row) for row in await session.execute(stmt)}
