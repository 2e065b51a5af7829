"""Assistants, their knowledge, the durable AI job queue, AI traces, conversation summaries and
the tenant's MCP servers.

Full-text search over knowledge chunks: on PostgreSQL a `tsvector` column (filled by the
repository with the assistant's text-search configuration) under a GIN index that leads with
`tenant_id` (btree_gin); on SQLite an FTS5 table `knowledge_chunks_fts` that triggers keep in
step with `knowledge_chunks` (created by the migration; it is not part of this metadata).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.kit.db import Base, BigId, utcnow

PROVIDERS = ("offline", "openai", "anthropic")
JOB_STATES = ("pending", "running", "idle")
OUTCOMES = ("sent", "superseded", "handoff", "error")
MCP_TRANSPORTS = ("http", "stdio")

# A tsvector on PostgreSQL; on SQLite the column exists but stays empty (FTS5 does the work).
SearchVector = Text().with_variant(TSVECTOR(), "postgresql")


class Assistant(Base):
    __tablename__ = "assistants"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="es")
    provider: Mapped[str] = mapped_column(String(16), default="offline")
    model: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str | None] = mapped_column(String(500))
    # Fernet-encrypted {"api_key": ...}; never returned by the API.
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    max_output_tokens: Mapped[int | None]
    debounce_seconds: Mapped[float] = mapped_column(Float, default=3.0)
    enabled_tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    handoff_message: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeEntry(Base):
    """One piece of knowledge as the admin wrote or uploaded it; searched through its chunks."""

    __tablename__ = "knowledge_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index(None, "tenant_id", "assistant_id", "created_at"),
        ForeignKeyConstraint(["tenant_id", "assistant_id"], ["assistants.tenant_id", "assistants.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    assistant_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    source_filename: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeChunk(Base):
    """A passage of an entry small enough to quote; the unit of retrieval."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        Index(None, "tenant_id", "entry_id", "position"),
        Index("ix_knowledge_chunks_search", "tenant_id", "search_vector", postgresql_using="gin"),
        ForeignKeyConstraint(["tenant_id", "entry_id"], ["knowledge_entries.tenant_id", "knowledge_entries.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    assistant_id: Mapped[uuid.UUID]
    entry_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    search_vector: Mapped[Any] = mapped_column(SearchVector, nullable=True)


class AiJob(Base):
    """The durable AI queue: one row per conversation, re-armed by every inbound message.

    `pending` rows are due at `run_after` (the debounce: a burst keeps pushing it forward, so it
    becomes one turn). A worker claims a row by moving it to `running` under a fresh `lease_token`
    until `locked_until`; a dead worker's lease expires and another worker takes the job over.
    A new inbound message resets the row to `pending` and clears the lease, so a run that was
    under way can no longer finish the row (its reply is superseded by the newer turn)."""

    __tablename__ = "ai_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "conversation_id"),
        Index(None, "state", "run_after"),  # the claim scans due work across tenants
        ForeignKeyConstraint(["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID]
    assistant_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest inbound message of the turn to answer.
    last_inbound_message_id: Mapped[int] = mapped_column(BigId)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AiTrace(Base):
    """Everything about one AI run, under the correlation id its reply carries.

    `answered_message_id` is set only when the run answered its turn (sent or handed off); the
    unique constraint makes a second answer to the same turn impossible, whatever the workers do
    (NULLs never collide, so superseded and failed runs are kept as well)."""

    __tablename__ = "ai_traces"
    __table_args__ = (
        UniqueConstraint("tenant_id", "correlation_id"),
        UniqueConstraint("tenant_id", "conversation_id", "answered_message_id"),
        Index(None, "tenant_id", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    correlation_id: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[uuid.UUID | None]
    assistant_id: Mapped[uuid.UUID | None]
    turn_message_id: Mapped[int | None] = mapped_column(BigId)
    answered_message_id: Mapped[int | None] = mapped_column(BigId)
    reply_message_id: Mapped[int | None] = mapped_column(BigId)
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200), default="")
    input_messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    output: Mapped[str] = mapped_column(Text, default="")
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationSummary(Base):
    """The rolling summary of a conversation, up to `last_message_id`; stale once newer messages exist."""

    __tablename__ = "conversation_summaries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "conversation_id"),
        ForeignKeyConstraint(["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID]
    summary: Mapped[str] = mapped_column(Text, default="")
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_count: Mapped[int] = mapped_column(default=0)
    last_message_id: Mapped[int | None] = mapped_column(BigId)
    handoff_brief: Mapped[str | None] = mapped_column(Text)


class McpServer(Base):
    """An MCP server whose tools a tenant's assistants may call (streamable HTTP, or stdio when the
    operator allows it). Headers (e.g. an Authorization) are encrypted at rest."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    transport: Mapped[str] = mapped_column(String(16), default="http")
    url: Mapped[str | None] = mapped_column(String(1000))
    headers_encrypted: Mapped[str | None] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
