from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow

# What becomes of a delivery: `waiting` behind an older message to the same recipient; `pending`
# until `next_attempt_at`; `sending` while a worker holds its lease; `paused` while its channel's
# credentials are refused; then `done` or `failed`.
UNDONE_STATES = ("waiting", "pending", "sending", "paused")
UNDONE = text("state IN ('waiting', 'pending', 'sending', 'paused')")


class OutboundDelivery(Base):
    """The transactional outbox: one row per outbound message, written in the same transaction as
    the message and claimed by delivery workers (delivery/tasks.py). Only the oldest undone
    delivery of a conversation is ever `pending`: the others wait behind it, so workers claim from
    one small index range and a recipient's messages leave in order."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id"),
        Index(None, "tenant_id", "state", "next_attempt_at"),
        Index("ix_outbound_deliveries_due", "state", "next_attempt_at"),
        Index("ix_outbound_deliveries_conversation", "tenant_id", "conversation_id", "id"),
        # The undone deliveries of a conversation, without walking its history of done ones.
        Index("ix_outbound_deliveries_undone", "tenant_id", "conversation_id", "id",
              postgresql_where=UNDONE, sqlite_where=UNDONE),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # see UNDONE_STATES, done, failed
    attempts: Mapped[int] = mapped_column(default=0)
    # pending: when it may be tried. done: when the next message to the recipient may leave (the
    # send's time plus the channel's spacing), which the next delivery starts from.
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
