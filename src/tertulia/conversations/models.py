from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow

STATUSES = ("open", "resolved", "snoozed")
AI_STATES = ("ai_active", "human_override")
AUTHORS = ("contact", "ai", "human", "system")
DELIVERY_STATUSES = ("received", "queued", "sent", "delivered", "read", "played", "failed")
# What a message is: its text and attachments say most of it; `extra` holds the rest of the kinds
# (location, contacts, interactive and button replies, a template's name and parameters, a
# click-to-chat ad's referral, what an unsupported message was).
MESSAGE_KINDS = ("text", "image", "video", "audio", "voice", "document", "sticker", "location", "contacts",
                 "interactive", "button", "template", "unsupported", "system", "note")
# A private note: the team's own words in the conversation (author `human`, status `note`), never
# delivered, never part of what the AI reads, and no reply: it moves no counter and takes nothing over.
NOTE = "note"


class Conversation(Base):
    """A contact on a channel. The inbox list reads only this table's denormalised columns (kept
    up to date incrementally on every message) plus the contact, so it stays fast at any size."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "channel_id", "contact_id"),
        Index("ix_conversations_inbox", "tenant_id", "last_message_at", "id"),
        Index("ix_conversations_inbox_ai", "tenant_id", "ai_state", "last_message_at", "id"),
        Index("ix_conversations_inbox_source", "tenant_id", "channel_source", "last_message_at", "id"),
        Index("ix_conversations_inbox_status", "tenant_id", "status", "last_message_at", "id"),
        # The unread ones alone (the tab's count): few, whatever the tenant's size.
        Index("ix_conversations_unread", "tenant_id", "unread_count", postgresql_where=text("unread_count > 0"),
              sqlite_where=text("unread_count > 0")),
        Index(None, "tenant_id", "contact_id"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    channel_source: Mapped[str] = mapped_column(String(16))  # copy of the channel's family, for the index
    status: Mapped[str] = mapped_column(String(16), default="open")
    ai_state: Mapped[str] = mapped_column(String(16), default="ai_active")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    unread_count: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_preview: Mapped[str] = mapped_column(String(280), default="")
    last_inbound_at: Mapped[datetime | None]
    last_inbound_message_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The contact's name and phone, copied by database triggers (migration 0003) for the inbox
    # search, which then reads this table alone. Never written by the application.
    contact_name: Mapped[str] = mapped_column(String(200), server_default="")
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    # The name folded (lower case, no accents) by the same triggers (migration search1), for `q`.
    contact_key: Mapped[str] = mapped_column(String(200), server_default="")
    # A person's last message (panel or the phone's app) or takeover while the conversation is
    # theirs; cleared when it goes back to the AI. Times the takeover's return (takeover.py).
    last_human_at: Mapped[datetime | None]

    @property
    def is_locked(self) -> bool:
        return self.ai_state == "human_override"


# Trigram indexes for the inbox search (`q`), as on contacts (see contacts/models.py).
Index("ix_conversations_contact_key_trgm", Conversation.tenant_id, Conversation.contact_key,
      postgresql_using="gin", postgresql_ops={"contact_key": "gin_trgm_ops"}, sqlite_where=text("0"))
Index("ix_conversations_contact_phone_trgm", Conversation.tenant_id, Conversation.contact_phone,
      postgresql_using="gin", postgresql_ops={"contact_phone": "gin_trgm_ops"}, sqlite_where=text("0"))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "tenant_id", "conversation_id", "id"),
        UniqueConstraint("tenant_id", "channel_id", "provider_message_id"),
        Index(None, "tenant_id", "correlation_id"),
        ForeignKeyConstraint(["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    author: Mapped[str] = mapped_column(String(8))  # contact | ai | human | system
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    is_echo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reply_to_id: Mapped[int | None] = mapped_column(BigId)  # the message it answers (quotes), ours
    reply_to_provider_id: Mapped[str | None] = mapped_column(String(200))  # ...as the provider named it
    reactions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{emoji, by, at}]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # the sender deleted it (its text is kept for the team)
    error_code: Mapped[str | None] = mapped_column(String(32))
    status_at: Mapped[datetime | None]  # when the provider said the status last moved
    # PostgreSQL: the folded text's `simple` tsvector, set by a trigger (migration search1) for the
    # inbox search; never loaded. SQLite leaves it empty: its FTS5 table `messages_fts` does that work.
    search_vector: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), deferred=True)


class ConversationWords(Base):
    """PostgreSQL: the words of a conversation's messages of one day (UTC), what the inbox search
    (`q`) tests per conversation and reads through its GIN index for rare words. Filled by a
    statement trigger on messages (migration searchfast1): a message adds its words to its day's
    last part, a new part once that holds 500 words, so the write is bounded by a part's words,
    not by the conversation's size (nor a busy day's). Positions are stripped (the search matches
    words, not phrases). SQLite leaves it empty: its FTS5 table
    `messages_fts` does that work."""

    __tablename__ = "conversation_words"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"],
                             ondelete="CASCADE"),
        Index("ix_conversation_words_search", "tenant_id", "words", postgresql_using="gin", sqlite_where=text("0")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    part: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("0"))
    words: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


class PendingStatus(Base):
    """A delivery status that arrived before the send's answer (and so the provider's message id)
    was stored: applied as soon as a message takes that id."""

    __tablename__ = "pending_statuses"
    __table_args__ = (
        Index(None, "tenant_id", "channel_id", "provider_message_id"),
        Index(None, "created_at"),  # the delivery worker's sweep reads the last minutes' (delivery/service.py)
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    provider_message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaFetch(Base):
    """An attachment a customer sent that is still at the provider (its media ids expire in days):
    copied to the file store by a worker, with retries."""

    __tablename__ = "media_fetches"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id", "position"),
        Index(None, "state", "next_attempt_at"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int]  # which of the message's attachments
    provider_media_id: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
