"""SQL for conversations and messages, always filtered to one tenant."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    String,
    Table,
    Update,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import repository as channels_repo
from tertulia.channels.models import Channel
from tertulia.channels.repository import InboundChannel
from tertulia.contacts import repository as contacts_repo
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.contacts.repository import like_pattern
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import UTCDateTime, fetch_rows, tenant_select


async def get_conversation(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                           *, for_update: bool = False) -> Conversation | None:
    stmt = tenant_select(Conversation, tenant_id).where(Conversation.id == conversation_id)
    if for_update:
        # Serialises writers of one conversation, so message ids are assigned in commit order
        # within it and `after_id` delta sync can never skip a message that commits late.
        stmt = stmt.with_for_update()
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


@dataclass(slots=True)
class InboxRow:
    """One row of the inbox list, with the attributes `service.summary_row` reads. (Not frozen:
    a frozen dataclass's __init__ sets each field through object.__setattr__, 5x slower.)"""

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


@dataclass(slots=True)
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


_INDEXED_FILTERS = frozenset({"ai_state", "channel_source", "status"})


async def list_inbox(session: AsyncSession, tenant_id: uuid.UUID, **filters: Any) -> list[InboxRow]:
    """The inbox list with each conversation's tags, in one statement (see inbox_statement)."""
    params = inbox_params(tenant_id, **filters)
    dialect = session.bind.dialect.name if session.bind is not None else ""
    shape = inbox_shape(params)
    # With at most one of the indexed filters (AI/human, channel, status) and no tag or text, the
    # plan is the same for any values (walk that filter's index newest first), so it is prepared:
    # planning it cost more than running it. A tag's or a fragment's best plan depends on how
    # common it is, and so does which index serves a combination: a generic plan cannot see that.
    prepare = len(shape & _INDEXED_FILTERS) <= 1 and not shape & {"tag_id", "q"}
    return group_inbox_rows(await fetch_rows(session, inbox_statement(shape, dialect), params, prepare=prepare,
                                               by_position=True))


async def get_message(session: AsyncSession, tenant_id: uuid.UUID, message_id: int) -> Message | None:
    stmt = tenant_select(Message, tenant_id).where(Message.id == message_id)
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


# --- the inbound path ---------------------------------------------------------------------------
# Every inbound message runs these, so they are built once, with bound values, and run as Core
# statements; their rows become ORM objects only where a caller needs one. Bound names are never
# column names: an INSERT or UPDATE (also one nested in a WITH) takes a parameter named like one
# of its columns as a value to write.

_conv_table = cast(Table, _conv)  # the same table, typed as a target of INSERT and UPDATE
_identity = cast(Table, ContactIdentity.__table__)
_msg = cast(Table, Message.__table__)
# Typed here: a column that takes its type from a foreign key may not have it yet at import time.
_tenant_param: Any = bindparam("tenant", type_=Uuid())
_channel_param: Any = bindparam("channel", type_=Uuid())
_conversation_param: Any = bindparam("conversation", type_=Uuid())
_contact_param: Any = bindparam("contact", type_=Uuid())
_at: Any = bindparam("at", type_=UTCDateTime())
_now: Any = bindparam("now", type_=UTCDateTime())
_INSERTS = (("postgresql", postgresql), ("sqlite", sqlite))


@dataclass(frozen=True, slots=True)
class InboundTarget:
    """The conversation an inbound message goes to (locked), its contact and the contact's tags."""

    conversation_id: uuid.UUID
    contact_id: uuid.UUID
    tags: list[Any]  # with id, name and color


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A conversations row as a statement returned it: read-only, attached to no session (cheaper
    to make than an ORM object, which the inbound path made one of per message)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    contact_id: uuid.UUID
    channel_id: uuid.UUID
    channel_source: str
    status: str
    ai_state: str
    assignee_id: uuid.UUID | None
    unread_count: int
    last_message_at: datetime
    last_message_preview: str
    last_inbound_at: datetime | None
    last_inbound_message_id: int | None
    created_at: datetime
    updated_at: datetime
    contact_name: str
    contact_phone: str | None

    @property
    def is_locked(self) -> bool:
        return self.ai_state == "human_override"


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A messages row as written (see ConversationRow)."""

    id: int
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    channel_id: uuid.UUID
    direction: str
    author: str
    author_user_id: uuid.UUID | None
    content: str
    attachments: list[dict[str, Any]]
    status: str
    error: str | None
    provider_message_id: str | None
    correlation_id: str | None
    is_echo: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InboundWrite:
    """What storing an inbound message wrote: the conversation's row and the contact's name and phone."""

    conversation: ConversationRow
    message_id: int
    display_name: str
    phone: str | None


_CONVERSATION_COLUMNS = tuple(_conv.c.keys())
assert _CONVERSATION_COLUMNS == ConversationRow.__slots__, "ConversationRow must follow the table's columns"


def _conversation_row(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _CONVERSATION_COLUMNS}


_STORED_MESSAGE = select(_msg.c.conversation_id, _msg.c.id).where(
    _msg.c.tenant_id == _tenant_param, _msg.c.channel_id == _channel_param,
    _msg.c.provider_message_id == bindparam("provider_id"))

# The conversation of a channel identity, locked (see get_conversation), with the contact's tags
# for the inbox row the message will update: one round trip.
_INBOUND_TARGET = (
    select(_conv.c.id, _conv.c.contact_id, _tag.c.id.label("tag_id"), _tag.c.name.label("tag_name"),
           _tag.c.color.label("tag_color"))
    .select_from(_identity)
    .join(_conv, and_(_conv.c.tenant_id == _identity.c.tenant_id, _conv.c.channel_id == _identity.c.channel_id,
                      _conv.c.contact_id == _identity.c.contact_id))
    .outerjoin(_contact_tag, and_(_contact_tag.c.tenant_id == _conv.c.tenant_id,
                                  _contact_tag.c.contact_id == _conv.c.contact_id))
    .outerjoin(_tag, and_(_tag.c.tenant_id == _contact_tag.c.tenant_id, _tag.c.id == _contact_tag.c.tag_id))
    .where(_identity.c.tenant_id == _tenant_param, _identity.c.channel_id == _channel_param,
           _identity.c.external_id == bindparam("external_id"))
    .order_by(_contact_tag.c.applied_at.desc(), _tag.c.name)
    .with_for_update(of=_conv)
)

# INSERT ... ON CONFLICT DO NOTHING: a row that exists already (a concurrent first message, a
# repeated delivery) comes back as no row instead of an error that would need a savepoint.
_INSERT_CONVERSATION = {
    name: dialect.insert(_conv_table).values(
        id=bindparam("new_id", type_=Uuid()), tenant_id=_tenant_param, contact_id=_contact_param,
        channel_id=_channel_param, channel_source=bindparam("source"), status="open", ai_state="ai_active",
        unread_count=0, last_message_at=_at, last_message_preview="", created_at=_now, updated_at=_now)
    .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "contact_id"]).returning(_conv.c.id)
    for name, dialect in _INSERTS
}
_INSERT_INBOUND_MESSAGE = {
    name: dialect.insert(_msg).values(
        tenant_id=_tenant_param, conversation_id=_conversation_param, channel_id=_channel_param, direction="inbound",
        author="contact", content=bindparam("text"), attachments=bindparam("files", type_=_msg.c.attachments.type),
        status="received", provider_message_id=bindparam("provider_id"), is_echo=False, created_at=_at,
        updated_at=_now)
    .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "provider_message_id"])
    .returning(_msg.c.id)
    for name, dialect in _INSERTS
}


def _touch_conversation(inbound_message_id: Any = None) -> Update:
    """The UPDATE that moves a conversation's counters forward for a new message (an inbound one
    when `inbound_message_id` is given). Counters move in SQL, never read-modify-write; a message
    older than the last one (a late delivery with its own timestamp) leaves the last-message
    columns alone."""
    newer = _conv.c.last_message_at <= _at
    values: dict[str, Any] = {
        "last_message_at": case((newer, _at), else_=_conv.c.last_message_at),
        "last_message_preview": case((newer, bindparam("preview", type_=String())),
                                     else_=_conv.c.last_message_preview),
        "updated_at": _now,
    }
    if inbound_message_id is not None:
        values |= {
            "unread_count": _conv.c.unread_count + 1,
            "last_inbound_at": case((_conv.c.last_inbound_at.is_(None), _at), (_conv.c.last_inbound_at < _at, _at),
                                    else_=_conv.c.last_inbound_at),
            "last_inbound_message_id": inbound_message_id,
            "status": "open",
        }
    return (update(_conv_table).values(**values)
            .where(_conv.c.tenant_id == _tenant_param, _conv.c.id == _conversation_param))


_TOUCH_CONVERSATION = _touch_conversation().returning(*_conv.c)
_TOUCH_CONVERSATION_INBOUND = (_touch_conversation(bindparam("message_id", type_=_msg.c.id.type))
                               .returning(*_conv.c))


async def find_inbound_message(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                               provider_message_id: str) -> tuple[uuid.UUID, int] | None:
    """(conversation id, message id) of the message a channel already stored under this provider id."""
    conn = await session.connection()
    row = (await conn.execute(_STORED_MESSAGE, {"tenant": tenant_id, "channel": channel_id,
                                                 "provider_id": provider_message_id})).first()
    return (row.conversation_id, row.id) if row is not None else None


async def lock_inbound_target(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                              external_id: str) -> InboundTarget | None:
    """The locked conversation of this channel identity, or None when the identity or its
    conversation on this channel does not exist yet."""
    rows = await fetch_rows(session, _INBOUND_TARGET, {"tenant": tenant_id, "channel": channel_id,
                                                       "external_id": external_id}, prepare=True)
    if not rows:
        return None
    tags = [InboxTag(r.tag_id, r.tag_name, r.tag_color) for r in rows if r.tag_id is not None]
    return InboundTarget(rows[0].id, rows[0].contact_id, tags)


async def insert_conversation(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                              channel_source: str, contact_id: uuid.UUID, at: datetime,
                              now: datetime) -> uuid.UUID | None:
    """A new conversation of a contact on a channel (holding its row until commit, as a lock would),
    or None when it exists already."""
    conn = await session.connection()
    return (await conn.execute(_INSERT_CONVERSATION[conn.dialect.name], {
        "new_id": uuid.uuid4(), "tenant": tenant_id, "contact": contact_id, "channel": channel_id,
        "source": channel_source, "at": at, "now": now})).scalar_one_or_none()


async def write_inbound_message(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                                target: InboundTarget, *, provider_message_id: str, content: str,
                                attachments: list[dict[str, Any]], preview: str, at: datetime, now: datetime,
                                external_id: str, name: str | None, phone: str | None) -> InboundWrite | None:
    """Store an inbound message in its (locked) conversation, move the conversation's counters and
    touch the contact (see contacts.repository.TOUCH_CONTACT). None, with nothing written, when
    the channel already has a message under this provider id."""
    conn = await session.connection()
    params = {"tenant": tenant_id, "channel": channel_id, "conversation": target.conversation_id,
              "contact": target.contact_id, "provider_id": provider_message_id, "text": content,
              "files": attachments, "preview": preview, "at": at, "now": now,
              **contacts_repo.touch_contact_params(external_id, name, phone)}
    message_id = (await conn.execute(_INSERT_INBOUND_MESSAGE[conn.dialect.name], params)).scalar_one_or_none()
    if message_id is None:
        return None
    conversation = (await conn.execute(_TOUCH_CONVERSATION_INBOUND, {**params, "message_id": message_id})).one()
    contact = (await conn.execute(contacts_repo.TOUCH_CONTACT, params)).one()
    return InboundWrite(ConversationRow(**_conversation_row(conversation)), message_id, contact.display_name,
                        contact.phone)


# --- the inbound path, a batch at a time ---------------------------------------------------------
# The inbound writer stores whatever arrived while its previous batch was being written in one
# transaction. On PostgreSQL the batch's locks are one statement and its writes another, whatever
# its size: a round trip costs as much CPU as the statements themselves. SQLite (in-process, one
# writer) runs the single-message statements above in turn.

@dataclass(frozen=True, slots=True)
class InboundAddress:
    """Where a delivery goes: a channel (opened by the post's inbound token on the generic `api`
    channel; `token_hash` None: the caller authenticated it already) and the sender's identity on it."""

    channel_id: uuid.UUID
    external_id: str
    token_hash: str | None


