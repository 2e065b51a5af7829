"""SQL for conversations and messages, always filtered to one tenant."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import Assistant
from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.contacts.repository import like_pattern
from tertulia.conversations.models import Conversation, ConversationWords, MediaFetch, Message
from tertulia.conversations.search import fts5_match, search_terms, tsquery_text
from tertulia.delivery.models import UNDONE, OutboundDelivery
from tertulia.kit.db import Reader, dialect_name, is_sqlite, tenant_delete, tenant_select, tenant_update, utcnow


async def get_conversation(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation | None:
    stmt = tenant_select(Conversation, tenant_id).where(Conversation.id == conversation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_conversation(session: AsyncSession, tenant_id: uuid.UUID,
                            conversation_id: uuid.UUID) -> Conversation | None:
    """The conversation, locked until commit. Writers of one conversation take turns, so its
    message ids follow commit order (`after_id` delta sync never skips a message that commits
    late) and its counters can be computed from the row as read."""
    stmt = tenant_select(Conversation, tenant_id).where(Conversation.id == conversation_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


# --- the inbox list -----------------------------------------------------------------------------
# `q` (see conversations/search.py: part of the folded name, the phone's digits, words of the
# messages) is served on PostgreSQL by one statement with two plans, of which it runs one. First
# it walks the newest conversations (the inbox index, the condition checked on each row): when a
# window of them holds a full page of matches, that page is the answer, since the window is a
# prefix of the list's order. Otherwise matches are rare, and all of them are collected through
# the indexes (trigram on the conversation's copy of its contact's folded name and phone, GIN on
# the conversations' words per day, read through a function: see _page) and sorted. A one-time
# filter on the window's real count picks the branch: the planner cannot estimate a LIKE '%...%'
# pattern or a prefix tsquery well enough to choose, and left to itself it walked every
# conversation of the tenant for a rare fragment (bench/inbox_list.py: `q=zubiza (rare)`). Words
# are tested per conversation of the window on its rows of `conversation_words` (one per day of
# messages), not on its every message. Tags need no such help: the planner knows each tag's
# frequency. SQLite, which has no trigram index, just filters (its FTS5 table answers for the
# messages, asked once per search: see _message_matches).
Q_WINDOW = 1000
Q_PROBED = 100

_conv = Conversation.__table__
_contact = Contact.__table__
_channel = Channel.__table__
_contact_tag = ContactTag.__table__
_tag = Tag.__table__
_message = cast(Table, Message.__table__)
_messages_fts = table("messages_fts", column("rowid"))
_words = ConversationWords.__table__
_PAGE_COLUMNS = (_conv.c.id, _conv.c.contact_id, _conv.c.channel_id, _conv.c.channel_source, _conv.c.status,
                 _conv.c.ai_state, _conv.c.unread_count, _conv.c.last_message_at, _conv.c.last_message_preview,
                 _conv.c.last_inbound_at)


@dataclass(frozen=True, slots=True)
class InboxFilters:
    """What the inbox list shows: every filter is optional; `after` is the keyset cursor
    (last_message_at, id) of the previous page's last row."""

    ai_state: str | None = None
    channel_source: str | None = None
    status: str | None = None
    tag_id: uuid.UUID | None = None
    q: str | None = None
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 20
    offset: int = 0


# Values are bound by name; a statement is built once per combination of filters (its "shape"):
# building this one costs more than running it (0.5 ms for the first page, 1.8 ms with a search).
_TENANT: Any = bindparam("tenant_id", type_=_conv.c.tenant_id.type)
_LIMIT: Any = bindparam("limit", type_=Integer())
_OFFSET: Any = bindparam("offset", type_=Integer())
_NAME: Any = bindparam("name_pattern", type_=String())
_PHONE: Any = bindparam("phone_pattern", type_=String())
_WORDS: Any = bindparam("words", type_=String())
_WINDOW: Any = bindparam("q_window", type_=Integer())


