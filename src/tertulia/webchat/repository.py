"""SQL of the panel chatbot: its sessions and messages, the figures of its metrics, and the inbox
questions its built-in tools answer. Always filtered to one tenant (and, for sessions, one user)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.contacts.models import ContactTag, Tag
from tertulia.conversations.models import Conversation
from tertulia.kit.db import Reader, tenant_select, tenant_update
from tertulia.tenancy.models import Membership, Tenant, User
from tertulia.webchat.models import ChatMessage, ChatSession

# --- sessions and messages --------------------------------------------------------------------


async def active_session(session: Reader, tenant_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession | None:
    stmt = (tenant_select(ChatSession, tenant_id)
            .where(ChatSession.user_id == user_id, ChatSession.status == "active")
            .order_by(ChatSession.last_activity_at.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_session(session: Reader, tenant_id: uuid.UUID, user_id: uuid.UUID, session_id: int) -> ChatSession | None:
    stmt = tenant_select(ChatSession, tenant_id).where(ChatSession.user_id == user_id, ChatSession.id == session_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_sessions(session: Reader, tenant_id: uuid.UUID, user_id: uuid.UUID, limit: int) -> list[Any]:
    """The user's sessions, most recently active first, with their first user message (a title)
    and message count."""
    first = (tenant_select(ChatMessage, tenant_id, ChatMessage.content)
             .where(ChatMessage.session_id == ChatSession.id, ChatMessage.role == "user")
             .order_by(ChatMessage.id).limit(1).correlate(ChatSession).scalar_subquery())
    count = (tenant_select(ChatMessage, tenant_id, func.count())
             .where(ChatMessage.session_id == ChatSession.id, ChatMessage.role != "tool")
             .correlate(ChatSession).scalar_subquery())
    stmt = (tenant_select(ChatSession, tenant_id, ChatSession.id, ChatSession.status, ChatSession.created_at,
                          ChatSession.last_activity_at, first.label("title"), count.label("messages"))
            .where(ChatSession.user_id == user_id)
            .order_by(ChatSession.last_activity_at.desc(), ChatSession.id.desc()).limit(limit))
    return list((await session.execute(stmt)).all())


async def close_active_sessions(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, at: datetime) -> None:
    await session.execute(tenant_update(ChatSession, tenant_id)
                          .where(ChatSession.user_id == user_id, ChatSession.status == "active")
                          .values(status="closed", closed_at=at))


async def touch_session(session: AsyncSession, tenant_id: uuid.UUID, session_id: int, at: datetime) -> None:
    await session.execute(tenant_update(ChatSession, tenant_id).where(ChatSession.id == session_id)
                          .values(last_activity_at=at))


async def history(session: Reader, tenant_id: uuid.UUID, session_id: int, limit: int) -> list[ChatMessage]:
    """The session's last `limit` messages shown to people (no tool rows), oldest first."""
    stmt = (tenant_select(ChatMessage, tenant_id)
            .where(ChatMessage.session_id == session_id, ChatMessage.role != "tool")
            .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(limit))
    return list(reversed((await session.execute(stmt)).scalars().all()))


async def last_attachment(session: Reader, tenant_id: uuid.UUID, session_id: int) -> list[dict[str, Any]]:
    """The attachments of the session's latest user message that had any."""
    stmt = (tenant_select(ChatMessage, tenant_id, ChatMessage.attachments)
            .where(ChatMessage.session_id == session_id, ChatMessage.role == "user")
            .order_by(ChatMessage.id.desc()).limit(20))
    for (attachments,) in await session.execute(stmt):
        if attachments:
            return list(attachments)
    return []


# --- metrics ----------------------------------------------------------------------------------


async def message_counts(session: Reader, tenant_id: uuid.UUID, since: datetime) -> dict[str, int]:
    stmt = (tenant_select(ChatMessage, tenant_id, ChatMessage.role, func.count())
            .where(ChatMessage.created_at >= since).group_by(ChatMessage.role))
    return {role: n for role, n in await session.execute(stmt)}


async def tool_outcomes(session: Reader, tenant_id: uuid.UUID, since: datetime) -> list[Any]:
    """(tool, error_code or None, count) of the assistant rows that closed a tool run."""
    stmt = (tenant_select(ChatMessage, tenant_id, ChatMessage.tool_name, ChatMessage.error_code, func.count())
            .where(ChatMessage.created_at >= since, ChatMessage.role == "assistant",
                   ChatMessage.tool_name.is_not(None))
            .group_by(ChatMessage.tool_name, ChatMessage.error_code))
    return list((await session.execute(stmt)).all())


