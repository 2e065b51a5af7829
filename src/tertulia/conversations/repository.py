"""SQL for conversations and messages, always filtered to one tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactTag, Tag
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


# `q` (a fragment of a name or phone) is resolved to contacts first when it matches few of them:
# their ids come from the trigram indexes, then only their conversations are sorted. When it
# matches many, walking the inbox index newest first fills a page within a few thousand rows. The
# choice is made on the real count (never reading more ids than this): the planner cannot
# estimate a LIKE '%...%' pattern, and takes the LIMITed walk even when it must pass every
# conversation of the tenant to find a handful. (Tags need no such help: the planner knows each
# tag's frequency and picks the right plan itself.)
SPARSE_Q_CONTACTS = 1000


def matching_contacts_query(tenant_id: uuid.UUID, q: str, limit: int = SPARSE_Q_CONTACTS + 1) -> Select[Any]:
    """Contacts whose name or phone contains `q`, at most `limit` of them."""
    return tenant_select(Contact, tenant_id, Contact.id).where(_q_condition(q)).limit(limit)


def narrow_q_to_contacts(filters: dict[str, Any], matching: Sequence[uuid.UUID]) -> dict[str, Any] | None:
    """inbox_query's arguments once the contacts matching `q` are known (None: no row can match).
    The same rows come back either way; only the plan changes."""
    if not matching:
        return None
    if len(matching) > SPARSE_Q_CONTACTS:
        return filters
    return {**filters, "q": None, "contact_ids": list(matching)}


def _q_condition(q: str) -> Any:
    pattern = like_pattern(q.lower())
    return or_(func.lower(Contact.display_name).like(pattern, escape="\\"),
               Contact.phone.like(pattern, escape="\\"))


def inbox_query(
    tenant_id: uuid.UUID, *, ai_state: str | None = None, channel_source: str | None = None,
    status: str | None = None, tag_id: uuid.UUID | None = None, q: str | None = None,
    contact_ids: Sequence[uuid.UUID] | None = None,
    after: tuple[datetime, uuid.UUID] | None = None, limit: int = 20, offset: int = 0,
) -> Any:
    """The inbox list's page of conversations: most recent first, keyset-paged on
    (last_message_at, id). Each filter has an index that leads with (tenant_id, filter column,
    last_message_at, id); `contact_ids` limits the list to those contacts' conversations (see
    SPARSE_Q_CONTACTS). Contacts are joined only when `q` needs them: inbox_page_query joins the
    rest to the page's rows alone, not to every candidate the filters pass over."""
    stmt = tenant_select(Conversation, tenant_id)
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
        stmt = stmt.join(Contact, and_(Contact.tenant_id == Conversation.tenant_id,
                                       Contact.id == Conversation.contact_id)).where(_q_condition(q))
    if contact_ids is not None:
        stmt = stmt.where(Conversation.contact_id.in_(contact_ids))
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(*after))
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


def inbox_page_query(tenant_id: uuid.UUID, **filters: Any) -> Select[Conversation, str, str | None, str, Tag]:
    """inbox_query's page together with each row's tags (most recently applied first), so one
    statement serves the whole list: a row per (conversation, tag), or one with no tag."""
    page = inbox_query(tenant_id, **filters).subquery("page")
    conversation = aliased(Conversation, page)
    return (
        select(conversation, Contact.display_name, Contact.phone, Channel.platform_origin, Tag)
        .join(Contact, and_(Contact.tenant_id == tenant_id, Contact.id == page.c.contact_id))
        .join(Channel, and_(Channel.tenant_id == tenant_id, Channel.id == page.c.channel_id))
        .outerjoin(ContactTag, and_(ContactTag.tenant_id == tenant_id, ContactTag.contact_id == page.c.contact_id))
        .outerjoin(Tag, and_(Tag.tenant_id == tenant_id, Tag.id == ContactTag.tag_id))
        .order_by(page.c.last_message_at.desc(), page.c.id.desc(), ContactTag.applied_at.desc(), Tag.name)
    )


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    display_name: str
    phone: str | None
    platform_origin: str
    tags: list[Tag]


def group_inbox_rows(rows: Sequence[Any]) -> list[InboxRow]:
    """Fold inbox_page_query's rows (already in list order) into one entry per conversation."""
    grouped: list[InboxRow] = []
    for conversation, display_name, phone, platform_origin, tag in rows:
        if not grouped or grouped[-1].conversation is not conversation:
            grouped.append(InboxRow(conversation, display_name, phone, platform_origin, []))
        if tag is not None:
            grouped[-1].tags.append(tag)
    return grouped


async def list_inbox(session: AsyncSession, tenant_id: uuid.UUID, **filters: Any) -> list[InboxRow]:
    """The inbox list with each conversation's tags: one statement, preceded for `q` by the
    contact lookup that chooses its plan (see SPARSE_Q_CONTACTS)."""
    if filters.get("q"):
        matching = (await session.execute(matching_contacts_query(tenant_id, filters["q"]))).scalars().all()
        narrowed = narrow_q_to_contacts(filters, matching)
        if narrowed is None:
            return []
        filters = narrowed
    return group_inbox_rows((await session.execute(inbox_page_query(tenant_id, **filters))).all())


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
