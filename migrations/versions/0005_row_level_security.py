"""row-level security: the second wall behind the query filters (PostgreSQL only)

Every tenant-owned table gets a policy: the role `tertulia_tenant` sees (and writes) a row only
when its tenant is the transaction's `app.tenant_id`. The application's transactions act as that
role once they know their tenant (kit/db.py: `set_tenant`); work that must cross tenants says why
and keeps the login role, which owns the tables and is not subject to the policies (they are
enabled, not forced). The login role must be able to create the role, or an operator creates it
first: `CREATE ROLE tertulia_tenant NOLOGIN; GRANT tertulia_tenant TO <login role>;`.

Users and login sessions belong to a person, not to a tenant: they have no policy.

PostgreSQL does not use an index for a condition whose operator is not leakproof when row-level
security applies (a user's condition could otherwise see rows the policy hides before the policy
is checked), and LIKE is not leakproof: the inbox search's trigram indexes would never be used.
The function `inbox_contact_matches` finds the matching conversations as the tables' owner,
for the transaction's own tenant only (it takes no tenant argument), so the search keeps its
indexes behind the wall.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 11:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
TENANT_TABLES = [
    "ai_jobs", "ai_traces", "api_tokens", "assistants", "channels", "contact_identities", "contact_tags", "contacts",
    "conversation_summaries", "conversations", "knowledge_chunks", "knowledge_entries", "mcp_servers", "memberships",
    "messages", "outbound_deliveries", "tags", "tenant_events", "tenant_sequences",
]
SEES = "{column} = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def _policy(table: str, column: str = "tenant_id") -> list[str]:
    sees = SEES.format(column=column)
    return [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY tenant_rows ON {table} TO {ROLE} USING ({sees}) WITH CHECK ({sees})"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} NOLOGIN; END IF;
    END $$""")
    # The login role acts as the tenant role in its transactions (a superuser may anyway).
    op.execute(f"""DO $$ BEGIN
        IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN EXECUTE 'GRANT {ROLE} TO ' || quote_ident(current_user); END IF;
    END $$""")
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {ROLE}")
    # Tables and sequences of later migrations are the tenant role's to use too (their policies
    # are theirs to add: tests/core/test_row_level_security.py checks every tenant-owned table has one).
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}")
    for table in TENANT_TABLES:
        for statement in _policy(table):
            op.execute(statement)
    for statement in _policy("tenants", column="id"):
        op.execute(statement)
    op.execute(f"""CREATE FUNCTION inbox_contact_matches(pattern text)
        RETURNS TABLE (id uuid, last_message_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path = {schema}, pg_temp AS $$
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND (lower(c.contact_name) LIKE pattern OR c.contact_phone LIKE pattern)
        $$""")
    op.execute("REVOKE ALL ON FUNCTION inbox_contact_matches(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION inbox_contact_matches(text) TO {ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION inbox_contact_matches(text)")
    for table in [*TENANT_TABLES, "tenants"]:
        op.execute(f"DROP POLICY tenant_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