@dataclass(frozen=True, slots=True)
class OpenedAddress:
    channel: InboundChannel | None  # None: no such channel, or the token does not open it
    target: InboundTarget | None  # the conversation, locked; None: not there yet (or no channel)


def _takes_messages(channel: InboundChannel, address: InboundAddress) -> bool:
    return channel.enabled and (address.token_hash is None or channel.kind == "api")


# One statement for a whole batch: each address's channel, and the conversations of the
# identities on channels that take messages, locked. Conversations are locked in the order of their
# ids, so batches of several processes (and the single-conversation writers elsewhere) never wait
# on each other in a circle.
_PG_OPEN_ADDRESSES = text("""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(:addresses AS json))
        AS i(ord int, channel_id uuid, token_hash text, external_id text)
), opened AS (
    SELECT i.ord, i.external_id, i.token_hash IS NOT NULL AS by_token,
           ch.id, ch.tenant_id, ch.kind, ch.platform_origin, ch.enabled, ch.assistant_id
    FROM input i
    JOIN channels ch ON ch.id = i.channel_id AND (i.token_hash IS NULL OR ch.inbound_token_hash = i.token_hash)
), locked AS (
    SELECT o.ord, c.id, c.contact_id, t.id AS tag_id, t.name AS tag_name, t.color AS tag_color,
           ct.applied_at AS tag_applied_at
    FROM opened o
    JOIN contact_identities ci
      ON ci.tenant_id = o.tenant_id AND ci.channel_id = o.id AND ci.external_id = o.external_id
    JOIN conversations c
      ON c.tenant_id = ci.tenant_id AND c.channel_id = ci.channel_id AND c.contact_id = ci.contact_id
    LEFT JOIN contact_tags ct ON ct.tenant_id = c.tenant_id AND ct.contact_id = c.contact_id
    LEFT JOIN tags t ON t.tenant_id = ct.tenant_id AND t.id = ct.tag_id
    WHERE o.enabled AND (NOT o.by_token OR o.kind = 'api')
    ORDER BY c.id
    FOR UPDATE OF c
)
SELECT o.ord, o.id, o.tenant_id, o.kind, o.platform_origin, o.enabled, o.assistant_id,
       l.id AS conversation_id, l.contact_id, l.tag_id, l.tag_name, l.tag_color
FROM opened o LEFT JOIN locked l ON l.ord = o.ord
ORDER BY o.ord, l.tag_applied_at DESC, l.tag_name
""")


