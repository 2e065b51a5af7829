from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, utcnow

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

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]
