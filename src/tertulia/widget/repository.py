"""The widget's SQL: a web channel by id, a visitor's conversation and what it may read of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactIdentity
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import Reader, tenant_select

VISIBLE_OUTBOUND = ("sent", "delivered", "read")


async def web_channel(session: Reader, channel_id: uuid.UUID) -> Channel | None:
    """A `web` channel by id, whatever its tenant (the caller reads across tenants and says why)."""
    stmt = select(Channel).where(Channel.id == channel_id, Channel.kind == "web")
    return (await session.execute(stmt)).scalar_one_or_none()


async def visitor_conversation(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                               identities: Sequence[str]) -> Conversation | None:
    """The conversation on the channel of the contact a visitor's identities name (the first
    identity that has one wins: the verified user before the anonymous visitor)."""
    stmt = (tenant_select(ContactIdentity, tenant_id, ContactIdentity.external_id, Conversation)
            .join(Conversation, (Conversation.tenant_id == ContactIdentity.tenant_id)
                  & (Conversation.contact_id == ContactIdentity.contact_id)
                  & (Conversation.channel_id == ContactIdentity.channel_id))
            .where(ContactIdentity.channel_id == channel_id, ContactIdentity.external_id.in_(list(identities))))
    found = {row.external_id: row.Conversation for row in (await session.execute(stmt)).all()}
    return next((found[i] for i in identities if i in found), None)


async def visible_messages(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *,
                           after: int | None = None, limit: int = 50) -> list[Message]:
    """What the visitor may read of its conversation, oldest first: its own messages, and ours once
    they left (never a queued or failed reply, a system line or a deleted message). Without
    `after`, the last `limit`; with it, the next `limit` after that id."""
    stmt = (tenant_select(Message, tenant_id)
            .where(Message.conversation_id == conversation_id, Message.deleted_at.is_(None),
                   or_(Message.author == "contact",
                       Message.author.in_(("ai", "human")) & Message.status.in_(VISIBLE_OUTBOUND))))
    if after is not None:
        rows = (await session.execute(stmt.where(Message.id > after).order_by(Message.id).limit(limit))).scalars()
        return list(rows)
    rows = (await session.execute(stmt.order_by(Message.id.desc()).limit(limit))).scalars()
    return list(reversed(list(rows)))


async def lock_outbound(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                        ids: Sequence[int] | None = None, up_to: int | None = None,
                        statuses: Sequence[str] = ("sent", "delivered")) -> list[Message]:
    """Our messages of a conversation whose status a visitor's socket or read receipt moves."""
    stmt = (tenant_select(Message, tenant_id)
            .where(Message.conversation_id == conversation_id, Message.direction == "outbound",
                   Message.status.in_(list(statuses))))
    if ids is not None:
        stmt = stmt.where(Message.id.in_(list(ids)))
    if up_to is not None:
        stmt = stmt.where(Message.id <= up_to)
    return list((await session.execute(stmt.order_by(Message.id).with_for_update())).scalars())


async def set_contact_email(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID, email: str,
                            now: datetime) -> None:
    """What the pre-chat form gave, kept on the contact unless it already has an e-mail."""
    contact = (await session.execute(tenant_select(Contact, tenant_id).where(Contact.id == contact_id)
                                     .with_for_update())).scalar_one_or_none()
    if contact is not None and not (contact.custom_attributes or {}).get("email"):
        contact.custom_attributes = {**(contact.custom_attributes or {}), "email": email}
        contact.updated_at = now
