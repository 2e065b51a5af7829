"""assistants: knowledge with full-text search, the AI job queue, traces, summaries, MCP servers

Full-text search differs by database: PostgreSQL keeps a tsvector per chunk under a GIN index led
by tenant_id (btree_gin lets a uuid share a GIN index); SQLite gets an FTS5 table over the chunks,
kept in step by triggers (autogenerate ignores it: see migrations/env.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:12:43.516829
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FTS_TABLE = "knowledge_chunks_fts"

SQLITE_FTS = [
    # External-content FTS5: the text lives once, in knowledge_chunks; remove_diacritics lets
    # "envio" find "envío".
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, content, content='knowledge_chunks',
        content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER knowledge_chunks_fts_ai AFTER INSERT ON knowledge_chunks BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, content) VALUES (new.id, new.title, new.content); END""",
    f"""CREATE TRIGGER knowledge_chunks_fts_ad AFTER DELETE ON knowledge_chunks BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
        END""",
    f"""CREATE TRIGGER knowledge_chunks_fts_au AFTER UPDATE OF title, content ON knowledge_chunks BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
        INSERT INTO {FTS_TABLE}(rowid, title, content) VALUES (new.id, new.title, new.content); END""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_table('ai_traces',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=True),
    sa.Column('assistant_id', sa.Uuid(), nullable=True),
    sa.Column('turn_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('answered_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reply_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('input_messages', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('tokens_in', sa.Integer(), nullable=False),
    sa.Column('tokens_out', sa.Integer(), nullable=False),
    sa.Column('ttft_ms', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ai_traces_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_traces')),
    sa.UniqueConstraint('tenant_id', 'conversation_id', 'answered_message_id', name=op.f('uq_ai_traces_tenant_id_conversation_id_answered_message_id')),
    sa.UniqueConstraint('tenant_id', 'correlation_id', name=op.f('uq_ai_traces_tenant_id_correlation_id'))
    )
    with op.batch_alter_table('ai_traces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_traces_tenant_id_conversation_id_created_at'), ['tenant_id', 'conversation_id', 'created_at'], unique=False)

    op.create_table('assistants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=True),
    sa.Column('api_key_encrypted', sa.Text(), nullable=True),
    sa.Column('temperature', sa.Float(), nullable=True),
    sa.Column('max_output_tokens', sa.Integer(), nullable=True),
    sa.Column('debounce_seconds', sa.Float(), nullable=False),
    sa.Column('enabled_tools', sa.JSON(), nullable=False),
    sa.Column('handoff_message', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_assistants_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistants')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_assistants_tenant_id_id'))
    )
    with op.batch_alter_table('assistants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistants_tenant_id_created_at'), ['tenant_id', 'created_at'], unique=False)

    op.create_table('mcp_servers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('headers_encrypted', sa.Text(), nullable=True),
    sa.Column('command', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_mcp_servers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_servers')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_mcp_servers_tenant_id_id')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_mcp_servers_tenant_id_name'))
    )
    op.create_table('knowledge_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('assistant_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('source_filename', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'assistant_id'], ['assistants.tenant_id', 'assistants.id'], name=op.f('fk_knowledge_entries_tenant_id_assistants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_knowledge_entries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_entries')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_knowledge_entries_tenant_id_id'))
    )
    with op.batch_alter_table('knowledge_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_entries_tenant_id_assistant_id_created_at'), ['tenant_id', 'assistant_id', 'created_at'], unique=False)

    op.create_table('ai_jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('assistant_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_inbound_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_token', sa.String(length=64), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'conversation_id'], ['conversations.tenant_id', 'conversations.id'], name=op.f('fk_ai_jobs_tenant_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ai_jobs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_jobs')),
    sa.UniqueConstraint('tenant_id', 'conversation_id', name=op.f('uq_ai_jobs_tenant_id_conversation_id'))
    )
    with op.batch_alter_table('ai_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_jobs_state_run_after'), ['state', 'run_after'], unique=False)

    op.create_table('conversation_summaries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('last_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('handoff_brief', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'conversation_id'], ['conversations.tenant_id', 'conversations.id'], name=op.f('fk_conversation_summaries_tenant_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_conversation_summaries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_summaries')),
    sa.UniqueConstraint('tenant_id', 'conversation_id', name=op.f('uq_conversation_summaries_tenant_id_conversation_id'))
    )
    op.create_table('knowledge_chunks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('assistant_id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('search_vector', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'entry_id'], ['knowledge_entries.tenant_id', 'knowledge_entries.id'], name=op.f('fk_knowledge_chunks_tenant_id_knowledge_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_knowledge_chunks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_chunks'))
    )
    with op.batch_alter_table('knowledge_chunks', schema=None) as batch_op:
        batch_op.create_index('ix_knowledge_chunks_search', ['tenant_id', 'search_vector'], unique=False, postgresql_using='gin')
        batch_op.create_index(batch_op.f('ix_knowledge_chunks_tenant_id_entry_id_position'), ['tenant_id', 'entry_id', 'position'], unique=False)

    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("knowledge_chunks_fts_ai", "knowledge_chunks_fts_ad", "knowledge_chunks_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    with op.batch_alter_table('knowledge_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_chunks_tenant_id_entry_id_position'))
        batch_op.drop_index('ix_knowledge_chunks_search', postgresql_using='gin')

    op.drop_table('knowledge_chunks')
    op.drop_table('conversation_summaries')
    with op.batch_alter_table('ai_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ai_jobs_state_run_after'))

    op.drop_table('ai_jobs')
    with op.batch_alter_table('knowledge_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_entries_tenant_id_assistant_id_created_at'))

    op.drop_table('knowledge_entries')
    op.drop_table('mcp_servers')
    with op.batch_alter_table('assistants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistants_tenant_id_created_at'))

    op.drop_table('assistants')
    with op.batch_alter_table('ai_traces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ai_traces_tenant_id_conversation_id_created_at'))

    op.drop_table('ai_traces')