def _message_matches(dialect: str) -> Any:
    """The condition on a message (`_message`) that it holds every searched word."""
    if dialect == "postgresql":
        return _message.c.search_vector.op("@@")(func.to_tsquery(literal_column("'simple'"), _WORDS))
    # The FTS5 index is asked once for the messages holding the words, a set each message is then
    # looked up in. A probe per message (rowid = id AND MATCH) ran the MATCH again for each one:
    # 0.4 s for a page's excerpts of a common word, seconds for a rare word at 200,000 messages.
    return _message.c.id.in_(select(_messages_fts.c.rowid)
                             .where(literal_column("messages_fts").op("MATCH")(_WORDS)))


def _has_words(dialect: str, columns: Any, word_days: Any = None) -> Any:
    """The condition on a conversation that one of its messages holds every searched word.
    PostgreSQL (`word_days`: see _page): first one of its days' words, and only then its
    messages, since a day's row can hold the words of two messages."""
    if dialect != "postgresql":  # SQLite: the conversations of the matching messages, as a set
        return columns.id.in_(select(_message.c.conversation_id).where(_message.c.tenant_id == _TENANT,
                                                                       _message_matches(dialect)))
    has_message = exists().where(_message.c.tenant_id == _TENANT, _message.c.conversation_id == columns.id,
                                 _message_matches(dialect))
    if word_days is None:
        return has_message

    def own_days() -> Any:  # its rows, one per day of messages (where its messages are many)
        return exists().where(_words.c.tenant_id == _TENANT, _words.c.conversation_id == columns.id,
                              _words.c.words.op("@@")(func.to_tsquery(literal_column("'simple'"), _WORDS)))

    rare = select(func.count()).select_from(word_days).scalar_subquery() < _WINDOW
    has_day = case((columns.position <= bindparam("q_probed", type_=Integer()), own_days()),
                   (rare, columns.id.in_(select(word_days.c.conversation_id))), else_=own_days())
    return and_(has_day, has_message)


def _q_condition(shape: frozenset[str], dialect: str, columns: Any = _conv.c, word_days: Any = None) -> Any:
    conditions = [columns.contact_key.like(_NAME, escape="\\")]
    if "q_phone" in shape:
        conditions.append(columns.contact_phone.like(_PHONE, escape="\\"))
    if "q_words" in shape:
        conditions.append(_has_words(dialect, columns, word_days))
    return or_(*conditions)


def _filtered(shape: frozenset[str], dialect: str, columns: Sequence[Any] = _PAGE_COLUMNS, *,
              with_q: bool = True) -> Select[Any]:
    """The conversations these filters pass (the keyset cursor included), unsorted. Each filter
    has an index that leads with (tenant_id, filter column, last_message_at, id)."""
    stmt = select(*columns).where(_conv.c.tenant_id == _TENANT)
    for name in ("ai_state", "channel_source", "status"):
        if name in shape:
            stmt = stmt.where(_conv.c[name] == bindparam(name, type_=_conv.c[name].type))
    if "tag_id" in shape:
        stmt = stmt.where(exists().where(_contact_tag.c.tenant_id == _TENANT,
                                         _contact_tag.c.tag_id == bindparam("tag_id", type_=_tag.c.id.type),
                                         _contact_tag.c.contact_id == _conv.c.contact_id))
    if "q" in shape and with_q:
        stmt = stmt.where(_q_condition(shape, dialect))
    if "after" in shape:
        stmt = stmt.where(tuple_(_conv.c.last_message_at, _conv.c.id) < _AFTER)
    return stmt


_AFTER: Any = tuple_(bindparam("after_at", type_=_conv.c.last_message_at.type),
                     bindparam("after_id", type_=_conv.c.id.type))


def _paged(stmt: Any, columns: Any, shape: frozenset[str]) -> Any:
    """Most recent first (keyset order: last_message_at, id), one page."""
    stmt = stmt.order_by(columns.last_message_at.desc(), columns.id.desc()).limit(_LIMIT)
    return stmt.offset(_OFFSET) if "offset" in shape else stmt


