from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow

CHANNEL_KINDS = ("whatsapp_cloud", "ycloud", "instagram", "facebook", "web", "api")

# `channel_source` in the seed contracts: the family a concrete channel kind belongs to.
SOURCE_OF_KIND = {
    "whatsapp_cloud": "whatsapp",
    "ycloud": "whatsapp",
    "instagram": "instagram",
    "facebook": "facebook",
    "web": "web",
    "api": "api",
}
CHANNEL_SOURCES = ("whatsapp", "instagram", "facebook", "web", "api")


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("tenant_id", "id"), Index(None, "tenant_id", "kind"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    platform_origin: Mapped[str] = mapped_column(String(200), default="")
    # JSON of provider secrets, Fernet-encrypted under a key derived from the installation secret.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    inbound_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    assistant_id: Mapped[uuid.UUID | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The provider's account this channel answers for (WhatsApp Cloud: the phone number id; YCloud:
    # the business number in E.164; Messenger: the page id; Instagram: the account id). A webhook's
    # entries must name it, or they are rejected: never stored under the wrong tenant.
    account_id: Mapped[str | None] = mapped_column(String(64))
    verify_token: Mapped[str | None] = mapped_column(String(64))  # Meta's webhook verification
    # ok | attention: the provider refused the credentials; deliveries wait until they are fixed.
    status: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    status_reason: Mapped[str | None] = mapped_column(Text)
    last_webhook_at: Mapped[datetime | None]
    outbound_url: Mapped[str | None] = mapped_column(String(2048))  # `api` channels: where sends are POSTed
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]


class WebhookEvent(Base):
    """Every authenticated webhook body, stored before it is processed, with what came of it:
    a body that fails is kept with its error and can be processed again (`tertulia webhooks replay`)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "dedupe_key"),
        Index(None, "tenant_id", "channel_id", "received_at"),
        Index(None, "outcome", "received_at"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    # The provider's event id where it gives one (YCloud), else the SHA-256 of the body (Meta
    # redelivers the same bytes): a redelivery is recognised and changes nothing.
    dedupe_key: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    processed_at: Mapped[datetime | None]


TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION",
                     "DELETED", "REINSTATED", "FLAGGED", "LIMIT_EXCEEDED", "ARCHIVED", "UNARCHIVED", "LOCKED")


class MessageTemplate(Base):
    """A WhatsApp message template as the provider last described it (seed 001 §5)."""

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "channel_id", "name", "language"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"], ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID]
    provider_template_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32), default="", server_default="")
    parameter_format: Mapped[str] = mapped_column(String(16), default="POSITIONAL", server_default="POSITIONAL")
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    quality: Mapped[str | None] = mapped_column(String(16))
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]  # gone from the provider at the last sync
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

