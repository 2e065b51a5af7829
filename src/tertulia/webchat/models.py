"""The panel chatbot's conversations (seed 002): one session per user and tenant at a time, and its
messages. Index names are the seed's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow

ROLES = ("user", "assistant", "tool")
SESSION_STATES = ("active", "closed")


class ChatSession(Base):
    """A conversation between one member of a tenant and the panel's assistant. A user has at most
    one active session per tenant (`uq_chat_sessions_user_active`); "new conversation" closes it
    and opens another, and closed ones stay listed."""

    __tablename__ = "chat_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index("uq_chat_sessions_user_active", "tenant_id", "user_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_chat_sessions_last_activity", "tenant_id", "user_id", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class ChatMessage(Base):
    """One line of a chat session. `tool` rows are the trace of a tool run ("call:<Tool>" with its
    arguments) and are never shown in the history; `error_code` is the seed's code when the turn
    failed; `result` the tool's result (links to the files it produced) for the history to show."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_session_created", "tenant_id", "session_id", "created_at"),
        Index("ix_chat_messages_role_created", "tenant_id", "role", "created_at"),
        ForeignKeyConstraint(["tenant_id", "session_id"], ["chat_sessions.tenant_id", "chat_sessions.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(BigId)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    tool_name: Mapped[str | None] = mapped_column(String(200))
    tool_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