async def open_inbound_addresses(session: AsyncSession,
                                 addresses: Sequence[InboundAddress]) -> list[OpenedAddress]:
    """For each address: its channel, and when the channel takes messages, the conversation of the
    identity on it, locked (see lock_inbound_target). On PostgreSQL one statement for the whole
    batch."""
    if not session.bind or session.bind.dialect.name != "postgresql":
        opened = []
        channels: dict[tuple[uuid.UUID, str | None], InboundChannel | None] = {}
        for address in addresses:
            key = (address.channel_id, address.token_hash)
            if key not in channels:
                channels[key] = await channels_repo.open_inbound_channel(session, *key)
            channel = channels[key]
            target = None
            if channel is not None and _takes_messages(channel, address):
                target = await lock_inbound_target(session, channel.tenant_id, channel.id, address.external_id)
            opened.append(OpenedAddress(channel, target))
        return opened
    rows = await fetch_rows(session, _PG_OPEN_ADDRESSES, {"addresses": json.dumps([
        {"ord": n, "channel_id": str(a.channel_id), "token_hash": a.token_hash, "external_id": a.external_id}
        for n, a in enumerate(addresses)])}, prepare=True)
    found: list[OpenedAddress] = [OpenedAddress(None, None)] * len(addresses)
    tags: list[Any] = []
    for n, row in enumerate(rows):
        if n == 0 or rows[n - 1].ord != row.ord:
            tags = []
            target = InboundTarget(row.conversation_id, row.contact_id, tags) if row.conversation_id else None
            found[row.ord] = OpenedAddress(InboundChannel(*row[1:7]), target)
        if row.tag_id is not None:
            tags.append(InboxTag(row.tag_id, row.tag_name, row.tag_color))
    return found


