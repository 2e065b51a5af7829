"""Conversations and messages: inbound ingestion, human sends, AI ownership, read state.

Every write keeps the conversation's denormalised counters current and records tenant events,
all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tertulia.channels.repository import InboundChannel
from tertulia.contacts import repository as contacts_repo
from tertulia.contacts.schemas import TagOut
from tertulia.conversations import repository as repo
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.schemas import ChatSummary, InboundMessage, InboundResult, MessageOut
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import utcnow
from tertulia.kit.errors import BadRequest, NotFound
from tertulia.realtime.events import record_event
from tertulia.tenancy.models import User

PREVIEW_LEN = 280

# Called inside the ingest transaction after an inbound message is stored (e.g. to schedule the
# AI's reply). Kept as a list so the conversations domain does not import the assistant domain.
# The conversation and the message are the rows as just written, not attached to the session:
# read them; write through a repository.
InboundHook = Callable[[AsyncSession, InboundChannel, Conversation, Message], Awaitable[None]]
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


def summary_row(conv: Conversation, display_name: str, phone: str | None, platform_origin: str,
                tags: list[Any]) -> ChatSummary:
    return ChatSummary(
        id=conv.id, customer_phone=phone or "", display_name=display_name, last_message=conv.last_message_preview,
        timestamp=conv.last_message_at, channel_source=conv.channel_source, unread_count=conv.unread_count,
        is_locked=conv.is_locked, platform_origin=platform_origin, contact_id=conv.contact_id, status=conv.status,
        tags=[TagOut.model_validate(t) for t in tags], last_inbound_at=conv.last_inbound_at,
    )


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


def message_out(msg: Message, names: dict[uuid.UUID, str] | None = None) -> MessageOut:
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


async def ingest_inbound(session: AsyncSession, channel: InboundChannel, body: InboundMessage) -> InboundResult:
    """Store one inbound message exactly once (the database enforces uniqueness of the provider's
    message id per channel, also when two deliveries of it race)."""
    tenant_id, sender = channel.tenant_id, body.contact
    target = await repo.lock_inbound_target(session, tenant_id, channel.id, sender.external_id)
    if target is None:
        # Before creating anything: a repeated delivery must change nothing.
        stored = await repo.find_inbound_message(session, tenant_id, channel.id, body.external_message_id)
        if stored is not None:
            return InboundResult(conversation_id=stored[0], message_id=stored[1], duplicate=True)
        target = await _first_message_target(session, channel, body)
    # Stamped after the conversation lock, so server times follow the order of message ids.
    now = utcnow()
    at = body.timestamp.astimezone(UTC) if body.timestamp else now
    attachments = [a.model_dump(exclude_none=True) for a in body.attachments]
    written = await repo.write_inbound_message(
        session, tenant_id, channel.id, target, provider_message_id=body.external_message_id, content=body.content,
        attachments=attachments, preview=preview_of(body.content, attachments), at=at, now=now,
        external_id=sender.external_id, name=sender.name, phone=sender.phone)
    if written is None:  # a repeated delivery (also one that raced the first): nothing was written
        stored = await repo.find_inbound_message(session, tenant_id, channel.id, body.external_message_id)
        assert stored is not None
        return InboundResult(conversation_id=stored[0], message_id=stored[1], duplicate=True)
    conv = Conversation(**written.conversation)
    msg = Message(id=written.message_id, tenant_id=tenant_id, conversation_id=conv.id, channel_id=channel.id,
                  direction="inbound", author="contact", author_user_id=None, content=body.content,
                  attachments=attachments, status="received", error=None,
                  provider_message_id=body.external_message_id, correlation_id=None, is_echo=False, created_at=at,
                  updated_at=now)
    # The events are built from what was just written; nothing is read back.
    record_event(session, tenant_id, "message.created", message_out(msg).model_dump(mode="json"))
    summary = summary_row(conv, written.display_name, written.phone, channel.platform_origin, target.tags)
    record_event(session, tenant_id, "conversation.updated", summary.model_dump(mode="json"))
    for hook in inbound_hooks:
        await hook(session, channel, conv, msg)
    return InboundResult(conversation_id=conv.id, message_id=msg.id, duplicate=False)


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