def _page(shape: frozenset[str], dialect: str) -> Any:
    """The page's conversations; only its rows are then joined to contacts, channels and tags."""
    if "q" not in shape or dialect != "postgresql":
        return _paged(_filtered(shape, dialect), _conv.c, shape).subquery("page")
    newest = (_conv.c.last_message_at.desc(), _conv.c.id.desc())
    window = (_filtered(shape, dialect, (*_PAGE_COLUMNS, _conv.c.contact_key, _conv.c.contact_phone,
                                         func.row_number().over(order_by=newest).label("position")), with_q=False)
              .order_by(*newest).limit(_WINDOW).subquery("q_window"))
    word_days = None
    if "q_words" in shape:
        # Past the first Q_PROBED conversations of the window (common words fill a page there),
        # up to a window's worth of (conversation, day) rows holding the words are read from
        # their GIN index (through a function, like the rare matches below); fewer, and they are
        # all there are, so the rest of the window tests membership instead of probing each
        # conversation's days (a name typed as `q` is rarely a word of the messages). Only then:
        # reading a common word's postings costs more than the probes it would save.
        found_days = func.inbox_search_word_days(func.to_tsquery(literal_column("'simple'"), _WORDS), _WINDOW
                                                 ).table_valued(column("conversation_id", _conv.c.id.type))
        word_days = select(found_days.c.conversation_id).cte("q_word_days").prefix_with("MATERIALIZED")
    hits = _paged(select(*(window.c[c.name] for c in _PAGE_COLUMNS))
                  .where(_q_condition(shape, dialect, window.c, word_days)), window.c, shape).cte("q_hits")
    found = select(func.count()).select_from(hits).scalar_subquery()
    # The rare matches come from the trigram and tsvector indexes through inbox_search_matches:
    # under row-level security PostgreSQL will not use them for a LIKE or a @@ (see migration
    # 0005), and the function reads them for the transaction's own tenant only. Materialized, so
    # the planner cannot turn "all matches, then the newest" back into a walk.
    words = func.to_tsquery(literal_column("'simple'"), _WORDS)
    matched = func.inbox_search_matches(_NAME, _PHONE, words).table_valued(
        column("id", _conv.c.id.type), column("last_message_at", _conv.c.last_message_at.type)).alias("matched")
    if not shape & {"ai_state", "channel_source", "status", "tag_id"}:
        # The function's rows are the matches (an id and a time each: nothing more to look up).
        rare = select(matched.c.id, matched.c.last_message_at)
        if "after" in shape:
            rare = rare.where(tuple_(matched.c.last_message_at, matched.c.id) < _AFTER)
    else:
        rare = (_filtered(shape, dialect, (_conv.c.id, _conv.c.last_message_at), with_q=False)
                .where(_conv.c.id.in_(select(matched.c.id))))
    matches = rare.cte("q_matches").prefix_with("MATERIALIZED")
    sparse_ids = _paged(select(matches), matches.c, shape).subquery("sparse_ids")
    sparse = (select(*_PAGE_COLUMNS).select_from(sparse_ids)
              .join(_conv, and_(_conv.c.tenant_id == _TENANT, _conv.c.id == sparse_ids.c.id))
              .subquery("sparse"))
    return union_all(select(hits).where(found >= _LIMIT), select(sparse).where(found < _LIMIT)).subquery("page")


@functools.cache
def _inbox_statement(shape: frozenset[str], dialect: str) -> Select[Any]:
    p = _page(shape, dialect).c
    return (
        select(p.id, p.contact_id, p.channel_id, p.channel_source, p.status, p.ai_state, p.unread_count,
               p.last_message_at, p.last_message_preview, p.last_inbound_at, _contact.c.display_name, _contact.c.phone,
               _channel.c.platform_origin, _tag.c.id.label("tag_id"), _tag.c.name.label("tag_name"),
               _tag.c.color.label("tag_color"))
        .join(_contact, and_(_contact.c.tenant_id == _TENANT, _contact.c.id == p.contact_id))
        .join(_channel, and_(_channel.c.tenant_id == _TENANT, _channel.c.id == p.channel_id))
        .outerjoin(_contact_tag, and_(_contact_tag.c.tenant_id == _TENANT, _contact_tag.c.contact_id == p.contact_id))
        .outerjoin(_tag, and_(_tag.c.tenant_id == _TENANT, _tag.c.id == _contact_tag.c.tag_id))
        .order_by(p.last_message_at.desc(), p.id.desc(), _contact_tag.c.applied_at.desc(), _tag.c.name)
    )


