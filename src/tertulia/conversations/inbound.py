"""The inbound path: how a customer's message, from any channel, is stored.

Every message arrives as a delivery (a channel's webhook, or `POST /api/v1/inbound/{channel}`)
and is handed to the process's inbound writer, which answers once it is committed. The writer
stores whatever arrived while it was busy in one transaction (natural batching: a transaction's
fixed costs — its round trips, the commit's flush to disk, the hold on the tenant's event
counter — are then shared instead of queueing the process up). A batch goes through four steps,
a tenant at a time:

1. open   — each delivery's channel (the address names it; an `api` post's token must open it),
            and the conversations of the senders' identities, locked;
2. create — the contact, identity and conversation of a sender seen for the first time;
3. write  — the messages, each stored once per channel and provider id (the database decides,
            also between racing deliveries), the conversations' counters, the contacts' last sight;
4. emit   — `message.created` per message and `conversation.updated` per conversation, then the
            after-store hooks (the assistant schedules its reply there: see app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import repository as channels_repo
from tertulia.channels.repository import InboundChannel
from tertulia.channels.service import check_inbound_channel, require_inbound_token
from tertulia.contacts import repository as contacts_repo
from tertulia.contacts.models import Contact
from tertulia.conversations import repository as repo
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.schemas import InboundMessage, InboundResult
from tertulia.conversations.service import (
    conversation_changed,
    message_out,
    move_counters,
    preview_of,
    summary_of,
)
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import ALL_TENANTS, Database, set_tenant, utcnow
from tertulia.kit.errors import TertuliaError
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.realtime.events import record_event

log = structlog.get_logger("tertulia.conversations.inbound")


@dataclass(frozen=True, slots=True)
class InboundDelivery:
    """One message as a channel delivered it. `token_hash`: the hash of the inbound token an `api`
    post came with (it must open the channel); None when the caller authenticated the delivery
    itself (a webhook whose signature it verified)."""

    channel_id: uuid.UUID
    body: InboundMessage
    token_hash: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message a batch stored, as the after-store hooks see it (the conversation as the batch
    left it: read it, write through a repository)."""

    channel: InboundChannel
    conversation: Conversation
    message: Message


# Called in the batch's transaction with the messages one tenant's part of it stored.
AfterStore = Callable[[AsyncSession, Sequence[StoredMessage]], Awaitable[None]]
Result = InboundResult | TertuliaError


async def ingest_batch(session: AsyncSession, deliveries: Sequence[InboundDelivery],
                       after_store: Sequence[AfterStore] = ()) -> list[Result]:
    """Store inbound messages, each exactly once, in the session's transaction. Answers in the
    order of `deliveries`: a result (`duplicate` when the channel already had the message), or
    the error of a delivery whose channel does not take it (it writes nothing)."""
    results: list[Result | None] = [None] * len(deliveries)
    # The address names the channel, and the channel says whose it is: the one step that reads
    # across tenants. Everything after it runs as the channel's tenant.
    await set_tenant(session, ALL_TENANTS)
    channels = await channels_repo.channels_by_id(session, [d.channel_id for d in deliveries])
    by_tenant: dict[uuid.UUID, list[_Item]] = {}
    for n, delivery in enumerate(deliveries):
        try:
            channel = check_inbound_channel(channels.get(delivery.channel_id), delivery.token_hash)
        except TertuliaError as exc:
            results[n] = exc
            continue
        by_tenant.setdefault(channel.tenant_id, []).append(_Item(n, channel, delivery.body))
    for tenant_id in sorted(by_tenant, key=str):
        await set_tenant(session, tenant_id)
        await _TenantBatch(session, tenant_id, by_tenant[tenant_id], results).run(after_store)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


@dataclass(slots=True)
class _Item:
    n: int  # position in the batch
    channel: InboundChannel
    body: InboundMessage

    @property
    def identity(self) -> tuple[uuid.UUID, str]:
        return self.channel.id, self.body.contact.external_id

    @property
    def identities(self) -> list[tuple[uuid.UUID, str]]:
        """The sender's ids on the channel: its own, then its aliases (WhatsApp: phone and BSUID)."""
        return [self.identity, *((self.channel.id, alias) for alias in self.body.contact.aliases)]

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return self.channel.id, self.body.external_message_id