@dataclass(frozen=True, slots=True)
class InboundWriteParams:
    """One inbound message to store in its (locked) conversation."""

    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    target: InboundTarget
    provider_message_id: str
    content: str
    attachments: list[dict[str, Any]]
    preview: str
    at: datetime
    external_id: str
    name: str | None
    phone: str | None


# The batch's messages (a repeated delivery inserts nothing and writes nothing else), then each
# conversation's counters moved as the batch's messages would move them one by one (the newest
# message gives the preview; a tie goes to the later one), then each contact marked seen and
# given the first name and phone the batch offers (see contacts.repository.TOUCH_CONTACT). One
# row per stored message, with its conversation's row and its contact's name and phone as they
# are at the end.
_PG_WRITE_INBOUND_BATCH = text("""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(:batch AS json))
    AS i(ord int, tenant_id uuid, conversation_id uuid, contact_id uuid, channel_id uuid, provider_id text,
         content text, files json, preview text, at timestamptz, external_id text, given_name text,
         given_phone text)
), message AS (
    INSERT INTO messages (tenant_id, conversation_id, channel_id, direction, author, content, attachments,
                          status, provider_message_id, is_echo, created_at, updated_at)
    SELECT tenant_id, conversation_id, channel_id, 'inbound', 'contact', content, files,
           'received', provider_id, false, at, :now
    FROM input ORDER BY ord
    ON CONFLICT (tenant_id, channel_id, provider_message_id) DO NOTHING
    RETURNING id, tenant_id, channel_id, provider_message_id
), written AS (
    SELECT m.id AS message_id, i.* FROM message m
    JOIN input i ON i.tenant_id = m.tenant_id AND i.channel_id = m.channel_id AND i.provider_id = m.provider_message_id
), per_conversation AS (
    SELECT DISTINCT ON (tenant_id, conversation_id) tenant_id, conversation_id, at, preview,
           count(*) OVER w AS n, max(message_id) OVER w AS last_id
    FROM written WINDOW w AS (PARTITION BY tenant_id, conversation_id)
    ORDER BY tenant_id, conversation_id, at DESC, message_id DESC
), conversation AS (
    UPDATE conversations c SET
        last_message_at = CASE WHEN c.last_message_at <= p.at THEN p.at ELSE c.last_message_at END,
        last_message_preview = CASE WHEN c.last_message_at <= p.at THEN p.preview ELSE c.last_message_preview END,
        updated_at = :now,
        unread_count = c.unread_count + p.n,
        last_inbound_at = CASE WHEN c.last_inbound_at IS NULL OR c.last_inbound_at < p.at THEN p.at
                               ELSE c.last_inbound_at END,
        last_inbound_message_id = p.last_id,
        status = 'open'
    FROM per_conversation p
    WHERE c.tenant_id = p.tenant_id AND c.id = p.conversation_id
    RETURNING c.*
), per_contact AS (
    SELECT tenant_id, contact_id, (array_agg(external_id ORDER BY ord))[1] AS external_id,
           coalesce((array_agg(given_name ORDER BY ord) FILTER (WHERE given_name <> ''))[1], '') AS given_name,
           coalesce((array_agg(given_phone ORDER BY ord) FILTER (WHERE given_phone <> ''))[1], '') AS given_phone
    FROM written GROUP BY tenant_id, contact_id
), contact AS (
    UPDATE contacts k SET
        last_seen_at = :now, updated_at = :now,
        display_name = CASE WHEN g.given_name <> '' AND k.display_name IN ('', g.external_id) THEN g.given_name
                            ELSE k.display_name END,
        phone = CASE WHEN g.given_phone <> '' AND coalesce(k.phone, '') = '' THEN g.given_phone ELSE k.phone END
    FROM per_contact g
    WHERE k.tenant_id = g.tenant_id AND k.id = g.contact_id
    RETURNING k.tenant_id, k.id, k.display_name, k.phone
)
SELECT w.ord, w.message_id, k.display_name AS written_name, k.phone AS written_phone, c.*
FROM written w
JOIN conversation c ON c.tenant_id = w.tenant_id AND c.id = w.conversation_id
JOIN contact k ON k.tenant_id = w.tenant_id AND k.id = w.contact_id
""")


