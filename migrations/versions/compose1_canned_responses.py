"""canned responses: the team's reusable texts, one per shortcut and tenant, with row-level security
like every tenant-owned table

Revision ID: compose1
Revises: 0008
Create Date: 2026-12-07 14:15:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tertulia.kit.db

revision: str = 'compose1'
down_revision: str | None = 'search1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
SEES = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
UTC = tertulia.kit.db.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE",
                                                         name="fk_canned_responses_tenant_id_tenants"), nullable=False),
        sa.Column("shortcut", sa.String(32), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_canned_responses"),
        sa.UniqueConstraint("tenant_id", "shortcut", name="uq_canned_responses_tenant_id_shortcut"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_canned_responses_tenant_id_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE canned_responses ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_rows ON canned_responses TO {ROLE} USING ({SEES}) WITH CHECK ({SEES})")


def downgrade() -> None:
    op.drop_table("canned_responses")
