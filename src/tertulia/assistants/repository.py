"""SQL for assistants, knowledge search, the AI job queue, traces and summaries (tenant-filtered;
the job claim is the one query that spans tenants, as a queue must)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import (
    AiJob,
    AiTrace,
    Assistant,
    ConversationSummary,
    KnowledgeChunk,
    KnowledgeEntry,
    McpServer,
)
from tertulia.assistants.text import stem
from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactTag, Tag
from tertulia.conversations.models import NOTE, Conversation, Message
from tertulia.kit.db import (
    Reader,
    committed_unflushed,
    is_sqlite,
    tenant_delete,
    tenant_select,
    tenant_update,
    utcnow,
)

# Parameters of the statements built once below (a foreign key's column type is not known yet when
# they are built, so the tenant's is spelled out).
TENANT = bindparam("tenant_id", type_=Uuid())
LIMIT = bindparam("limit", type_=Integer())

# PostgreSQL text-search configuration per assistant language (stemming and stop words).
TS_CONFIGS = {"es": "spanish", "en": "english", "pt": "portuguese", "fr": "french", "it": "italian",
              "de": "german", "ca": "simple"}
SAFE_TERM = re.compile(r"[^\w]+", re.UNICODE)


def ts_config(language: str) -> str:
    return TS_CONFIGS.get(language[:2].lower(), "simple")


def search_vector(language: str, title: Any, content: Any) -> Any:
    """PostgreSQL: the chunk's tsvector, its title weighted above its body."""
    cfg = cast(literal(ts_config(language)), REGCONFIG)
    return func.setweight(func.to_tsvector(cfg, title), literal_column("'A'")).op("||")(
        func.setweight(func.to_tsvector(cfg, content), literal_column("'B'")))


# --- assistants ---------------------------------------------------------------------------

