"""SQL for conversations and messages, always filtered to one tenant."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactTag, Tag
from tertulia.contacts.repository import like_pattern
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import fetch_rows, tenant_select


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


# The inbox list is the hottest read: its statements are built once per combination of filters
# (with bound parameters for every value) and kept, so a request neither rebuilds nor re-hashes
# SQL (building the ORM statement cost more than running it), and rows come back as plain Core
# tuples instead of ORM objects.
#
# `q` (a fragment of a name or phone) is served on PostgreSQL by one statement with two plans, of
# which it runs one. First it walks the newest Q_WINDOW conversations (the inbox index, the
# condition checked on each row): when they hold a full page of matches, that page is the answer,
# since the window is a prefix of the list's order. Otherwise matches are rare, and all of them are
# collected through trigram indexes (on the conversation's copy of its contact's name and phone)
# and sorted. A one-time filter on the window's real count picks the branch: the planner cannot
# estimate a LIKE '%...%' pattern well enough to choose, and left to itself it walked every
# conversation of the tenant for a rare fragment. (Tags need no such help: the planner knows each
# tag's frequency and picks the right plan itself.) SQLite, which has no trigram index, just
# filters.
Q_WINDOW = 1000

_conv = Conversation.__table__
_contact = Contact.__table__
_channel = Channel.__table__
_contact_tag = ContactTag.__table__
_tag = Tag.__table__


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One row of the inbox list, with the attributes `service.summary_row` reads."""

    id: uuid.UUID
    contact_id: uuid.UUID
    channel_source: str
    status: str
    ai_state: str
    unread_count: int
    last_message_at: datetime
    last_message_preview: str
    last_inbound_at: datetime | None
    display_name: str
    phone: str | None
    platform_origin: str
    tags: list[Any]

    @property
    def is_locked(self) -> bool:
        return self.ai_state == "human_override"


@dataclass(frozen=True, slots=True)
class InboxTag:
    id: uuid.UUID
    name: str
    color: str


def _q_condition(q: Any, columns: Any = _conv.c) -> Any:
    # The conversation's copy of its contact's name and phone (migration 0003): one table to read.
    return or_(func.lower(columns.contact_name).like(q, escape="\\"), columns.contact_phone.like(q, escape="\\"))


_PAGE_COLUMNS = (_conv.c.id, _conv.c.contact_id, _conv.c.channel_id, _conv.c.channel_source, _conv.c.status,
                 _conv.c.ai_state, _conv.c.unread_count, _conv.c.last_message_at, _conv.c.last_message_preview,
                 _conv.c.last_inbound_at)


def _filtered(shape: frozenset[str], columns: Sequence[Any] = _PAGE_COLUMNS) -> Select[Any]:
    """The conversations these filters pass (the keyset cursor included), unsorted. Each filter
    has an index that leads with (tenant_id, filter column, last_message_at, id)."""
    tenant: Any = bindparam("tenant_id")
    stmt = select(*columns).where(_conv.c.tenant_id == tenant)
    if "ai_state" in shape:
        stmt = stmt.where(_conv.c.ai_state == bindparam("ai_state"))
    if "channel_source" in shape:
        stmt = stmt.where(_conv.c.channel_source == bindparam("channel_source"))
    if "status" in shape:
        stmt = stmt.where(_conv.c.status == bindparam("status"))
    if "tag_id" in shape:
        stmt = stmt.where(exists().where(
            _contact_tag.c.tenant_id == tenant, _contact_tag.c.tag_id == bindparam("tag_id"),
            _contact_tag.c.contact_id == _conv.c.contact_id))
    if "q" in shape:
        stmt = stmt.where(_q_condition(bindparam("q")))
    if "after" in shape:
        stmt = stmt.where(tuple_(_conv.c.last_message_at, _conv.c.id)
                          < tuple_(bindparam("after_at", type_=_conv.c.last_message_at.type),
                                   bindparam("after_id", type_=_conv.c.id.type)))
    return stmt


def _paged(stmt: Any, columns: Any, shape: frozenset[str]) -> Any:
    """Most recent first (keyset order: last_message_at, id), one page."""
    stmt = stmt.order_by(columns.last_message_at.desc(), columns.id.desc()).limit(bindparam("limit"))
    return stmt.offset(bindparam("offset")) if "offset" in shape else stmt


