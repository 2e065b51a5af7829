"""the delivery worker's queue: the undone deliveries of a conversation, indexed apart from its
history, so that ordering a recipient's messages never walks the ones already sent; and the
recent pending statuses, for the worker's sweep

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 12:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDONE = sa.text("state IN ('waiting', 'pending', 'sending', 'paused')")


def upgrade() -> None:
    op.create_index("ix_outbound_deliveries_undone", "outbound_deliveries", ["tenant_id", "conversation_id", "id"],
                    postgresql_where=UNDONE, sqlite_where=UNDONE)
    op.create_index("ix_pending_statuses_created_at", "pending_statuses", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_statuses_created_at", table_name="pending_statuses")
    op.drop_index("ix_outbound_deliveries_undone", table_name="outbound_deliveries")