async def error_counts(session: Reader, tenant_id: uuid.UUID, since: datetime) -> dict[str, int]:
    stmt = (tenant_select(ChatMessage, tenant_id, ChatMessage.error_code, func.count())
            .where(ChatMessage.created_at >= since, ChatMessage.error_code.is_not(None))
            .group_by(ChatMessage.error_code))
    return {code: n for code, n in await session.execute(stmt)}


async def recent_latencies(session: Reader, tenant_id: uuid.UUID, since: datetime, limit: int) -> list[Any]:
    """(tool or None, latency_ms) of the latest answers, newest first."""
    stmt = (tenant_select(ChatMessage, tenant_id, ChatMessage.tool_name, ChatMessage.latency_ms)
            .where(ChatMessage.created_at >= since, ChatMessage.role == "assistant",
                   ChatMessage.latency_ms.is_not(None))
            .order_by(ChatMessage.created_at.desc()).limit(limit))
    return list((await session.execute(stmt)).all())


# --- identity for tests (TESTING=true only) ------------------------------------------------------


async def member_by_email(session: Reader, email: str) -> Any:
    """(user_id, display_name, tenant_id) of a person's first tenant by slug (crosses tenants)."""
    stmt = (select(User.id.label("user_id"), User.display_name, Membership.tenant_id)
            .join(Membership, Membership.user_id == User.id).join(Tenant, Tenant.id == Membership.tenant_id)
            .where(User.email == email.strip().lower()).order_by(Tenant.slug).limit(1))
    return (await session.execute(stmt)).first()


# --- the inbox, for the built-in tools ------------------------------------------------------------


async def waiting_for_human(session: Reader, tenant_id: uuid.UUID, limit: int) -> tuple[int, list[Any]]:
    """Open conversations a person owns whose customer spoke last (no human answer since): how
    many, and the longest-waiting ones."""
    waiting = and_(Conversation.status == "open", Conversation.ai_state == "human_override",
                   Conversation.last_inbound_at.is_not(None),
                   or_(Conversation.last_human_at.is_(None), Conversation.last_human_at < Conversation.last_inbound_at))
    total = (await session.execute(tenant_select(Conversation, tenant_id, func.count()).where(waiting))).scalar_one()
    rows = (await session.execute(
        tenant_select(Conversation, tenant_id, Conversation.id, Conversation.contact_name, Conversation.contact_phone,
                      Conversation.channel_source, Conversation.last_inbound_at, Conversation.last_message_preview,
                      Conversation.unread_count)
        .where(waiting).order_by(Conversation.last_inbound_at).limit(limit))).all()
    return int(total), list(rows)


async def conversations_since(session: Reader, tenant_id: uuid.UUID, since: datetime, tag_names: Sequence[str],
                              limit: int) -> list[Any]:
    """Conversations with a message since `since`, newest first; only the contacts with one of
    `tag_names` (case-insensitive) when given."""
    stmt = (tenant_select(Conversation, tenant_id, Conversation.id, Conversation.contact_name,
                          Conversation.contact_phone, Conversation.channel_source, Conversation.status,
                          Conversation.ai_state, Conversation.last_message_at, Conversation.last_message_preview,
                          Conversation.unread_count)
            .where(Conversation.last_message_at >= since)
            .order_by(Conversation.last_message_at.desc()).limit(limit))
    if tag_names:
        tagged = (select(ContactTag.contact_id)
                  .join(Tag, and_(Tag.tenant_id == tenant_id, Tag.id == ContactTag.tag_id))
                  .where(ContactTag.tenant_id == tenant_id,
                         Tag.name_key.in_([n.strip().casefold() for n in tag_names])))
        stmt = stmt.where(Conversation.contact_id.in_(tagged))
    return list((await session.execute(stmt)).all())


async def find_conversations(session: Reader, tenant_id: uuid.UUID, pattern: str, digits: str, limit: int) -> list[Any]:
    """Conversations whose contact's folded name (conversations/search.py) contains `pattern` or whose
    phone contains `digits`."""
    conditions = [Conversation.contact_key.like(pattern, escape="\\")]
    if digits:
        conditions.append(Conversation.contact_phone.like(f"%{digits}%"))
    stmt = (tenant_select(Conversation, tenant_id, Conversation.id, Conversation.contact_name,
                          Conversation.contact_phone, Conversation.channel_source, Conversation.status,
                          Conversation.ai_state, Conversation.last_message_at, Conversation.last_message_preview)
            .where(or_(*conditions)).order_by(Conversation.last_message_at.desc()).limit(limit))
    return list((await session.execute(stmt)).all())