def inbox_statement(tenant_id: uuid.UUID, f: InboxFilters, dialect: str) -> tuple[Select[Any], dict[str, Any]]:
    """The whole list in one statement, and its values: the page's conversations with their
    contact, channel and tags (most recently applied first): a row per (conversation, tag), or
    one with no tag."""
    values: dict[str, Any] = {"tenant_id": tenant_id, "limit": f.limit}
    for name in ("ai_state", "channel_source", "status", "tag_id"):
        if getattr(f, name) is not None:
            values[name] = getattr(f, name)
    shape: set[str] = set()
    if f.q:
        terms = search_terms(f.q)
        values["name_pattern"] = like_pattern(terms.text)
        values["phone_pattern"] = f"%{terms.digits}%" if terms.digits else None
        values["words"] = None
        if terms.words:
            values["words"] = tsquery_text(terms.words) if dialect == "postgresql" else fts5_match(terms.words)
        shape |= {"q", *(("q_phone",) if terms.digits else ()), *(("q_words",) if terms.words else ())}
        values["q_window"] = Q_WINDOW + f.offset
        values["q_probed"] = Q_PROBED + f.offset
    if f.after is not None:
        values["after_at"], values["after_id"] = f.after
    if f.offset:
        values["offset"] = f.offset
    shape |= {name for name in ("ai_state", "channel_source", "status", "tag_id", "offset") if name in values}
    if f.after is not None:
        shape.add("after")
    return _inbox_statement(frozenset(shape), dialect), values


@dataclass(slots=True)
class InboxRow:
    """One conversation of the inbox list, with what its summary shows of contact, channel and tags."""

    row: Row[Any]
    tags: list[dict[str, Any]] = field(default_factory=list)


async def list_inbox(session: Reader, tenant_id: uuid.UUID, filters: InboxFilters) -> list[InboxRow]:
    """The inbox list with each conversation's tags, in one statement (see inbox_statement)."""
    dialect = dialect_name(session)
    grouped: list[InboxRow] = []
    stmt, values = inbox_statement(tenant_id, filters, dialect)
    for row in await session.execute(stmt, values):
        if not grouped or grouped[-1].row.id != row.id:
            grouped.append(InboxRow(row))
        if row.tag_id is not None:
            grouped[-1].tags.append({"id": row.tag_id, "name": row.tag_name, "color": row.tag_color})
    return grouped


async def newest_text_matches(session: Reader, tenant_id: uuid.UUID, conversation_ids: Sequence[uuid.UUID],
                              words: tuple[str, ...]) -> dict[uuid.UUID, tuple[int, str]]:
    """{conversation id: (id, text) of its newest message holding every word} for these
    conversations (those of a search's page that were found by their messages)."""
    if not conversation_ids or not words:
        return {}
    dialect = dialect_name(session)
    newest = func.row_number().over(partition_by=_message.c.conversation_id, order_by=_message.c.id.desc())
    ranked = (select(_message.c.conversation_id, _message.c.id, _message.c.content, newest.label("rank"))
              .where(_message.c.tenant_id == _TENANT, _message.c.conversation_id.in_(list(conversation_ids)),
                     _message_matches(dialect))
              .subquery("ranked"))
    stmt = select(ranked.c.conversation_id, ranked.c.id, ranked.c.content).where(ranked.c.rank == 1)
    values = {"tenant_id": tenant_id,
              "words": tsquery_text(words) if dialect == "postgresql" else fts5_match(words)}
    return {r.conversation_id: (r.id, r.content) for r in await session.execute(stmt, values)}


