from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, utcnow


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index(None, "tenant_id", "display_name"),
        Index(None, "tenant_id", "phone"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="")
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Search by part of a name or phone (`q` of the inbox and contact lists: LIKE '%...%') is served
# on PostgreSQL by trigram GIN indexes (pg_trgm) led by tenant_id (btree_gin), so a rare fragment
# is found without reading the tenant's contacts, whatever plan a prepared statement settles on.
# SQLite has no such index: there they are partial indexes over no rows (WHERE 0) that cost
# nothing, so both databases share one schema.
Index("ix_contacts_display_name_trgm", Contact.tenant_id,
      func.lower(Contact.display_name).label("display_name_lower"), postgresql_using="gin",
      postgresql_ops={"display_name_lower": "gin_trgm_ops"}, sqlite_where=text("0"))
Index("ix_contacts_phone_trgm", Contact.tenant_id, Contact.phone, postgresql_using="gin",
      postgresql_ops={"phone": "gin_trgm_ops"}, sqlite_where=text("0"))


class ContactIdentity(Base):
    """A contact's id on one channel (wa_id, PSID, IGSID, widget visitor id, api external id)."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "external_id"),
        Index(None, "tenant_id", "contact_id"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("tenant_id", "name_key"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    # Case-insensitive uniqueness that both databases enforce the same way.
    name_key: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(7), default="#64748b")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    __table_args__ = (
        Index(None, "tenant_id", "tag_id", "contact_id"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "tag_id"], ["tags.tenant_id", "tags.id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tag_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
