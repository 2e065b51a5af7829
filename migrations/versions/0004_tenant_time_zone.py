"""tenants carry their time zone

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 10:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A server default fills the rows that exist (SQLite adds a NOT NULL column only with one).
    with op.batch_alter_table('tenants') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=False, server_default='UTC'))


def downgrade() -> None:
    with op.batch_alter_table('tenants') as batch:
        batch.drop_column('time_zone')