async def unread_count(session: Reader, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(conversations with unread messages, their unread messages): read from the partial index
    of unread conversations, whatever the tenant's size."""
    stmt = tenant_select(Conversation, tenant_id, func.count(), func.coalesce(func.sum(Conversation.unread_count), 0)
                         ).where(Conversation.unread_count > 0)
    conversations, messages = (await session.execute(stmt)).one()
    return int(conversations), int(messages)


async def answering_parts(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                          conversation_id: uuid.UUID) -> tuple[Row[Any], list[Row[Any]]]:
    """The conversation's channel with its linked assistant (if any), and its undone deliveries
    (oldest first: the first is the one the others wait behind)."""
    channel = (await session.execute(
        tenant_select(Channel, tenant_id, Channel.enabled, Channel.status, Channel.status_reason,
                      Assistant.id.label("assistant_id"), Assistant.name.label("assistant_name"),
                      Assistant.enabled.label("assistant_enabled"))
        .outerjoin(Assistant, and_(Assistant.tenant_id == tenant_id, Assistant.id == Channel.assistant_id))
        .where(Channel.id == channel_id))).one()
    undone = (await session.execute(
        tenant_select(OutboundDelivery, tenant_id, OutboundDelivery.state, OutboundDelivery.attempts,
                      OutboundDelivery.last_error, OutboundDelivery.next_attempt_at)
        .where(OutboundDelivery.conversation_id == conversation_id, UNDONE)
        .order_by(OutboundDelivery.id))).all()
    return channel, list(undone)


async def tag_id_by_name(session: Reader, tenant_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The inbox's tag filter given by name (case-insensitive)."""
    stmt = tenant_select(Tag, tenant_id, Tag.id).where(Tag.name_key == name.strip().casefold())
    value: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return value


async def summary_parts(session: Reader, tenant_id: uuid.UUID, contact_id: uuid.UUID,
                        channel_id: uuid.UUID) -> tuple[str, str | None, str, list[dict[str, Any]]]:
    """(display name, phone, platform origin, tags) of a conversation's inbox row, in one round trip."""
    stmt = (tenant_select(Contact, tenant_id, Contact.display_name, Contact.phone, Channel.platform_origin,
                          Tag.id.label("tag_id"), Tag.name.label("tag_name"), Tag.color.label("tag_color"))
            .select_from(Contact)
            .join(Channel, and_(Channel.tenant_id == tenant_id, Channel.id == channel_id))
            .outerjoin(ContactTag, and_(ContactTag.tenant_id == tenant_id, ContactTag.contact_id == Contact.id))
            .outerjoin(Tag, and_(Tag.tenant_id == tenant_id, Tag.id == ContactTag.tag_id))
            .where(Contact.id == contact_id)
            .order_by(ContactTag.applied_at.desc(), Tag.name))
    rows = (await session.execute(stmt)).all()
    tags = [{"id": r.tag_id, "name": r.tag_name, "color": r.tag_color} for r in rows if r.tag_id is not None]
    return rows[0].display_name, rows[0].phone, rows[0].platform_origin, tags


# --- messages -----------------------------------------------------------------------------------

async def get_message(session: Reader, tenant_id: uuid.UUID, message_id: int) -> Message | None:
    stmt = tenant_select(Message, tenant_id).where(Message.id == message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_messages(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *,
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


# --- the inbound path (conversations/inbound.py) ------------------------------------------------
# One statement per step for a whole batch of one tenant, on both databases.

# The inbound path's statements are built once, on first use (when every foreign key's type is
# known), and given their values when run: building one and its cache key on every batch was a
# measured part of the CPU per message (bench/README.md).
@functools.cache
def _lock_identities_statement() -> Any:
    # The identities first, through their unique key, then only their conversations: PostgreSQL
    # cannot reorder a materialized CTE, so the plan stays this one when the statistics lag behind
    # a tenant's growth (left to itself, it walked a new tenant's every conversation for each
    # identity: 39 ms instead of 0.2 at 500 conversations).
    wanted = (tenant_select(ContactIdentity, _TENANT, ContactIdentity.contact_id, ContactIdentity.channel_id,
                            ContactIdentity.external_id)
              .where(ContactIdentity.channel_id.in_(bindparam("channel_ids", expanding=True)),
                     ContactIdentity.external_id.in_(bindparam("external_ids", expanding=True)),
                     tuple_(ContactIdentity.channel_id, ContactIdentity.external_id).in_(
                         bindparam("identities", expanding=True)))
              .cte("wanted").prefix_with("MATERIALIZED", dialect="postgresql"))
    return (tenant_select(Conversation, _TENANT, Conversation, Contact, wanted.c.channel_id.label("identity_channel"),
                          wanted.c.external_id, Tag.id.label("tag_id"), Tag.name.label("tag_name"),
                          Tag.color.label("tag_color"))
            .select_from(wanted)
            .join(Conversation, and_(Conversation.tenant_id == _TENANT,
                                     Conversation.channel_id == wanted.c.channel_id,
                                     Conversation.contact_id == wanted.c.contact_id))
            .join(Contact, and_(Contact.tenant_id == _TENANT, Contact.id == wanted.c.contact_id))
            .outerjoin(ContactTag, and_(ContactTag.tenant_id == _TENANT, ContactTag.contact_id == Contact.id))
            .outerjoin(Tag, and_(Tag.tenant_id == _TENANT, Tag.id == ContactTag.tag_id))
            .order_by(Conversation.id, ContactTag.applied_at.desc(), Tag.name)
            .with_for_update(of=Conversation))


async def lock_identity_conversations(session: AsyncSession, tenant_id: uuid.UUID,
                                      identities: Sequence[tuple[uuid.UUID, str]]) -> list[Row[Any]]:
    """The conversations of these (channel id, external id) identities that exist, locked, each
    with its contact and its identity, and the contact's tags (`tag_id`, `tag_name`, `tag_color`:
    a row per tag, most recently applied first, or one row of None without tags), which the
    conversation's row in the inbox shows: one round trip for both. Locked in the order of their
    ids, so writers that lock several never wait on each other in a circle (SQLite has one writer
    anyway)."""
    if not identities:
        return []
    return list((await session.execute(_lock_identities_statement(), {
        "tenant_id": tenant_id, "channel_ids": list({c for c, _ in identities}),
        "external_ids": list({e for _, e in identities}), "identities": list(identities)})).all())


async def insert_conversations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Conversation]:
    """New conversations (a contact on a channel); returns those inserted as the session's
    objects (RETURNING: the inbound path need not read them again). One that exists already (a
    concurrent first message) is skipped, after waiting for its writer."""
    if not rows:
        return []
    return list(await session.scalars(_insert_conversations_statement(dialect_name(session)), list(rows)))


@functools.cache
def _insert_conversations_statement(dialect: str) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(Conversation).on_conflict_do_nothing(
        index_elements=["tenant_id", "channel_id", "contact_id"]).returning(Conversation)


@functools.cache
def _insert_messages_statement(dialect: str) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(Message.__table__).on_conflict_do_nothing(
        index_elements=["tenant_id", "channel_id", "provider_message_id"],
    ).returning(Message.id, Message.channel_id, Message.provider_message_id)


async def insert_inbound_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[tuple[Any, str], int]:
    """Store messages, each at most once per channel and provider id: {(channel id, provider id):
    new message id} for those stored; a repeated delivery (also one racing the first) stores
    nothing and is missing from the answer."""
    if not rows:
        return {}
    stmt = _insert_messages_statement(dialect_name(session))
    return {(r.channel_id, r.provider_message_id): r.id for r in await session.execute(stmt, list(rows))}


async def insert_media_fetches(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Attachments to copy from the provider to the file store (the media worker's queue)."""
    if rows:
        await session.execute(insert(MediaFetch), list(rows))


# --- the media worker's queue (conversations/media_fetch.py) ------------------------------------
# Claims cross tenants (a worker serves them all; the caller's session says so), like the AI
# worker's: one UPDATE ... RETURNING takes a batch of due rows under a fresh lease; PostgreSQL's
# workers skip each other's rows, SQLite has one writer anyway.

@dataclass(frozen=True, slots=True)
class ClaimedFetch:
    id: int
    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    message_id: int
    position: int
    provider_media_id: str
    attempts: int  # this one included
    lease_token: str


_fetches = cast(Table, MediaFetch.__table__)
_FETCH_NOW = bindparam("now", type_=_fetches.c.next_attempt_at.type)


def _claim_fetches_statement(skip_locked: bool) -> Any:
    due = (select(_fetches.c.id)
           .where(((_fetches.c.state == "pending") & (_fetches.c.next_attempt_at <= _FETCH_NOW))
                  | ((_fetches.c.state == "running") & (_fetches.c.locked_until < _FETCH_NOW)))
           .order_by(_fetches.c.next_attempt_at).limit(bindparam("limit", type_=Integer())))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (update(_fetches).where(_fetches.c.id.in_(due.scalar_subquery()))
            .values(state="running", lease_token=bindparam("token"), locked_until=bindparam("until"),
                    attempts=_fetches.c.attempts + 1, updated_at=_FETCH_NOW)
            .returning(_fetches.c.id, _fetches.c.tenant_id, _fetches.c.channel_id, _fetches.c.message_id,
                       _fetches.c.position, _fetches.c.provider_media_id, _fetches.c.attempts))


CLAIM_FETCHES = {"sqlite": _claim_fetches_statement(skip_locked=False),
                 "postgresql": _claim_fetches_statement(skip_locked=True)}
NEXT_FETCH = select(
    select(func.min(_fetches.c.next_attempt_at)).where(_fetches.c.state == "pending").scalar_subquery(),
    select(func.min(_fetches.c.locked_until)).where(_fetches.c.state == "running").scalar_subquery())


async def claim_media_fetches(session: AsyncSession, now: datetime, until: datetime, limit: int) -> list[ClaimedFetch]:
    """Due fetches (and those whose worker's lease ran out), leased until `until`."""
    token = uuid.uuid4().hex
    dialect = "sqlite" if is_sqlite(session) else "postgresql"
    rows = await session.execute(CLAIM_FETCHES[dialect], {"now": now, "until": until, "token": token, "limit": limit})
    return [ClaimedFetch(r.id, r.tenant_id, r.channel_id, r.message_id, r.position, r.provider_media_id, r.attempts,
                         token) for r in rows]


async def next_media_fetch_at(session: Reader) -> datetime | None:
    """When the next fetch becomes due: a pending one's next attempt, or a running one's lease."""
    times = [t for t in (await session.execute(NEXT_FETCH)).one() if t is not None]
    return min(times) if times else None


async def end_media_fetch(session: AsyncSession, claim: ClaimedFetch, error: str | None) -> bool:
    """The fetch is over, under the caller's lease: deleted when the file was copied (the attachment
    says where it is), kept as `failed` with its error otherwise. False when the lease was lost."""
    if error is None:
        stmt: Any = tenant_delete(MediaFetch, claim.tenant_id)
    else:
        stmt = tenant_update(MediaFetch, claim.tenant_id).values(
            state="failed", lease_token=None, locked_until=None, last_error=error, updated_at=utcnow())
    result = await session.execute(stmt.where(MediaFetch.id == claim.id, MediaFetch.lease_token == claim.lease_token))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retry_media_fetch(session: AsyncSession, claim: ClaimedFetch, at: datetime, error: str) -> None:
    await session.execute(
        tenant_update(MediaFetch, claim.tenant_id)
        .where(MediaFetch.id == claim.id, MediaFetch.lease_token == claim.lease_token)
        .values(state="pending", lease_token=None, locked_until=None, next_attempt_at=at, last_error=error,
                updated_at=utcnow()))


async def lock_message(session: AsyncSession, tenant_id: uuid.UUID, message_id: int) -> Message | None:
    """A message, locked until commit (its JSON columns are rewritten whole)."""
    stmt = tenant_select(Message, tenant_id).where(Message.id == message_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


@functools.cache
def _provider_messages_statement() -> Any:
    return (tenant_select(Message, _TENANT, Message.id, Message.conversation_id, Message.channel_id,
                          Message.provider_message_id)
            .where(tuple_(Message.channel_id, Message.provider_message_id).in_(bindparam("keys", expanding=True))))


async def find_provider_messages(session: Reader, tenant_id: uuid.UUID,
                                 keys: Sequence[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], Row[Any]]:
    """The stored messages under these (channel id, provider message id): id and conversation."""
    if not keys:
        return {}
    rows = await session.execute(_provider_messages_statement(), {"tenant_id": tenant_id, "keys": list(keys)})
    return {(r.channel_id, r.provider_message_id): r for r in rows}


async def update_conversations(session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> None:
    """New column values of locked conversations, one dict per conversation (its `id` and the
    columns to set, the same columns in every dict): one statement for all."""
    if rows:
        await session.execute(tenant_update(Conversation, tenant_id), list(rows))
