"""Conversations and messages: human sends, AI ownership, read state, and the rules every
message follows (counters, previews, summaries). Inbound messages are stored by inbound.py.

Every write keeps the conversation's denormalised counters current and records tenant events,
all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.contacts.schemas import TagOut
from tertulia.conversations import repository as repo
from tertulia.conversations.models import NOTE, Conversation, Message
from tertulia.conversations.schemas import (
    AssistantRef,
    ChatSummary,
    ConversationAnswering,
    MessageOut,
    SearchMatch,
)
from tertulia.conversations.search import excerpt, matches_contact, search_terms
from tertulia.conversations.window import require_open_window, window_open_until
from tertulia.delivery import outbox
from tertulia.delivery.bubbles import split_into_bubbles
from tertulia.kit.db import Reader, utcnow
from tertulia.kit.errors import BadRequest, Invalid, NotFound
from tertulia.realtime.events import record_event
from tertulia.tenancy.models import User

PREVIEW_LEN = 280


def preview_of(content: str, attachments: list[dict[str, Any]]) -> str:
    text = " ".join(content.split())
    if not text and attachments:
        kinds = {"image": "📷 Imagen", "video": "🎬 Video", "audio": "🎤 Audio", "document": "📄 Documento"}
        text = kinds.get(attachments[0].get("type", ""), "📎 Adjunto")
    return text[:PREVIEW_LEN]


async def require_conversation(session: Reader, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    conv = await repo.get_conversation(session, tenant_id, conversation_id)
    if conv is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return conv


async def lock_conversation(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    """The conversation, locked until commit (see repository.lock_conversation)."""
    conv = await repo.lock_conversation(session, tenant_id, conversation_id)
    if conv is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return conv


def summary_of(conv: Conversation | Row[Any], display_name: str, phone: str | None, platform_origin: str,
               tags: Sequence[Any]) -> ChatSummary:
    """A conversation's row in the inbox list, from the conversation (or a row with its columns),
    its contact's name and phone, its channel's origin and its contact's tags (Tag rows or dicts,
    most recently applied first)."""
    return ChatSummary(
        id=conv.id, customer_phone=phone or "", display_name=display_name, last_message=conv.last_message_preview,
        timestamp=conv.last_message_at, channel_source=conv.channel_source, unread_count=conv.unread_count,
        is_locked=conv.ai_state == "human_override", platform_origin=platform_origin, contact_id=conv.contact_id,
        channel_id=conv.channel_id,
        status=conv.status, tags=[TagOut.model_validate(t) for t in tags], last_inbound_at=conv.last_inbound_at,
        window_open_until=window_open_until(conv.channel_source, conv.last_inbound_at))


async def explain_matches(session: Reader, tenant_id: uuid.UUID, q: str, summaries: Sequence[ChatSummary]) -> None:
    """A search's page: the conversations it found by their messages (not by their contact) get
    the newest matching message and an excerpt of it (one statement for the page)."""
    terms = search_terms(q)
    by_text = [s for s in summaries if not matches_contact(terms, s.display_name, s.customer_phone)]
    found = await repo.newest_text_matches(session, tenant_id, [s.id for s in by_text], terms.words)
    for summary in by_text:
        if summary.id in found:
            message_id, content = found[summary.id]
            summary.match = SearchMatch(message_id=message_id, excerpt=excerpt(content, terms.words))


async def answering(session: Reader, conv: Conversation) -> ConversationAnswering:
    """Who answers this conversation and whether its channel can deliver (see the schema)."""
    channel, undone = await repo.answering_parts(session, conv.tenant_id, conv.channel_id, conv.id)
    assistant = AssistantRef(id=channel.assistant_id, name=channel.assistant_name) if channel.assistant_id else None
    missing: Literal["no_assistant", "assistant_disabled", "channel_disabled"] | None = None
    if not channel.enabled:
        missing = "channel_disabled"
    elif assistant is None:
        missing = "no_assistant"
    elif not channel.assistant_enabled:
        missing = "assistant_disabled"
    first = undone[0] if undone else None
    delivery: Literal["ok", "paused", "retrying", "disabled"] = "ok"
    reason, failure, next_at = None, None, None
    if not channel.enabled:
        delivery, failure = "disabled", "channel_disabled"
    elif channel.status == "attention" or (first is not None and first.state == "paused"):
        delivery, failure = "paused", "channel_attention"
        reason = channel.status_reason or (first.last_error if first else None)
    elif first is not None and first.state == "pending" and first.attempts > 0 and first.last_error:
        delivery, reason, next_at = "retrying", first.last_error, first.next_attempt_at
        # A retried send's last error is "<code>: <the provider's words>" (ProviderFailure.__str__).
        failure = first.last_error.split(":", 1)[0] if ":" in first.last_error else None
    return ConversationAnswering(ai_answers=missing is None, assistant=assistant, ai_missing=missing,
                                 delivery=delivery, delivery_reason=reason, delivery_code=failure,
                                 next_attempt_at=next_at, waiting=len(undone))


async def conversation_summary(session: Reader, conv: Conversation) -> ChatSummary:
    display_name, phone, platform_origin, tags = await repo.summary_parts(
        session, conv.tenant_id, conv.contact_id, conv.channel_id)
    return summary_of(conv, display_name, phone, platform_origin, tags)


def conversation_changed(session: AsyncSession, tenant_id: uuid.UUID, summary: ChatSummary) -> None:
    record_event(session, tenant_id, "conversation.updated", summary.model_dump(mode="json"))


async def emit_conversation_updated(session: AsyncSession, conv: Conversation) -> ChatSummary:
    summary = await conversation_summary(session, conv)
    conversation_changed(session, conv.tenant_id, summary)
    return summary


def move_counters(conv: Conversation, at: datetime, preview: str, now: datetime, *,
                  inbound_message_id: int | None = None) -> None:
    """A new message in a conversation (locked, so its counters can be computed from the row as
    read): the newest message gives the inbox its time and preview (a late delivery with an
    older timestamp leaves them alone); an inbound one also counts as unread, reopens the
    conversation and opens the 24-hour reply window from when the customer wrote."""
    if conv.last_message_at <= at:
        conv.last_message_at = at
        conv.last_message_preview = preview
    conv.updated_at = now
    if inbound_message_id is not None:
        conv.unread_count += 1
        if conv.last_inbound_at is None or conv.last_inbound_at < at:
            conv.last_inbound_at = at
        conv.last_inbound_message_id = inbound_message_id
        conv.status = "open"


async def author_names(session: Reader, messages: list[Message]) -> dict[uuid.UUID, str]:
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
        status=msg.status, error=msg.error, error_code=msg.error_code, status_at=msg.status_at, kind=msg.kind or "text",
        extra=msg.extra, reply_to_id=msg.reply_to_id, reactions=msg.reactions or [], edited_at=msg.edited_at,
        deleted_at=msg.deleted_at, is_echo=bool(msg.is_echo),
    )


async def emit_message_created(session: AsyncSession, msg: Message) -> MessageOut:
    await session.flush()
    out = message_out(msg, await author_names(session, [msg]))
    record_event(session, msg.tenant_id, "message.created", out.model_dump(mode="json"))
    return out


async def emit_message_updated(session: AsyncSession, msg: Message) -> MessageOut:
    """A message changed after it was created (its delivery status, a reaction, an edit, a
    deletion, a file fetched): the panel replaces it by id."""
    await session.flush()
    out = message_out(msg, await author_names(session, [msg]))
    record_event(session, msg.tenant_id, "message.updated", out.model_dump(mode="json"))
    return out


async def add_outbound_message(
    session: AsyncSession, conv: Conversation, *, author: str, content: str,
    attachments: list[dict[str, Any]] | None = None, author_user_id: uuid.UUID | None = None,
    correlation_id: str | None = None, deliver: bool = True, kind: str = "text",
    extra: dict[str, Any] | None = None, reply_to: Message | None = None, payload: dict[str, Any] | None = None,
) -> Message:
    """An outbound message and, when it goes to the contact, its delivery (delivery/outbox.py):
    one transaction. The conversation must be locked (lock_conversation). `payload`: what the
    delivery sends beyond the message (a template's components)."""
    now = utcnow()
    msg = Message(
        tenant_id=conv.tenant_id, conversation_id=conv.id, channel_id=conv.channel_id, direction="outbound",
        author=author, author_user_id=author_user_id, content=content, attachments=attachments or [],
        status="queued" if deliver else "sent", correlation_id=correlation_id, created_at=now, updated_at=now,
        kind=kind, extra=extra, reply_to_id=reply_to.id if reply_to else None,
        reply_to_provider_id=reply_to.provider_message_id if reply_to else None,
    )
    session.add(msg)
    await session.flush()
    if deliver:
        await outbox.enqueue(session, conv, msg, payload=payload)
    move_counters(conv, msg.created_at, preview_of(msg.content, msg.attachments), now)
    await emit_message_created(session, msg)
    return msg


async def add_ai_reply(session: AsyncSession, conv: Conversation, text: str, correlation_id: str) -> list[Message]:
    """The AI's reply: on WhatsApp a long one leaves as several bubbles (delivery/bubbles.py),
    separate messages in order under one correlation id; elsewhere one message."""
    parts = split_into_bubbles(text) if conv.channel_source == "whatsapp" else [text]
    return [await add_outbound_message(session, conv, author="ai", content=part, correlation_id=correlation_id)
            for part in parts]


async def _reply_target(session: Reader, conv: Conversation, reply_to_id: int | None) -> Message | None:
    if reply_to_id is None:
        return None
    target = await repo.get_message(session, conv.tenant_id, reply_to_id)
    if target is None or target.conversation_id != conv.id:
        raise Invalid("reply_to_id is not a message of this conversation", code="reply_not_found")
    return target


def _kind_of(attachments: list[dict[str, Any]]) -> str:
    if not attachments:
        return "text"
    first = attachments[0]
    return "voice" if first.get("type") == "audio" and first.get("voice") else str(first.get("type", "document"))


async def send_human_message(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                             user_id: uuid.UUID | None, text: str, channel_source: str | None = None, *,
                             attachments: list[dict[str, Any]] | None = None,
                             reply_to_id: int | None = None) -> tuple[Conversation, Message]:
    """A human agent writes: the message is queued for delivery and the human takes over from the
    AI. A closed WhatsApp window refuses it (409 `window_closed`, naming the templates to send)."""
    conv = await lock_conversation(session, tenant_id, conversation_id)
    if channel_source is not None and channel_source != conv.channel_source:
        raise BadRequest(
            f"channel_source '{channel_source}' does not match the conversation's channel '{conv.channel_source}'",
            code="channel_mismatch")
    for attachment in attachments or []:
        url = str(attachment.get("url") or "")
        if url.startswith("/") and not url.startswith(f"/media/{tenant_id}/"):
            raise Invalid("an attachment is a file of this tenant (/media/...) or a public URL",
                          code="attachment_not_found")
    await require_open_window(session, conv)
    msg = await add_outbound_message(session, conv, author="human", content=text, author_user_id=user_id,
                                     attachments=attachments, kind=_kind_of(attachments or []),
                                     reply_to=await _reply_target(session, conv, reply_to_id))
    conv.last_human_at = msg.created_at
    conv.ai_state = "human_override"
    conv.unread_count = 0  # whoever answers has read the conversation
    await emit_conversation_updated(session, conv)
    return conv, msg


async def add_note(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                   user_id: uuid.UUID | None, text: str) -> Message:
    """A private note in the conversation: shown to the team live (`message.created`), never queued
    for delivery, and no reply: the inbox row, the unread count and who has control stay as they were."""
    conv = await require_conversation(session, tenant_id, conversation_id)
    now = utcnow()
    msg = Message(tenant_id=tenant_id, conversation_id=conv.id, channel_id=conv.channel_id, direction="outbound",
                  author="human", author_user_id=user_id, content=text, attachments=[], status=NOTE, kind=NOTE,
                  created_at=now, updated_at=now)
    session.add(msg)
    await emit_message_created(session, msg)
    return msg


async def set_human_override(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                             locked: bool) -> Conversation:
    conv = await lock_conversation(session, tenant_id, conversation_id)
    new_state = "human_override" if locked else "ai_active"
    if conv.ai_state != new_state:
        conv.ai_state = new_state
        conv.updated_at = utcnow()
        # A person's takeover starts the clock of its return to the AI (conversations/takeover.py);
        # given back, the conversation has no takeover to time.
        conv.last_human_at = conv.updated_at if locked else None
        await emit_conversation_updated(session, conv)
    return conv


async def mark_read(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    conv = await lock_conversation(session, tenant_id, conversation_id)
    if conv.unread_count:
        conv.unread_count = 0
        await emit_conversation_updated(session, conv)
    return conv