async def get_assistant(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID) -> Assistant | None:
    stmt = tenant_select(Assistant, tenant_id).where(Assistant.id == assistant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_assistants(session: Reader, tenant_id: uuid.UUID) -> list[Assistant]:
    stmt = tenant_select(Assistant, tenant_id).order_by(Assistant.created_at, Assistant.id)
    return list((await session.execute(stmt)).scalars())


async def assistant_for_channel(session: Reader, tenant_id: uuid.UUID,
                                channel_id: uuid.UUID) -> Assistant | None:
    """The channel's assistant when it is enabled."""
    stmt = (tenant_select(Assistant, tenant_id)
            .join(Channel, and_(Channel.tenant_id == Assistant.tenant_id, Channel.assistant_id == Assistant.id))
            .where(Channel.id == channel_id, Assistant.enabled.is_(True)))
    return (await session.execute(stmt)).scalar_one_or_none()


async def unlink_channels(session: AsyncSession, tenant_id: uuid.UUID, assistant_id: uuid.UUID) -> None:
    await session.execute(tenant_update(Channel, tenant_id).where(Channel.assistant_id == assistant_id)
                          .values(assistant_id=None))


async def channels_of_assistant(session: Reader, tenant_id: uuid.UUID,
                                assistant_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = tenant_select(Channel, tenant_id, Channel.id).where(Channel.assistant_id == assistant_id)
    return list((await session.execute(stmt)).scalars())


# --- knowledge ----------------------------------------------------------------------------

async def get_entry(session: AsyncSession, tenant_id: uuid.UUID, assistant_id: uuid.UUID,
                    entry_id: uuid.UUID) -> KnowledgeEntry | None:
    stmt = tenant_select(KnowledgeEntry, tenant_id).where(
        KnowledgeEntry.assistant_id == assistant_id, KnowledgeEntry.id == entry_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_entries(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID) -> list[KnowledgeEntry]:
    stmt = (tenant_select(KnowledgeEntry, tenant_id).where(KnowledgeEntry.assistant_id == assistant_id)
            .order_by(KnowledgeEntry.created_at, KnowledgeEntry.id))
    return list((await session.execute(stmt)).scalars())


async def count_entries(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID) -> int:
    stmt = tenant_select(KnowledgeEntry, tenant_id, func.count()).where(KnowledgeEntry.assistant_id == assistant_id)
    return int((await session.execute(stmt)).scalar_one())


async def replace_chunks(session: AsyncSession, entry: KnowledgeEntry, pieces: list[str], language: str) -> None:
    """Rewrite an entry's chunks (SQLite's triggers keep FTS5 in step; PostgreSQL gets its
    tsvector computed here, title weighted above body)."""
    await session.execute(tenant_delete(KnowledgeChunk, entry.tenant_id).where(KnowledgeChunk.entry_id == entry.id))
    for position, piece in enumerate(pieces):
        chunk = KnowledgeChunk(tenant_id=entry.tenant_id, assistant_id=entry.assistant_id, entry_id=entry.id,
                               position=position, title=entry.title, content=piece)
        if not is_sqlite(session):
            chunk.search_vector = search_vector(language, literal(entry.title), literal(piece))
        session.add(chunk)
    await session.flush()


async def reindex_assistant(session: AsyncSession, tenant_id: uuid.UUID, assistant_id: uuid.UUID,
                            language: str) -> None:
    """After a language change, PostgreSQL's stemming must follow (FTS5 is language-neutral)."""
    if is_sqlite(session):
        return
    await session.execute(
        tenant_update(KnowledgeChunk, tenant_id).where(KnowledgeChunk.assistant_id == assistant_id)
        .values(search_vector=search_vector(language, KnowledgeChunk.title, KnowledgeChunk.content)))


@dataclass
class Hit:
    chunk_id: int
    entry_id: uuid.UUID
    title: str
    content: str
    score: float


# SQLite's FTS5 table has no model (migration 0002 creates it by hand), so its MATCH query is
# written as SQL; it filters on the tenant like any other.
SQLITE_SEARCH = text(
    "SELECT c.id, c.entry_id, c.title, c.content, bm25(knowledge_chunks_fts, 4.0, 1.0) AS score "
    "FROM knowledge_chunks_fts JOIN knowledge_chunks AS c ON c.id = knowledge_chunks_fts.rowid "
    "WHERE knowledge_chunks_fts MATCH :match AND c.tenant_id = :tenant_id "
    "AND c.assistant_id = :assistant_id ORDER BY score LIMIT :limit"
).bindparams(TENANT, bindparam("assistant_id", type_=Uuid())).columns(
    id=KnowledgeChunk.id.type, entry_id=KnowledgeChunk.entry_id.type, title=String(), content=String(), score=Float())


async def search_chunks(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID,
                        words: list[str], language: str, limit: int = 4) -> list[Hit]:
    """Full-text search of one assistant's knowledge for any of the question's topical words
    (text.topical_words), best first. They match as word prefixes on both databases: SQLite's
    FTS5 (language-neutral) by their crude stem, PostgreSQL's by what its language's stemmer
    makes of the whole word (a shorter stem of ours is not always a prefix of its own)."""
    clean = [t for t in (SAFE_TERM.sub("", w) for w in words) if t]
    if not clean:
        return []
    params: dict[str, Any] = {"tenant_id": tenant_id, "assistant_id": assistant_id, "limit": limit}
    if is_sqlite(session):
        params = {"tenant_id": tenant_id, "assistant_id": assistant_id, "limit": limit,
                  "match": " OR ".join(f'"{stem(t)}"*' for t in clean)}
        rows = await session.execute(SQLITE_SEARCH, params)
        # bm25 is lower-is-better; flip it so both databases rank "higher is better".
        return [Hit(r.id, r.entry_id, r.title, r.content, -float(r.score)) for r in rows]
    query = func.to_tsquery(cast(ts_config(language), REGCONFIG), " | ".join(f"{t}:*" for t in clean))
    rank = func.ts_rank(KnowledgeChunk.search_vector, query).label("score")
    stmt = (tenant_select(KnowledgeChunk, tenant_id, KnowledgeChunk.id, KnowledgeChunk.entry_id, KnowledgeChunk.title,
                          KnowledgeChunk.content, rank)
            .where(KnowledgeChunk.assistant_id == assistant_id, KnowledgeChunk.search_vector.op("@@")(query))
            .order_by(rank.desc(), KnowledgeChunk.id).limit(limit))
    return [Hit(r.id, r.entry_id, r.title, r.content, float(r.score)) for r in await session.execute(stmt)]


# --- an AI turn's context -----------------------------------------------------------------
# The reads on the path from a customer's message to the model's request: a few statements,
# one after another on one read session.

@dataclass
class TurnContext:
    """The conversation, its channel's enabled assistant, the contact and the switches of a turn."""

    contact_id: uuid.UUID
    ai_state: str
    last_inbound_message_id: int | None
    assistant: Assistant | None  # None when the channel has no enabled assistant any more
    contact_name: str | None  # None when the contact row is gone
    contact_phone: str | None
    contact_notes: str
    tags: list[str]  # most recently applied first
    has_knowledge: bool  # the assistant has knowledge entries (else no search is worth a query)
    has_mcp_servers: bool  # the tenant has an enabled MCP server (else no lookup of their tools)
    channel_source: str = ""
    last_inbound_at: datetime | None = None  # when the customer last wrote (WhatsApp's window)


# A turn's two reads are built once and given their values when run: building them and their
# cache keys on every turn cost about 1.5 ms of CPU between the customer's message and the model.
_CONVERSATION = bindparam("conversation_id", type_=Uuid())
_ASSISTANT = bindparam("assistant_id", type_=Uuid())


def _turn_context_statement() -> Any:
    has_knowledge = tenant_select(KnowledgeEntry, TENANT, KnowledgeEntry.id).where(
        KnowledgeEntry.assistant_id == _ASSISTANT).exists()
    has_servers = tenant_select(McpServer, TENANT, McpServer.id).where(McpServer.enabled.is_(True)).exists()
    # One row per tag of the contact (or one row without a tag): tags are few, and a second
    # statement would cost more than the repeated columns.
    return (tenant_select(Conversation, TENANT, Conversation.contact_id, Conversation.ai_state,
                          Conversation.last_inbound_message_id, Conversation.channel_source,
                          Conversation.last_inbound_at, Assistant, Contact.display_name, Contact.phone,
                          Contact.notes, Tag.name.label("tag"), has_knowledge.label("has_knowledge"),
                          has_servers.label("has_mcp_servers"))
            .select_from(Conversation)
            .join(Channel, and_(Channel.tenant_id == TENANT, Channel.id == Conversation.channel_id))
            .outerjoin(Assistant, and_(Assistant.tenant_id == TENANT, Assistant.id == Channel.assistant_id,
                                       Assistant.enabled.is_(True)))
            .outerjoin(Contact, and_(Contact.tenant_id == TENANT, Contact.id == Conversation.contact_id))
            .outerjoin(ContactTag, and_(ContactTag.tenant_id == TENANT,
                                        ContactTag.contact_id == Conversation.contact_id))
            .outerjoin(Tag, and_(Tag.tenant_id == TENANT, Tag.id == ContactTag.tag_id))
            .where(Conversation.id == _CONVERSATION)
            .order_by(ContactTag.applied_at.desc(), Tag.name))


TURN_CONTEXT = _turn_context_statement()
TURN_HISTORY = (tenant_select(Message, TENANT, Message.author, Message.content, Message.attachments)
                .where(Message.conversation_id == _CONVERSATION,
                       Message.id <= bindparam("up_to_id", type_=Integer()), Message.kind != NOTE)
                .order_by(Message.id.desc()).limit(LIMIT))


async def turn_context(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                       assistant_id: uuid.UUID) -> TurnContext | None:
    """Everything a turn reads before its history, in one round trip; None when the conversation
    is gone. `assistant_id` is the assistant the turn was scheduled for (whose knowledge counts)."""
    rows = (await session.execute(TURN_CONTEXT, {"tenant_id": tenant_id, "conversation_id": conversation_id,
                                                 "assistant_id": assistant_id})).all()
    if not rows:
        return None
    first = rows[0]
    return TurnContext(
        contact_id=first.contact_id, ai_state=first.ai_state, last_inbound_message_id=first.last_inbound_message_id,
        assistant=first.Assistant, contact_name=first.display_name, contact_phone=first.phone,
        contact_notes=first.notes or "", tags=[r.tag for r in rows if r.tag is not None],
        has_knowledge=bool(first.has_knowledge), has_mcp_servers=bool(first.has_mcp_servers),
        channel_source=first.channel_source, last_inbound_at=first.last_inbound_at)


async def turn_history(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID, up_to_id: int,
                       limit: int) -> list[Any]:
    """The last `limit` messages up to the turn's (author, content, attachments), oldest first."""
    rows = await session.execute(TURN_HISTORY, {"tenant_id": tenant_id, "conversation_id": conversation_id,
                                                "up_to_id": up_to_id, "limit": limit})
    return list(reversed(rows.all()))


# --- jobs ---------------------------------------------------------------------------------

@dataclass
class ClaimedJob:
    id: int
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    assistant_id: uuid.UUID
    turn_message_id: int
    lease_token: str
    attempts: int


async def arm_job(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                  assistant_id: uuid.UUID, message_id: int, run_after: datetime) -> None:
    """Schedule (or push back) the conversation's one job, in one statement: a new job, a pending
    or running one reset to `pending` for the newer message, or nothing when the job already
    covers a newer message (a late, older delivery). Runs inside the ingest transaction."""
    await session.execute(ARM_JOB["sqlite" if is_sqlite(session) else "postgresql"], {
        "tenant_id": tenant_id, "conversation_id": conversation_id, "assistant_id": assistant_id,
        "message_id": message_id, "run_after": run_after, "now": utcnow()})


def _arm_job_statement(dialect: str) -> Any:
    # Built once, like the claim: it runs in the inbound transaction of every message the AI answers.
    jobs = AiJob.__table__
    assert isinstance(jobs, Table)
    now = bindparam("now", type_=jobs.c.updated_at.type)
    values: dict[str, Any] = {
        "state": "pending", "run_after": bindparam("run_after", type_=jobs.c.run_after.type),
        "assistant_id": bindparam("assistant_id", type_=Uuid()), "attempts": 0, "lease_token": None,
        "locked_until": None, "last_error": None, "updated_at": now,
        "last_inbound_message_id": bindparam("message_id", type_=jobs.c.last_inbound_message_id.type),
    }
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(jobs).values(
        tenant_id=TENANT, conversation_id=_CONVERSATION, created_at=now, **values)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "conversation_id"], set_={k: stmt.excluded[k] for k in values},
        where=jobs.c.last_inbound_message_id <= stmt.excluded.last_inbound_message_id)


ARM_JOB = {dialect: _arm_job_statement(dialect) for dialect in ("sqlite", "postgresql")}


def _claim_statement(dialect: str) -> Any:
    # On the table rather than the mapped class: a plain UPDATE … RETURNING skips the ORM's bulk
    # update bookkeeping, which cost more than the statement itself.
    jobs = AiJob.__table__
    assert isinstance(jobs, Table)
    now = bindparam("now", type_=jobs.c.run_after.type)
    due = (select(jobs.c.id)
           .where(((jobs.c.state == "pending") & (jobs.c.run_after <= now))
                  | ((jobs.c.state == "running") & (jobs.c.locked_until < now)))
           .order_by(jobs.c.run_after).limit(LIMIT))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # The claim's commit does not wait for the disk (3-6 ms of every turn's way to the model): a
    # claim the database loses in a crash is a job due again, taken as when a lease runs out, and
    # the turn's posting commit, an ordinary one, puts the claim on disk with it.
    return (update(jobs).where(jobs.c.id.in_(due.scalar_subquery()))
            .values(state="running", lease_token=bindparam("token"), locked_until=bindparam("until"),
                    attempts=jobs.c.attempts + 1, updated_at=now)
            .returning(jobs.c.id, jobs.c.tenant_id, jobs.c.conversation_id, jobs.c.assistant_id,
                       jobs.c.last_inbound_message_id, jobs.c.attempts, *committed_unflushed(dialect)))


CLAIM = {dialect: _claim_statement(dialect) for dialect in ("sqlite", "postgresql")}


async def claim_jobs(session: AsyncSession, now: datetime, lease: timedelta, limit: int) -> list[ClaimedJob]:
    """Take due jobs (and jobs whose worker's lease ran out) under a fresh lease. On PostgreSQL
    concurrent workers skip each other's rows; SQLite has one writer at a time anyway."""
    # One statement claims the batch; the lease token is shared by the batch (a lease is always
    # checked together with the job's id).
    token = uuid.uuid4().hex
    rows = await session.execute(CLAIM["sqlite" if is_sqlite(session) else "postgresql"],
                                 {"now": now, "until": now + lease, "token": token, "limit": limit})
    return [ClaimedJob(r.id, r.tenant_id, r.conversation_id, r.assistant_id, r.last_inbound_message_id, token,
                       r.attempts) for r in rows]


NEXT_WAKE = select(
    select(func.min(AiJob.run_after)).where(AiJob.state == "pending").scalar_subquery(),
    select(func.min(AiJob.locked_until)).where(AiJob.state == "running").scalar_subquery())


async def next_wake_at(session: Reader) -> datetime | None:
    """When the next job becomes due: a pending one's debounce, or a running one's lease."""
    row = (await session.execute(NEXT_WAKE)).one()
    times = [t for t in row if t is not None]
    return min(times) if times else None


async def finish_job(session: AsyncSession, job: ClaimedJob) -> bool:
    """Mark the turn done, unless a newer message re-armed the job meanwhile (lease cleared)."""
    result = await session.execute(
        tenant_update(AiJob, job.tenant_id).where(AiJob.id == job.id, AiJob.lease_token == job.lease_token)
        .values(state="idle", lease_token=None, locked_until=None, updated_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retry_job(session: AsyncSession, job: ClaimedJob, run_after: datetime, error: str) -> None:
    await session.execute(
        tenant_update(AiJob, job.tenant_id).where(AiJob.id == job.id, AiJob.lease_token == job.lease_token)
        .values(state="pending", lease_token=None, locked_until=None, run_after=run_after, last_error=error,
                updated_at=utcnow()))


async def extend_lease(session: AsyncSession, job: ClaimedJob, until: datetime) -> None:
    await session.execute(tenant_update(AiJob, job.tenant_id).where(AiJob.id == job.id,
                                                                    AiJob.lease_token == job.lease_token)
                          .values(locked_until=until))


# --- traces -------------------------------------------------------------------------------

async def get_trace(session: Reader, tenant_id: uuid.UUID, correlation_id: str) -> AiTrace | None:
    stmt = tenant_select(AiTrace, tenant_id).where(AiTrace.correlation_id == correlation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def turn_answered(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                        message_id: int) -> bool:
    stmt = tenant_select(AiTrace, tenant_id, AiTrace.id).where(
        AiTrace.conversation_id == conversation_id, AiTrace.answered_message_id == message_id)
    return (await session.execute(stmt)).first() is not None


async def traces_of_conversation(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                                 limit: int = 20) -> list[AiTrace]:
    stmt = (tenant_select(AiTrace, tenant_id).where(AiTrace.conversation_id == conversation_id)
            .order_by(AiTrace.created_at.desc(), AiTrace.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


# --- summaries and history ----------------------------------------------------------------

async def get_summary(session: Reader, tenant_id: uuid.UUID,
                      conversation_id: uuid.UUID) -> ConversationSummary | None:
    stmt = tenant_select(ConversationSummary, tenant_id).where(ConversationSummary.conversation_id == conversation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def recent_messages(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID, limit: int,
                          up_to_id: int | None = None) -> list[Message]:
    stmt = tenant_select(Message, tenant_id).where(Message.conversation_id == conversation_id, Message.kind != NOTE)
    if up_to_id is not None:
        stmt = stmt.where(Message.id <= up_to_id)
    stmt = stmt.order_by(Message.id.desc()).limit(limit)
    return list(reversed((await session.execute(stmt)).scalars().all()))


async def last_human_author(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
    """The team member who wrote the conversation's latest message from the panel, if any."""
    stmt = (tenant_select(Message, tenant_id, Message.author_user_id)
            .where(Message.conversation_id == conversation_id, Message.author == "human",
                   Message.author_user_id.is_not(None))
            .order_by(Message.id.desc()).limit(1))
    user_id: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return user_id


async def message_stats(session: Reader, tenant_id: uuid.UUID,
                        conversation_id: uuid.UUID) -> tuple[int, int | None]:
    stmt = tenant_select(Message, tenant_id, func.count(), func.max(Message.id)).where(
        Message.conversation_id == conversation_id)
    count, last_id = (await session.execute(stmt)).one()
    return int(count), last_id