def _page(shape: frozenset[str], dialect: str) -> Any:
    """The page's conversations; only its rows are then joined to contacts, channels and tags."""
    if "q" not in shape or dialect != "postgresql":
        return _paged(_filtered(shape), _conv.c, shape).subquery("page")
    q: Any = bindparam("q")
    window = (_filtered(shape - {"q"}, (*_PAGE_COLUMNS, _conv.c.contact_name, _conv.c.contact_phone))
              .order_by(_conv.c.last_message_at.desc(), _conv.c.id.desc()).limit(bindparam("q_window"))
              .subquery("q_window"))
    hits = _paged(select(*(window.c[c.name] for c in _PAGE_COLUMNS)).where(_q_condition(q, window.c)),
                  window.c, shape).cte("q_hits")
    found = select(func.count()).select_from(hits).scalar_subquery()
    # Materialized, so the planner cannot turn "all matches, then the newest" back into a walk.
    matches = _filtered(shape, (_conv.c.id, _conv.c.last_message_at)).cte("q_matches").prefix_with("MATERIALIZED")
    sparse_ids = _paged(select(matches), matches.c, shape).subquery("sparse_ids")
    sparse = (select(*_PAGE_COLUMNS).select_from(sparse_ids)
              .join(_conv, and_(_conv.c.tenant_id == bindparam("tenant_id"), _conv.c.id == sparse_ids.c.id))
              .subquery("sparse"))
    return union_all(select(hits).where(found >= bindparam("limit")),
                     select(sparse).where(found < bindparam("limit"))).subquery("page")


@functools.cache
def inbox_statement(shape: frozenset[str], dialect: str) -> Select[Any]:
    """The whole list in one statement: the page's conversations with their contact, channel and
    tags (most recently applied first): a row per (conversation, tag), or one with no tag."""
    page = _page(shape, dialect)
    tenant: Any = bindparam("tenant_id")
    p = page.c
    return (
        select(p.id, p.contact_id, p.channel_source, p.status, p.ai_state, p.unread_count, p.last_message_at,
               p.last_message_preview, p.last_inbound_at, _contact.c.display_name, _contact.c.phone,
               _channel.c.platform_origin, _tag.c.id, _tag.c.name, _tag.c.color)
        .select_from(page)
        .join(_contact, and_(_contact.c.tenant_id == tenant, _contact.c.id == p.contact_id))
        .join(_channel, and_(_channel.c.tenant_id == tenant, _channel.c.id == p.channel_id))
        .outerjoin(_contact_tag, and_(_contact_tag.c.tenant_id == tenant, _contact_tag.c.contact_id == p.contact_id))
        .outerjoin(_tag, and_(_tag.c.tenant_id == tenant, _tag.c.id == _contact_tag.c.tag_id))
        .order_by(p.last_message_at.desc(), p.id.desc(), _contact_tag.c.applied_at.desc(), _tag.c.name)
    )


def inbox_params(tenant_id: uuid.UUID, *, ai_state: str | None = None, channel_source: str | None = None,
                 status: str | None = None, tag_id: uuid.UUID | None = None, q: str | None = None,
                 after: tuple[datetime, uuid.UUID] | None = None, limit: int = 20,
                 offset: int = 0) -> dict[str, Any]:
    """The bound values of inbox_statement; its shape is the set of their names."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "limit": limit}
    for name, value in (("ai_state", ai_state), ("channel_source", channel_source), ("status", status),
                        ("tag_id", tag_id)):
        if value is not None:
            params[name] = value
    if q:
        params["q"] = like_pattern(q.lower())
        params["q_window"] = Q_WINDOW + offset
    if after is not None:
        params["after_at"], params["after_id"] = after
    if offset:
        params["offset"] = offset
    return params


def inbox_shape(params: dict[str, Any]) -> frozenset[str]:
    shape = set(params) - {"tenant_id", "limit", "after_id", "q_window"}
    if "after_at" in shape:
        shape.discard("after_at")
        shape.add("after")
    return frozenset(shape)


def group_inbox_rows(rows: Sequence[Any]) -> list[InboxRow]:
    """Fold inbox_statement's rows (already in list order) into one entry per conversation."""
    grouped: list[InboxRow] = []
    for (cid, contact_id, source, status, ai_state, unread, last_at, preview, inbound_at, name, phone, origin,
         tag_id, tag_name, tag_color) in rows:
        if not grouped or grouped[-1].id != cid:
            grouped.append(InboxRow(cid, contact_id, source, status, ai_state, unread, last_at, preview,
                                    inbound_at, name, phone, origin, []))
        if tag_id is not None:
            grouped[-1].tags.append(InboxTag(tag_id, tag_name, tag_color))
    return grouped


_TAG_BY_KEY = select(_tag.c.id).where(_tag.c.tenant_id == bindparam("tenant_id"),
                                      _tag.c.name_key == bindparam("name_key"))


async def tag_id_by_name(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The inbox's tag filter given by name (case-insensitive), read as the list itself is."""
    rows = await fetch_rows(session, _TAG_BY_KEY, {"tenant_id": tenant_id, "name_key": name.strip().casefold()})
    return rows[0][0] if rows else None


async def list_inbox(session: AsyncSession, tenant_id: uuid.UUID, **filters: Any) -> list[InboxRow]:
    """The inbox list with each conversation's tags, in one statement (see inbox_statement)."""
    params = inbox_params(tenant_id, **filters)
    dialect = session.bind.dialect.name if session.bind is not None else ""
    stmt = inbox_statement(inbox_shape(params), dialect)
    return group_inbox_rows(await fetch_rows(session, stmt, params))


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