async def write_inbound_messages(session: AsyncSession, now: datetime,
                                 writes: Sequence[InboundWriteParams]) -> list[InboundWrite | None]:
    """Store a batch of inbound messages (at most one per provider message id) in their locked
    conversations: what write_inbound_message does for each, in order. None where the channel
    already had a message under that provider id (nothing is written for it)."""
    if not session.bind or session.bind.dialect.name != "postgresql":
        return [await write_inbound_message(
            session, w.tenant_id, w.channel_id, w.target, provider_message_id=w.provider_message_id,
            content=w.content, attachments=w.attachments, preview=w.preview, at=w.at, now=now,
            external_id=w.external_id, name=w.name, phone=w.phone) for w in writes]
    # The batch goes as one JSON document: one parameter, read by json_to_recordset, rather than an
    # array per column (psycopg adapts arrays element by element, in Python).
    rows = await fetch_rows(session, _PG_WRITE_INBOUND_BATCH, {"now": now, "batch": json.dumps([
        {"ord": n, "tenant_id": str(w.tenant_id), "conversation_id": str(w.target.conversation_id),
         "contact_id": str(w.target.contact_id), "channel_id": str(w.channel_id), "provider_id": w.provider_message_id,
         "content": w.content, "files": w.attachments, "preview": w.preview, "at": w.at.isoformat(),
         "external_id": w.external_id, "given_name": w.name or "", "given_phone": w.phone or ""}
        for n, w in enumerate(writes)])}, prepare=True)
    written: list[InboundWrite | None] = [None] * len(writes)
    for row in rows:
        written[row.ord] = InboundWrite(ConversationRow(**_conversation_row(row)), row.message_id, row.written_name,
                                        row.written_phone)
    return written


