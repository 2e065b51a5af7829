from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow


class OutboundDelivery(Base):
    """The transactional outbox: one row per outbound message, written in the same transaction as
    the message and claimed by delivery workers."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id"),
        Index(None, "tenant_id", "state", "next_attempt_at"),
        Index("ix_outbound_deliveries_due", "state", "next_attempt_at"),
        Index("ix_outbound_deliveries_conversation", "tenant_id", "conversation_id", "id"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Messages to one recipient leave in order (of ids, per conversation) and spaced.
    conversation_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str | None] = mapped_column(String(200))  # the contact's id on the channel
    lease_token: Mapped[str | None] = mapped_column(String(32))  # a worker's claim, until locked_until
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what to send beyond the message (a template...)
