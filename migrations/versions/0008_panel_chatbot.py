"""the panel chatbot (seed 002): chat sessions and their messages, with the seed's index names and
row-level security like every tenant-owned table

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tertulia.kit.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
SEES = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
UTC = tertulia.kit.db.UTCDateTime()
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE",
                                                         name="fk_chat_sessions_tenant_id_tenants"), nullable=False),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_chat_sessions_user_id_users"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_activity_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chat_sessions"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_chat_sessions_tenant_id_id"),
    )
    # One active session per user and tenant.
    op.create_index("uq_chat_sessions_user_active", "chat_sessions", ["tenant_id", "user_id"], unique=True,
                    sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
    op.create_index("ix_chat_sessions_last_activity", "chat_sessions", ["tenant_id", "user_id", "last_activity_at"])

    op.create_table(
        "chat_messages",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE",
                                                         name="fk_chat_messages_tenant_id_tenants"), nullable=False),
        sa.Column("session_id", BIG, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tool_name", sa.String(200), nullable=True),
        sa.Column("tool_args", sa.JSON(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
        sa.ForeignKeyConstraint(["tenant_id", "session_id"], ["chat_sessions.tenant_id", "chat_sessions.id"],
                                name="fk_chat_messages_tenant_id_chat_sessions", ondelete="CASCADE"),
    )
    op.create_index("ix_chat_messages_session_created", "chat_messages", ["tenant_id", "session_id", "created_at"])
    op.create_index("ix_chat_messages_role_created", "chat_messages", ["tenant_id", "role", "created_at"])

    if op.get_bind().dialect.name == "postgresql":
        for table in ("chat_sessions", "chat_messages"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_rows ON {table} TO {ROLE} USING ({SEES}) WITH CHECK ({SEES})")


def downgrade() -> None:
    op.drop_table("chat_messages")
    op.drop_table("chat_sessions")
