"""Conversations and messages: inbound ingestion, human sends, AI ownership, read state.

Every write keeps the conversation's denormalised counters current and records tenant events,
all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tertulia.channels.repository import InboundChannel
from tertulia.channels.service import check_inbound_channel
from tertulia.contacts import repository as contacts_repo
from tertulia.conversations import repository as repo
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.schemas import ChatSummary, InboundMessage, InboundResult, MessageOut
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import utcnow
from tertulia.kit.errors import BadRequest, NotFound, TertuliaError
from tertulia.realtime.events import record_event
from tertulia.tenancy.models import User

PREVIEW_LEN = 280

# Called inside the ingest transaction after an inbound message is stored (e.g. to schedule the
# AI's reply). Kept as a list so the conversations domain does not import the assistant domain.
# The conversation and the message are the rows as just written, not attached to the session:
# read them; write through a repository.
InboundHook = Callable[[AsyncSession, InboundChannel, repo.ConversationRow, repo.MessageRow], Awaitable[None]]
inbound_hooks: list[InboundHook] = []


def preview_of(content: str, attachments: list[dict[str, Any]]) -> str:
    text = " ".join(content.split())
    if not text and attachments:
        kinds = {"image": "📷 Imagen", "video": "🎬 Video", "audio": "🎤 Audio", "document": "📄 Documento"}
        text = kinds.get(attachments[0].get("type", ""), "📎 Adjunto")
    return text[:PREVIEW_LEN]


async def require_conversation(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                               *, for_update: bool = False) -> Conversation:
    conv = await repo.get_conversation(session, tenant_id, conversation_id, for_update=for_update)
    if conv is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return conv


def summary_fields(conv: Conversation | repo.ConversationRow | repo.InboxRow, display_name: str, phone: str | None,
                   platform_origin: str, tags: list[Any]) -> dict[str, Any]:
    """A ChatSummary's fields in its order, as plain values. The inbox list writes these with
    pydantic_core.to_json, which gives the model's very JSON at 40 % of the cost of building and
    serialising models (it is the panel's most frequent response); a test holds the two equal."""
    return {
        "id": conv.id, "customer_phone": phone or "", "display_name": display_name,
        "last_message": conv.last_message_preview, "timestamp": conv.last_message_at,
        "channel_source": conv.channel_source, "unread_count": conv.unread_count, "is_locked": conv.is_locked,
        "platform_origin": platform_origin, "contact_id": conv.contact_id, "status": conv.status,
        "tags": [{"id": t.id, "name": t.name, "color": t.color} for t in tags],
        "last_inbound_at": conv.last_inbound_at,
    }


def summary_row(conv: Conversation | repo.ConversationRow | repo.InboxRow, display_name: str, phone: str | None,
                platform_origin: str, tags: list[Any]) -> ChatSummary:
    return ChatSummary.model_validate(summary_fields(conv, display_name, phone, platform_origin, tags))


async def conversation_summary(session: AsyncSession, conv: Conversation) -> ChatSummary:
    display_name, phone, platform_origin, tags = await repo.summary_parts(
        session, conv.tenant_id, conv.contact_id, conv.channel_id)
    return summary_row(conv, display_name, phone, platform_origin, tags)


async def emit_conversation_updated(session: AsyncSession, conv: Conversation) -> ChatSummary:
    await session.flush()
    summary = await conversation_summary(session, conv)
    record_event(session, conv.tenant_id, "conversation.updated", summary.model_dump(mode="json"))
    return summary


async def author_names(session: AsyncSession, messages: list[Message]) -> dict[uuid.UUID, str]:
    ids = {m.author_user_id for m in messages if m.author_user_id}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows.all()}


def message_out(msg: Message | repo.MessageRow, names: dict[uuid.UUID, str] | None = None) -> MessageOut:
    return MessageOut(
        id=msg.id, conversation_id=msg.conversation_id, sender="user" if msg.author == "contact" else "agent",
        content=msg.content, timestamp=msg.created_at, attachments=msg.attachments or [],
        correlation_id=msg.correlation_id, author=msg.author,
        author_name=(names or {}).get(msg.author_user_id) if msg.author_user_id else None,
        status=msg.status, error=msg.error,
    )


async def emit_message_created(session: AsyncSession, msg: Message) -> MessageOut:
    await session.flush()
    out = message_out(msg, await author_names(session, [msg]))
    record_event(session, msg.tenant_id, "message.created", out.model_dump(mode="json"))
    return out


