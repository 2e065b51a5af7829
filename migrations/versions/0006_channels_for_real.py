"""channels for real: provider accounts, the raw webhook log, message kinds, replies, reactions,
edits and deletions, statuses that arrive early, the delivery worker's lease and pacing, media to
fetch, WhatsApp templates, and the human takeover's return to the AI

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tertulia.kit.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
SEES = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
NEW_TENANT_TABLES = ["webhook_events", "pending_statuses", "media_fetches", "message_templates"]
UTC = tertulia.kit.db.UTCDateTime()
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"],
                                   name=f"fk_{table}_{column}_{target}", ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        # The provider's account the channel answers for (WhatsApp Cloud: phone number id; YCloud:
        # the business number in E.164; Messenger: page id; Instagram: account id): a webhook's
        # entries must name it.
        batch.add_column(sa.Column("account_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("verify_token", sa.String(64), nullable=True))
        # ok | attention (the provider refused the credentials: deliveries wait until they are fixed)
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_webhook_at", UTC, nullable=True))
        batch.add_column(sa.Column("outbound_url", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("messages") as batch:
        # text image video audio voice document sticker location contacts interactive button template
        # unsupported (what the customer sent, or what we sent); `extra` holds what the kind carries.
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="text"))
        batch.add_column(sa.Column("extra", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reply_to_id", BIG, nullable=True))
        batch.add_column(sa.Column("reply_to_provider_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("reactions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("edited_at", UTC, nullable=True))
        batch.add_column(sa.Column("deleted_at", UTC, nullable=True))
        batch.add_column(sa.Column("error_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("status_at", UTC, nullable=True))

    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("last_human_at", UTC, nullable=True))

    with op.batch_alter_table("tenants") as batch:
        # After how long without a human message a taken-over conversation goes back to the AI
        # (None: never, the default).
        batch.add_column(sa.Column("ai_resumes_after_minutes", sa.Integer(), nullable=True))

    with op.batch_alter_table("outbound_deliveries") as batch:
        batch.add_column(sa.Column("conversation_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("recipient", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_token", sa.String(32), nullable=True))
        batch.add_column(sa.Column("locked_until", UTC, nullable=True))
        batch.add_column(sa.Column("sent_at", UTC, nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
    op.create_index("ix_outbound_deliveries_due", "outbound_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_outbound_deliveries_conversation", "outbound_deliveries",
                    ["tenant_id", "conversation_id", "id"])

    op.create_table(
        "webhook_events",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        # The provider's event id where it gives one (YCloud), else the SHA-256 of the body (Meta
        # redelivers the same bytes): a redelivery is recognised and changes nothing.
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        # pending | processed | failed | rejected
        sa.Column("outcome", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed_at", UTC, nullable=True),
        _tenant_fk("webhook_events", "channel_id", "channels"),
        sa.UniqueConstraint("tenant_id", "channel_id", "dedupe_key", name="uq_webhook_events_tenant_id_channel_id_dedupe_key"),
    )
    op.create_index("ix_webhook_events_tenant_id_channel_id_received_at", "webhook_events",
                    ["tenant_id", "channel_id", "received_at"])
    op.create_index("ix_webhook_events_outcome_received_at", "webhook_events", ["outcome", "received_at"])

    op.create_table(
        "pending_statuses",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("provider_message_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _tenant_fk("pending_statuses", "channel_id", "channels"),
    )
    op.create_index("ix_pending_statuses_tenant_id_channel_id_provider_message_id", "pending_statuses",
                    ["tenant_id", "channel_id", "provider_message_id"])

    op.create_table(
        "media_fetches",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", BIG, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),  # which of the message's attachments
        sa.Column("provider_media_id", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),  # pending | done | failed
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _tenant_fk("media_fetches", "channel_id", "channels"),
        sa.UniqueConstraint("tenant_id", "message_id", "position", name="uq_media_fetches_tenant_id_message_id_position"),
    )
    op.create_index("ix_media_fetches_state_next_attempt_at", "media_fetches", ["state", "next_attempt_at"])

    op.create_table(
        "message_templates",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("provider_template_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False, server_default=""),
        sa.Column("parameter_format", sa.String(16), nullable=False, server_default="POSITIONAL"),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("quality", sa.String(16), nullable=True),
        sa.Column("rejected_reason", sa.Text(), nullable=True),
        sa.Column("synced_at", UTC, nullable=False),
        sa.Column("removed_at", UTC, nullable=True),  # gone from the provider at the last sync
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _tenant_fk("message_templates", "channel_id", "channels"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_message_templates_tenant_id_id"),
        sa.UniqueConstraint("tenant_id", "channel_id", "name", "language",
                            name="uq_message_templates_tenant_id_channel_id_name_language"),
    )

    if op.get_bind().dialect.name == "postgresql":
        # Row-level security for the new tenant-owned tables, as migration 0005 set it up.
        for table in NEW_TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_rows ON {table} TO {ROLE} USING ({SEES}) WITH CHECK ({SEES})")


def downgrade() -> None:
    for table in ("message_templates", "media_fetches", "pending_statuses", "webhook_events"):
        op.drop_table(table)
    op.drop_index("ix_outbound_deliveries_conversation", table_name="outbound_deliveries")
    op.drop_index("ix_outbound_deliveries_due", table_name="outbound_deliveries")
    with op.batch_alter_table("outbound_deliveries") as batch:
        for column in ("payload", "sent_at", "locked_until", "lease_token", "recipient", "conversation_id"):
            batch.drop_column(column)
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("ai_resumes_after_minutes")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("last_human_at")
    with op.batch_alter_table("messages") as batch:
        for column in ("status_at", "error_code", "deleted_at", "edited_at", "reactions", "reply_to_provider_id",
                       "reply_to_id", "extra", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("channels") as batch:
        for column in ("options", "outbound_url", "last_webhook_at", "status_reason", "status", "verify_token",
                       "account_id"):
            batch.drop_column(column)