async def touch_conversation(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *,
                             at: datetime, preview: str, now: datetime) -> dict[str, Any]:
    """Move a conversation's counters forward for a new outbound message; returns the whole row as
    it is now (column name -> value)."""
    conn = await session.connection()
    return _conversation_row((await conn.execute(_TOUCH_CONVERSATION, {
        "tenant": tenant_id, "conversation": conversation_id, "at": at, "preview": preview, "now": now})).one())


# An inbox row's contact, channel and tags, for a conversation already in hand.
_SUMMARY_PARTS = (
    select(_contact.c.display_name, _contact.c.phone, _channel.c.platform_origin, _tag.c.id.label("tag_id"),
           _tag.c.name.label("tag_name"), _tag.c.color.label("tag_color"))
    .select_from(_contact)
    .join(_channel, and_(_channel.c.tenant_id == _contact.c.tenant_id, _channel.c.id == _channel_param))
    .outerjoin(_contact_tag, and_(_contact_tag.c.tenant_id == _contact.c.tenant_id,
                                  _contact_tag.c.contact_id == _contact.c.id))
    .outerjoin(_tag, and_(_tag.c.tenant_id == _contact_tag.c.tenant_id, _tag.c.id == _contact_tag.c.tag_id))
    .where(_contact.c.tenant_id == _tenant_param, _contact.c.id == _contact_param)
    .order_by(_contact_tag.c.applied_at.desc(), _tag.c.name)
)


async def summary_parts(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID,
                        channel_id: uuid.UUID) -> tuple[str, str | None, str, list[InboxTag]]:
    """(display name, phone, platform origin, tags) of a conversation's inbox row, in one round trip."""
    conn = await session.connection()
    rows = (await conn.execute(_SUMMARY_PARTS, {"tenant": tenant_id, "contact": contact_id,
                                                "channel": channel_id})).all()
    first = rows[0]
    tags = [InboxTag(r.tag_id, r.tag_name, r.tag_color) for r in rows if r.tag_id is not None]
    return first.display_name, first.phone, first.platform_origin, tags