@dataclass(slots=True)
class _Opened:
    """A sender's conversation (locked) and contact."""

    conversation: Conversation
    contact: Contact
    known: set[str]  # the external ids the contact has on this channel
    tags: list[dict[str, Any]] = field(default_factory=list)  # the contact's, most recently applied first


@dataclass
class _TenantBatch:
    session: AsyncSession
    tenant_id: uuid.UUID
    items: list[_Item]
    results: list[Result | None]
    opened: dict[tuple[uuid.UUID, str], _Opened] = field(default_factory=dict)  # by each identity
    repeats: list[tuple[_Item, _Item]] = field(default_factory=list)  # (copy, the item it repeats)

    async def run(self, after_store: Sequence[AfterStore]) -> None:
        fresh = self._drop_repeats()
        await self._open()
        # Stamped after the locks, so server times follow the order of message ids (a new sender's
        # rows are locked by their inserts). One time for the batch's rows: a contact created now
        # is then already as its message's write leaves it, and needs no UPDATE.
        now = await self._create([i for i in fresh if self._opened(i) is None], utcnow())
        await self._add_aliases(fresh)
        stored = await self._write([i for i in fresh if self.results[i.n] is None], now)
        await self._emit(stored, after_store)
        self._answer_repeats()

    def _opened(self, item: _Item) -> _Opened | None:
        return next((self.opened[k] for k in item.identities if k in self.opened), None)

    def _drop_repeats(self) -> list[_Item]:
        """The same provider id twice in one batch is stored once; the copies answer as its duplicates."""
        first: dict[tuple[uuid.UUID, str], _Item] = {}
        fresh = []
        for item in self.items:
            if item.key in first:
                self.repeats.append((item, first[item.key]))
            else:
                first[item.key] = item
                fresh.append(item)
        return fresh

    def _answer_repeats(self) -> None:
        for item, original in self.repeats:
            answer = self.results[original.n]
            assert answer is not None
            self.results[item.n] = answer.model_copy(update={"duplicate": True}) if isinstance(
                answer, InboundResult) else answer

    # 1. open ------------------------------------------------------------------------------------
    async def _open(self, items: Sequence[_Item] | None = None) -> None:
        identities = sorted({k for i in (self.items if items is None else items) for k in i.identities},
                            key=lambda k: (str(k[0]), k[1]))
        # A row per (identity, tag): the rows of one conversation come together.
        opened: _Opened | None = None
        tagged: set[uuid.UUID] = set()
        for row in await repo.lock_identity_conversations(self.session, self.tenant_id, identities):
            if opened is None or opened.conversation is not row.Conversation:
                found = next((o for o in self.opened.values() if o.conversation is row.Conversation), None)
                opened = found if found is not None else _Opened(row.Conversation, row.Contact, set())
                tagged = {t["id"] for t in opened.tags}
            opened.known.add(row.external_id)
            self.opened[(row.identity_channel, row.external_id)] = opened
            if row.tag_id is not None and row.tag_id not in tagged:
                tagged.add(row.tag_id)
                opened.tags.append({"id": row.tag_id, "name": row.tag_name, "color": row.tag_color})

    # 2. create ----------------------------------------------------------------------------------
    async def _create(self, items: list[_Item], now: datetime) -> datetime:
        """The contact, identity and conversation of senders with no conversation on the channel
        yet (a repeated delivery among them is answered here and creates nothing). Concurrent first
        messages of one sender create it once: the identity's unique key decides, and a loser
        drops the contact it had inserted (nobody else can have seen it) and takes the winner's.
        Returns the batch's time: `now`, or a later one when it waited for a winner's commit."""
        if not items:
            return now
        # Before creating anything: a repeated delivery must change nothing.
        stored = await repo.find_provider_messages(self.session, self.tenant_id, [i.key for i in items])
        for item in items:
            if (row := stored.get(item.key)) is not None:
                self.results[item.n] = InboundResult(conversation_id=row.conversation_id, message_id=row.id,
                                                     duplicate=True)
        items = [i for i in items if i.key not in stored]
        senders: dict[tuple[uuid.UUID, str], _Item] = {}
        for item in items:
            senders.setdefault(item.identity, item)  # the first message of each new sender
        if not senders:
            return now
        contact_of = {identity: uuid.uuid4() for identity in senders}
        contacts = await contacts_repo.insert_contacts(self.session, [
            {"id": contact_of[identity], "tenant_id": self.tenant_id,
             "display_name": item.body.contact.name or item.body.contact.external_id,
             "phone": item.body.contact.phone or None, "notes": "", "custom_attributes": {},
             "last_seen_at": None if item.body.echo else now, "created_at": now, "updated_at": now}
            for identity, item in senders.items()])
        won = await contacts_repo.insert_identities(self.session, [
            {"id": uuid.uuid4(), "tenant_id": self.tenant_id, "contact_id": contact_of[identity],
             "channel_id": identity[0], "external_id": identity[1], "created_at": now} for identity in senders])
        lost = [identity for identity in senders if identity not in won]
        if lost:
            await contacts_repo.delete_contacts(self.session, self.tenant_id, [contact_of[k] for k in lost])
            for identity in lost:  # gone: not the session's objects any more
                self.session.expunge(contacts.pop(contact_of[identity]))
            winners = await contacts_repo.identity_contacts(self.session, self.tenant_id, lost)
            contact_of.update({identity: winners[identity].id for identity in lost})
        made = {(c.channel_id, c.contact_id): c for c in await repo.insert_conversations(self.session, [
            {"id": uuid.uuid4(), "tenant_id": self.tenant_id, "contact_id": contact_of[identity],
             "channel_id": identity[0], "channel_source": item.channel.source, "status": "open",
             "ai_state": "ai_active", "unread_count": 0, "last_message_at": self._at(item, now),
             "last_message_preview": "", "created_at": now, "updated_at": now}
            for identity, item in senders.items()])}
        # Rows this batch inserted are locked by their insert and returned by it: opened as they
        # are, without reading them again. The others are a concurrent first message's (its
        # commit was waited for): locked and read like any existing conversation.
        others = []
        for identity, item in senders.items():
            conv, contact = made.get((identity[0], contact_of[identity])), contacts.get(contact_of[identity])
            if conv is not None and contact is not None:
                self.opened[identity] = _Opened(conv, contact, {identity[1]})
            else:
                others.append(item)
        if others:
            await self._open(others)
        return utcnow() if lost else now  # after the wait: later than the winner's rows

    async def _add_aliases(self, items: list[_Item]) -> None:
        """Ids of a known sender it was not known by yet (its BSUID beside its phone, or the other
        way round) become identities of its contact, so either finds the conversation next time."""
        rows = []
        for item in items:
            opened = self._opened(item)
            if opened is None or self.results[item.n] is not None:
                continue
            for channel_id, external_id in item.identities:
                if external_id not in opened.known:
                    opened.known.add(external_id)
                    self.opened[(channel_id, external_id)] = opened
                    rows.append({"id": uuid.uuid4(), "tenant_id": self.tenant_id, "contact_id": opened.contact.id,
                                 "channel_id": channel_id, "external_id": external_id, "created_at": utcnow()})
        await contacts_repo.insert_identities(self.session, rows)

    # 3. write -----------------------------------------------------------------------------------
    async def _write(self, items: list[_Item], now: datetime) -> list[tuple[_Item, Message]]:
        quoted = await repo.find_provider_messages(
            self.session, self.tenant_id, [(i.channel.id, i.body.reply_to) for i in items if i.body.reply_to])
        messages = [self._message(i, now, quoted) for i in items]
        ids = await repo.insert_inbound_messages(self.session, [_columns(m) for m in messages])
        stored: list[tuple[_Item, Message]] = []
        repeated: list[_Item] = []
        fetches: list[dict[str, Any]] = []
        for item, message in zip(items, messages, strict=True):
            if item.key not in ids:  # delivered before (also by a delivery racing this one)
                repeated.append(item)
                continue
            message.id = ids[item.key]
            opened = self._opened(item)
            assert opened is not None
            conv = opened.conversation
            preview = preview_of(message.content, message.attachments)
            if item.body.echo:  # the business wrote from its phone: a person has taken over
                move_counters(conv, message.created_at, preview, now)
                conv.ai_state, conv.unread_count = "human_override", 0
                conv.last_human_at = max(conv.last_human_at or message.created_at, message.created_at)
            else:
                move_counters(conv, message.created_at, preview, now, inbound_message_id=message.id)
                _touch_contact(opened.contact, item.body, now)
            fetches.extend({"tenant_id": self.tenant_id, "channel_id": item.channel.id, "message_id": message.id,
                            "position": n, "provider_media_id": a["provider_media_id"], "state": "pending",
                            "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
                           for n, a in enumerate(message.attachments) if a.get("status") == "pending")
            stored.append((item, message))
            self.results[item.n] = InboundResult(conversation_id=message.conversation_id, message_id=message.id,
                                                 duplicate=False)
        if repeated:
            found = await repo.find_provider_messages(self.session, self.tenant_id, [i.key for i in repeated])
            for item in repeated:
                row = found[item.key]
                self.results[item.n] = InboundResult(conversation_id=row.conversation_id, message_id=row.id,
                                                     duplicate=True)
        await repo.insert_media_fetches(self.session, fetches)
        await self.session.flush()  # the conversations' counters and the contacts, one statement each
        return stored

    def _message(self, item: _Item, now: datetime, quoted: dict[tuple[uuid.UUID, str], Any]) -> Message:
        body = item.body
        opened = self._opened(item)
        assert opened is not None
        attachments = [a.model_dump(exclude_none=True) for a in body.attachments]
        for a in attachments:  # a file still at the provider waits for the media worker
            if a.get("provider_media_id") and not a.get("url"):
                a["status"] = "pending"
        reply = quoted.get((item.channel.id, body.reply_to)) if body.reply_to else None
        return Message(
            tenant_id=self.tenant_id, conversation_id=opened.conversation.id, channel_id=item.channel.id,
            direction="outbound" if body.echo else "inbound", author="human" if body.echo else "contact",
            author_user_id=None, content=body.content, attachments=attachments,
            status="sent" if body.echo else "received", error=None, provider_message_id=body.external_message_id,
            correlation_id=None, is_echo=body.echo, created_at=self._at(item, now), updated_at=now, kind=body.kind,
            extra=body.extra, reply_to_id=reply.id if reply is not None else None, reply_to_provider_id=body.reply_to,
            reactions=None, edited_at=None, deleted_at=None, error_code=None, status_at=None)

    # 4. emit ------------------------------------------------------------------------------------
    async def _emit(self, stored: list[tuple[_Item, Message]], after_store: Sequence[AfterStore]) -> None:
        if not stored:
            return
        last_of = {message.conversation_id: n for n, (_, message) in enumerate(stored)}
        opened_of = {message.conversation_id: self._opened(item) for item, message in stored}
        for n, (item, message) in enumerate(stored):
            record_event(self.session, self.tenant_id, "message.created", message_out(message).model_dump(mode="json"))
            opened = opened_of[message.conversation_id]
            assert opened is not None
            if last_of[message.conversation_id] == n:  # after its last message: the row as the batch left it
                summary = summary_of(opened.conversation, opened.contact.display_name, opened.contact.phone,
                                     item.channel.platform_origin, opened.tags)
                conversation_changed(self.session, self.tenant_id, summary)
        hooked = [StoredMessage(item.channel, opened.conversation, message)
                  for item, message in stored if (opened := opened_of[message.conversation_id]) is not None]
        for hook in after_store:
            await hook(self.session, hooked)

    @staticmethod
    def _at(item: _Item, now: datetime) -> datetime:
        """When the message was written: the provider's time when it gives one, else ours."""
        return item.body.timestamp.astimezone(UTC) if item.body.timestamp else now


# The columns an inbound message's INSERT names. Left out: the id (the database's) and those
# always NULL for an inbound message, which their column's default (NULL) fills: a shorter
# statement with fewer values to convert per row.
_ALWAYS_NULL = {"author_user_id", "error", "correlation_id", "edited_at", "deleted_at", "error_code", "status_at"}
_WRITTEN = tuple(c.key for c in Message.__table__.columns if c.key != "id" and c.key not in _ALWAYS_NULL)


def _columns(message: Message) -> dict[str, Any]:
    return {key: getattr(message, key) for key in _WRITTEN}


def _touch_contact(contact: Contact, body: InboundMessage, now: datetime) -> None:
    """A contact wrote: it is seen now, and what the delivery says about it fills in what it
    lacks, never overwriting what an agent typed (the name while empty or still the external
    id, the phone while unset)."""
    contact.last_seen_at = contact.updated_at = now
    sender = body.contact
    if sender.name and contact.display_name in ("", sender.external_id):
        contact.display_name = sender.name
    if sender.phone and not contact.phone:
        contact.phone = sender.phone


# --- the writer -----------------------------------------------------------------------------------

BATCH_SIZE = Histogram("tertulia_inbound_batch_messages", "Inbound messages stored per transaction",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
BATCH_SECONDS = Histogram("tertulia_inbound_batch_seconds", "Time to store one batch of inbound messages",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


class WriterStopped(TertuliaError):
    status_code, code = 503, "shutting_down"


@dataclass(slots=True)
class _Pending:
    delivery: InboundDelivery
    future: asyncio.Future[InboundResult]


class InboundWriter:
    """The process's inbound writer (`app.state.inbound_writer`): requests hand it their message
    and wait for the commit; each of its tasks stores, in one transaction, everything that
    arrived while it was busy. A batch that fails is retried a message at a time, so one bad
    message cannot fail the others."""

    def __init__(self, db: Database, *, after_store: Sequence[AfterStore] = (), writers: int = 1,
                 max_batch: int = 200, queue_size: int = 10_000) -> None:
        self.db = db
        self.after_store = list(after_store)
        self.writers = writers
        self.max_batch = max_batch
        # Bounded: when the database cannot keep up, requests wait to be queued instead of
        # piling up in memory.
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, delivery: InboundDelivery) -> InboundResult:
        """Store a delivery; returns once it is committed."""
        if not self._tasks:
            raise WriterStopped("this process is not taking messages now; retry", code="shutting_down")
        pending = _Pending(delivery, asyncio.get_running_loop().create_future())
        await self._queue.put(pending)
        return await pending.future

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"inbound-writer-{n}") for n in range(self.writers)]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), WriterStopped("this process stopped before storing the message; retry"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            BATCH_SIZE.observe(len(batch))
            try:
                with BATCH_SECONDS.time():
                    await self._write(batch)
            except asyncio.CancelledError:
                for pending in batch:
                    _fail(pending, WriterStopped("this process stopped before storing the message; retry"))
                raise

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            async with self.db.session() as session:
                results = await ingest_batch(session, [p.delivery for p in batch], self.after_store)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            log.warning("inbound_batch_failed", action="inbound_write", size=len(batch),
                        error=f"{type(exc).__name__}: {exc}")
            for pending in batch:  # one at a time: only the message at fault fails
                await self._write([pending])
            return
        for pending, result in zip(batch, results, strict=True):  # committed
            if isinstance(result, TertuliaError):
                _fail(pending, result)
            elif not pending.future.done():
                pending.future.set_result(result)


def _fail(pending: _Pending, exc: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)


@asynccontextmanager
async def running_writer(writer: InboundWriter) -> AsyncIterator[InboundWriter]:
    await writer.start()
    try:
        yield writer
    finally:
        await writer.stop()


# --- the generic inbound API --------------------------------------------------------------------

router = APIRouter(tags=["inbound"], route_class=JsonBodyRoute)


@router.post("/api/v1/inbound/{channel_id}", response_model=InboundResult, status_code=202,
             openapi_extra={"security": [{"inboundToken": []}]})
async def post_inbound(channel_id: uuid.UUID, body: InboundMessage, request: Request) -> InboundResult:
    """Deliver one customer message through a generic `api` channel
    (`Authorization: Bearer <inbound token>`). Posting the same `external_message_id` again returns
    the stored message with `duplicate: true`. The answer comes once the message is committed."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = require_inbound_token(token.strip() if scheme.lower() == "bearer" else None)
    writer: InboundWriter = request.app.state.inbound_writer
    return await writer.submit(InboundDelivery(channel_id, body, hash_token(token)))