@dataclass(frozen=True, slots=True)
class InboundDelivery:
    """One inbound message as delivered: to a channel, either already authenticated by the caller
    (a verified webhook) or opened by the post's inbound token (`token_hash`, the generic `api`
    channel; checked in the same statement that locks the conversation)."""

    channel_id: uuid.UUID
    body: InboundMessage
    token_hash: str | None = None


async def ingest_batch(session: AsyncSession,
                       deliveries: Sequence[InboundDelivery]) -> list[InboundResult | TertuliaError]:
    """Store inbound messages, each exactly once, in one transaction (the inbound writer's batch;
    a single message is a batch of one). The database enforces uniqueness of the provider's
    message id per channel, also when two deliveries of it race; the same id twice in one batch is
    stored once. Answers in the order of `deliveries`: a result, or the error of a delivery whose
    channel does not take it (it writes nothing)."""
    if not deliveries:
        return []
    results: list[InboundResult | TertuliaError | None] = [None] * len(deliveries)
    addresses = [repo.InboundAddress(d.channel_id, d.body.contact.external_id, d.token_hash) for d in deliveries]
    distinct = sorted(set(addresses), key=lambda a: (str(a.channel_id), a.external_id, a.token_hash or ""))
    opened = dict(zip(distinct, await repo.open_inbound_addresses(session, distinct), strict=True))

    items: dict[int, tuple[InboundChannel, InboundMessage]] = {}
    first_of: dict[tuple[uuid.UUID, str], int] = {}
    repeats: list[tuple[int, int]] = []
    members: dict[repo.InboundAddress, list[int]] = {}
    for i, (delivery, address) in enumerate(zip(deliveries, addresses, strict=True)):
        try:
            channel = check_inbound_channel(opened[address].channel, by_token=delivery.token_hash is not None)
        except TertuliaError as exc:
            results[i] = exc
            continue
        items[i] = (channel, delivery.body)
        key = (channel.id, delivery.body.external_message_id)
        if key in first_of:
            repeats.append((i, first_of[key]))
            continue
        first_of[key] = i
        members.setdefault(address, []).append(i)

    targets = {address: target for address in members if (target := opened[address].target) is not None}
    for address in sorted(members.keys() - targets.keys(), key=distinct.index):
        # No conversation yet. Before creating anything: a repeated delivery must change nothing.
        fresh = []
        for i in members[address]:
            channel, body = items[i]
            stored = await repo.find_inbound_message(session, channel.tenant_id, channel.id, body.external_message_id)
            if stored is not None:
                results[i] = InboundResult(conversation_id=stored[0], message_id=stored[1], duplicate=True)
            else:
                fresh.append(i)
        if fresh:
            targets[address] = await _first_message_target(session, *items[fresh[0]])

    # Stamped after the conversation locks, so server times follow the order of message ids.
    now = utcnow()
    order = sorted(i for i in first_of.values() if results[i] is None)
    writes = []
    for i in order:
        channel, body = items[i]
        sender = body.contact
        attachments = [a.model_dump(exclude_none=True) for a in body.attachments]
        writes.append(repo.InboundWriteParams(
            channel.tenant_id, channel.id, targets[addresses[i]],
            body.external_message_id, body.content, attachments, preview_of(body.content, attachments),
            body.timestamp.astimezone(UTC) if body.timestamp else now, sender.external_id, sender.name,
            sender.phone))
    written = await repo.write_inbound_messages(session, now, writes) if writes else []

    stored_messages: list[tuple[InboundChannel, repo.MessageRow]] = []
    last_message_of: dict[uuid.UUID, int] = {}  # conversation id -> index in stored_messages
    latest: dict[uuid.UUID, tuple[repo.InboundWrite, list[Any]]] = {}  # per conversation: its last write
    for i, params, w in zip(order, writes, written, strict=True):
        channel, body = items[i]
        if w is None:  # a repeated delivery (also one that raced the first): nothing was written
            stored = await repo.find_inbound_message(session, channel.tenant_id, channel.id, body.external_message_id)
            assert stored is not None
            results[i] = InboundResult(conversation_id=stored[0], message_id=stored[1], duplicate=True)
            continue
        conv_id = params.target.conversation_id
        latest[conv_id] = (w, params.target.tags)
        msg = repo.MessageRow(w.message_id, channel.tenant_id, conv_id, channel.id, "inbound", "contact", None,
                              params.content, params.attachments, "received", None, params.provider_message_id,
                              None, False, params.at, now)
        last_message_of[conv_id] = len(stored_messages)
        stored_messages.append((channel, msg))
        results[i] = InboundResult(conversation_id=conv_id, message_id=msg.id, duplicate=False)

    # The events are built from what was just written; nothing is read back. Each message makes
    # message.created; each conversation one conversation.updated, after its last message of the
    # batch, with its row as the batch left it.
    for n, (channel, msg) in enumerate(stored_messages):
        record_event(session, channel.tenant_id, "message.created", message_out(msg).model_dump(mode="json"))
        if last_message_of[msg.conversation_id] == n:
            w, tags = latest[msg.conversation_id]
            summary = summary_row(w.conversation, w.display_name, w.phone, channel.platform_origin, tags)
            record_event(session, channel.tenant_id, "conversation.updated", summary.model_dump(mode="json"))
    for channel, msg in stored_messages:
        for hook in inbound_hooks:
            await hook(session, channel, latest[msg.conversation_id][0].conversation, msg)

    for i, first in repeats:
        answer = results[first]
        assert isinstance(answer, InboundResult)
        results[i] = answer.model_copy(update={"duplicate": True})
    assert all(r is not None for r in results)
    return cast(list[InboundResult | TertuliaError], results)


