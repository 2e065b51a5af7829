"""Conversations and messages: inbound ingestion, human sends, AI ownership, read state.

Every write keeps the conversation's denormalised counters current and records tenant events,
all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts import repository as contacts_repo
from tertulia.contacts.models import Contact, ContactIdentity
from tertulia.contacts.schemas import TagOut
from tertulia.conversations import repository as repo
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.schemas import ChatSummary, InboundMessage, MessageOut
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import UTCDateTime, tenant_select, utcnow
from tertulia.kit.errors import BadRequest, NotFound
from tertulia.realtime.events import record_event
from tertulia.tenancy.models import User

PREVIEW_LEN = 280

# Called inside the ingest transaction after an inbound message is stored (e.g. to schedule the
# AI's reply). Kept as a list so the conversations domain does not import the assistant domain.
InboundHook = Callable[[AsyncSession, Conversation, Message], Awaitable[None]]
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
    contact = await contacts_repo.get_contact(session, conv.tenant_id, conv.contact_id)
    channel = (await session.execute(
        tenant_select(Channel, conv.tenant_id).where(Channel.id == conv.channel_id))).scalar_one()
    assert contact is not None
    tags = (await contacts_repo.tags_of_contacts(session, conv.tenant_id, [contact.id])).get(contact.id, [])
    return summary_row(conv, contact.display_name, contact.phone, channel.platform_origin, tags)


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


async def _touch_conversation(session: AsyncSession, conv: Conversation, msg: Message, *, inbound: bool) -> None:
    """Move the counters forward atomically (SQL expressions, not read-modify-write)."""
    at = literal(msg.created_at, UTCDateTime())
    newer = Conversation.last_message_at <= at
    values: dict[str, Any] = {
        "last_message_at": case((newer, at), else_=Conversation.last_message_at),
        "last_message_preview": case((newer, preview_of(msg.content, msg.attachments)),
                                     else_=Conversation.last_message_preview),
        "updated_at": utcnow(),
    }
    if inbound:
        values["unread_count"] = Conversation.unread_count + 1
        values["last_inbound_at"] = case(
            (Conversation.last_inbound_at.is_(None), at),
            (Conversation.last_inbound_at < at, at),
            else_=Conversation.last_inbound_at)
        values["last_inbound_message_id"] = msg.id
        values["status"] = "open"
    await session.execute(
        update(Conversation).where(Conversation.tenant_id == conv.tenant_id, Conversation.id == conv.id)
        .values(**values).execution_options(synchronize_session=False))
    await session.refresh(conv)


async def _upsert_identity(session: AsyncSession, channel: Channel, body: InboundMessage) -> Contact:
    tenant_id = channel.tenant_id
    identity = await contacts_repo.get_identity(session, tenant_id, channel.id, body.contact.external_id)
    if identity is None:
        contact = Contact(tenant_id=tenant_id, display_name=body.contact.name or body.contact.external_id,
                          phone=body.contact.phone or None)
        try:
            async with session.begin_nested():
                session.add(contact)
                await session.flush()
                session.add(ContactIdentity(tenant_id=tenant_id, contact_id=contact.id, channel_id=channel.id,
                                            external_id=body.contact.external_id))
                await session.flush()
            return contact
        except IntegrityError:  # another request created this identity first; use theirs
            identity = await contacts_repo.get_identity(session, tenant_id, channel.id, body.contact.external_id)
            assert identity is not None
    found = await contacts_repo.get_contact(session, tenant_id, identity.contact_id)
    assert found is not None
    contact = found
    if body.contact.name and contact.display_name in ("", identity.external_id):
        contact.display_name = body.contact.name
    if body.contact.phone and not contact.phone:
        contact.phone = body.contact.phone
    return contact


async def _upsert_conversation(session: AsyncSession, channel: Channel, contact: Contact,
                               at: datetime) -> Conversation:
    conv = await repo.find_conversation(session, channel.tenant_id, channel.id, contact.id)
    if conv is None:
        conv = Conversation(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                            channel_source=channel.source, last_message_at=at, created_at=utcnow())
        try:
            async with session.begin_nested():
                session.add(conv)
                await session.flush()
        except IntegrityError:
            conv = await repo.find_conversation(session, channel.tenant_id, channel.id, contact.id)
            assert conv is not None
    return await require_conversation(session, channel.tenant_id, conv.id, for_update=True)


async def ingest_inbound(session: AsyncSession, channel: Channel,
                         body: InboundMessage) -> tuple[Conversation, Message, bool]:
    """Store one inbound message exactly once (the database enforces uniqueness of the provider's
    message id per channel, also when two deliveries of it race)."""
    tenant_id = channel.tenant_id
    existing = await repo.find_message_by_provider_id(session, tenant_id, channel.id, body.external_message_id)
    if existing is not None:
        return await require_conversation(session, tenant_id, existing.conversation_id), existing, True
    contact = await _upsert_identity(session, channel, body)
    conv = await _upsert_conversation(session, channel, contact, body.timestamp or utcnow())
    # Stamped after the conversation lock, so server times follow the order of message ids.
    at = body.timestamp.astimezone(UTC) if body.timestamp else utcnow()
    msg = Message(
        tenant_id=tenant_id, conversation_id=conv.id, channel_id=channel.id, direction="inbound", author="contact",
        content=body.content, attachments=[a.model_dump(exclude_none=True) for a in body.attachments],
        status="received", provider_message_id=body.external_message_id, created_at=at, updated_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(msg)
            await session.flush()
    except IntegrityError:
        existing = await repo.find_message_by_provider_id(session, tenant_id, channel.id, body.external_message_id)
        assert existing is not None
        return conv, existing, True
    contact.last_seen_at = utcnow()
    await _touch_conversation(session, conv, msg, inbound=True)
    await emit_message_created(session, msg)
    await emit_conversation_updated(session, conv)
    for hook in inbound_hooks:
        await hook(session, conv, msg)
    return conv, msg, False


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
    await _touch_conversation(session, conv, msg, inbound=False)
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
