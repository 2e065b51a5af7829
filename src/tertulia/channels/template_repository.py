"""SQL for WhatsApp message templates (channels/templates.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel, MessageTemplate
from tertulia.kit.db import Reader, tenant_select, tenant_update


async def channels_of_kinds(session: Reader, tenant_id: uuid.UUID, kinds: Sequence[str]) -> list[Channel]:
    """The tenant's channels of these kinds (those whose provider has message templates)."""
    stmt = (tenant_select(Channel, tenant_id).where(Channel.kind.in_(kinds))
            .order_by(Channel.created_at))
    return list((await session.execute(stmt)).scalars())


async def list_templates(session: Reader, tenant_id: uuid.UUID, *, channel_id: uuid.UUID | None = None,
                         status: str | None = None, language: str | None = None,
                         include_removed: bool = False) -> list[MessageTemplate]:
    stmt = tenant_select(MessageTemplate, tenant_id)
    if channel_id is not None:
        stmt = stmt.where(MessageTemplate.channel_id == channel_id)
    if status is not None:
        stmt = stmt.where(MessageTemplate.status == status)
    if language is not None:
        stmt = stmt.where(MessageTemplate.language == language)
    if not include_removed:
        stmt = stmt.where(MessageTemplate.removed_at.is_(None))
    stmt = stmt.order_by(MessageTemplate.name, MessageTemplate.language)
    return list((await session.execute(stmt)).scalars())


async def approved_templates(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> list[MessageTemplate]:
    """The templates that can be sent on a channel now."""
    return await list_templates(session, tenant_id, channel_id=channel_id, status="APPROVED")


async def get_template(session: Reader, tenant_id: uuid.UUID, template_id: uuid.UUID) -> MessageTemplate | None:
    stmt = tenant_select(MessageTemplate, tenant_id).where(MessageTemplate.id == template_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def templates_of_channel(session: AsyncSession, tenant_id: uuid.UUID,
                               channel_id: uuid.UUID) -> dict[tuple[str, str], MessageTemplate]:
    """Every template stored for a channel (removed ones too), by (name, language)."""
    stmt = tenant_select(MessageTemplate, tenant_id).where(MessageTemplate.channel_id == channel_id)
    return {(t.name, t.language): t for t in (await session.execute(stmt)).scalars()}


async def mark_removed(session: AsyncSession, tenant_id: uuid.UUID, template_ids: Sequence[uuid.UUID],
                       at: datetime) -> None:
    if template_ids:
        await session.execute(tenant_update(MessageTemplate, tenant_id)
                              .where(MessageTemplate.id.in_(list(template_ids))).values(removed_at=at, updated_at=at))