async def _first_message_target(session: AsyncSession, channel: InboundChannel,
                                body: InboundMessage) -> repo.InboundTarget:
    """The identity has no conversation on this channel yet: create what is missing (the identity
    and its contact, the conversation)."""
    tenant_id, sender, now = channel.tenant_id, body.contact, utcnow()
    contact_id = await contacts_repo.upsert_identity(session, tenant_id, channel.id, sender.external_id, sender.name,
                                                     sender.phone, now)
    conversation_id = await repo.insert_conversation(session, tenant_id, channel.id, channel.source, contact_id,
                                                     body.timestamp or now, now)
    if conversation_id is None:  # a concurrent first message created it: wait for it and take it
        target = await repo.lock_inbound_target(session, tenant_id, channel.id, sender.external_id)
        assert target is not None
        return target
    tags = (await contacts_repo.tags_of_contacts(session, tenant_id, [contact_id])).get(contact_id, [])
    return repo.InboundTarget(conversation_id, contact_id, tags)


def _refresh_from(conv: Conversation, row: dict[str, Any]) -> None:
    """Load a row returned by an UPDATE into the conversation, as if read from the database."""
    for key, value in row.items():
        set_committed_value(conv, key, value)


async def add_outbound_message(
    session: AsyncSession, conv: Conversation, *, author: str, content: str,
    attachments: list[dict[str, Any]] | None = None, author_user_id: uuid.UUID | None = None,
    correlation_id: str | None = None, deliver: bool = True,
) -> Message:
    """An outbound message and, when it goes to the contact, its delivery row: one transaction."""
    now = utcnow()
    msg = Message(
        tenant_id=conv.tenant_id, conversation_id=conv.id, channel_id=conv.channel_id, direction="outbound",
        author=author, author_user_id=author_user_id, content=content, attachments=attachments or [],
        status="queued" if deliver else "sent", correlation_id=correlation_id, created_at=now, updated_at=now,
    )
    session.add(msg)
    await session.flush()
    if deliver:
        session.add(OutboundDelivery(tenant_id=conv.tenant_id, message_id=msg.id, channel_id=conv.channel_id,
                                     next_attempt_at=now))
    _refresh_from(conv, await repo.touch_conversation(session, conv.tenant_id, conv.id, at=msg.created_at,
                                                      preview=preview_of(msg.content, msg.attachments), now=now))
    await emit_message_created(session, msg)
    return msg


async def send_human_message(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                             user_id: uuid.UUID | None, text: str,
                             channel_source: str | None = None) -> tuple[Conversation, Message]:
    """A human agent writes: the message is queued for delivery and the human takes over from the AI."""
    conv = await require_conversation(session, tenant_id, conversation_id, for_update=True)
    if channel_source is not None and channel_source != conv.channel_source:
        raise BadRequest(
            f"channel_source '{channel_source}' does not match the conversation's channel '{conv.channel_source}'",
            code="channel_mismatch")
    msg = await add_outbound_message(session, conv, author="human", content=text, author_user_id=user_id)
    conv.ai_state = "human_override"
    conv.unread_count = 0  # whoever answers has read the conversation
    await emit_conversation_updated(session, conv)
    return conv, msg


async def set_human_override(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                             locked: bool) -> Conversation:
    conv = await require_conversation(session, tenant_id, conversation_id, for_update=True)
    new_state = "human_override" if locked else "ai_active"
    if conv.ai_state != new_state:
        conv.ai_state = new_state
        conv.updated_at = utcnow()
        await emit_conversation_updated(session, conv)
    return conv


async def mark_read(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    conv = await require_conversation(session, tenant_id, conversation_id, for_update=True)
    if conv.unread_count:
        conv.unread_count = 0
        await emit_conversation_updated(session, conv)
    return conv
