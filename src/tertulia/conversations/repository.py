"""SQL for conversations and messages, always filtered to one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactTag
from tertulia.contacts.repository import like_pattern
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import tenant_select


async def get_conversation(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                           *, for_update: bool = False) -> Conversation | None:
    stmt = tenant_select(Conversation, tenant_id).where(Conversation.id == conversation_id)
    if for_update:
        # Serialises writers of one conversation, so message ids are assigned in commit order
        # within it and `after_id` delta sync can never skip a message that commits late.
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_conversation(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                            contact_id: uuid.UUID) -> Conversation | None:
    stmt = tenant_select(Conversation, tenant_id).where(
        Conversation.channel_id == channel_id, Conversation.contact_id == contact_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def inbox_query(
    tenant_id: uuid.UUID, *, ai_state: str | None = None, channel_source: str | None = None,
    status: str | None = None, tag_id: uuid.UUID | None = None, q: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None, limit: int = 20, offset: int = 0,
) -> Any:
    """The inbox list: most recent first, keyset-paged on (last_message_at, id). Each filter has an
    index that leads with (tenant_id, filter column, last_message_at, id)."""
    stmt = (
        tenant_select(Conversation, tenant_id, Conversation, Contact.display_name, Contact.phone,
                      Channel.platform_origin)
        .join(Contact, and_(Contact.tenant_id == Conversation.tenant_id, Contact.id == Conversation.contact_id))
        .join(Channel, and_(Channel.tenant_id == Conversation.tenant_id, Channel.id == Conversation.channel_id))
    )
    if ai_state:
        stmt = stmt.where(Conversation.ai_state == ai_state)
    if channel_source:
        stmt = stmt.where(Conversation.channel_source == channel_source)
    if status:
        stmt = stmt.where(Conversation.status == status)
    if tag_id:
        stmt = stmt.where(exists().where(
            ContactTag.tenant_id == tenant_id, ContactTag.tag_id == tag_id,
            ContactTag.contact_id == Conversation.contact_id))
    if q:
        pattern = like_pattern(q.lower())
        stmt = stmt.where(or_(func.lower(Contact.display_name).like(pattern, escape="\\"),
                              Contact.phone.like(pattern, escape="\\")))
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(*after))
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


async def list_inbox(session: AsyncSession, tenant_id: uuid.UUID, **filters: Any) -> list[Any]:
    return list((await session.execute(inbox_query(tenant_id, **filters))).all())


async def get_message(session: AsyncSession, tenant_id: uuid.UUID, message_id: int) -> Message | None:
    stmt = tenant_select(Message, tenant_id).where(Message.id == message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_message_by_provider_id(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                                      provider_message_id: str) -> Message | None:
    stmt = tenant_select(Message, tenant_id).where(
        Message.channel_id == channel_id, Message.provider_message_id == provider_message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_messages(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *,
                        after_id: int | None, before_id: int | None, limit: int) -> list[Message]:
    """Oldest first. `after_id`: the messages after it (delta sync). Otherwise the latest `limit`
    messages, optionally before `before_id` (paging back)."""
    stmt = tenant_select(Message, tenant_id).where(Message.conversation_id == conversation_id)
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id).order_by(Message.id.asc()).limit(limit)
        return list((await session.execute(stmt)).scalars())
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    stmt = stmt.order_by(Message.id.desc()).limit(limit)
    return list(reversed((await session.execute(stmt)).scalars().all()))
