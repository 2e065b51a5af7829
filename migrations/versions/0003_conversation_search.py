"""conversations carry a copy of their contact's name and phone, for the inbox search

The inbox list's `q` (part of the name or phone) used to walk conversations and probe each one's
contact, or collect matching contacts and probe their conversations: a few thousand index probes
for a common name. With the two columns on the conversation (and trigram GIN indexes on
PostgreSQL) both plans read one table. Triggers keep the copy exact on both databases: a new
conversation (or one moved to another contact) takes its contact's values; a contact's new name or
phone goes to its conversations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:35:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_TRIGGERS = [
    """CREATE FUNCTION conversations_copy_contact() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT c.display_name, c.phone INTO NEW.contact_name, NEW.contact_phone
        FROM contacts c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contact_id;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER conversations_copy_contact BEFORE INSERT OR UPDATE OF contact_id ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_copy_contact()""",
    """CREATE FUNCTION contacts_copy_to_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE conversations SET contact_name = NEW.display_name, contact_phone = NEW.phone
        WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER contacts_copy_to_conversations AFTER UPDATE OF display_name, phone ON contacts
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.phone IS DISTINCT FROM NEW.phone)
    EXECUTE FUNCTION contacts_copy_to_conversations()""",
]

_SQLITE_COPY = """UPDATE conversations SET
        contact_name = (SELECT display_name FROM contacts WHERE tenant_id = NEW.tenant_id AND id = NEW.contact_id),
        contact_phone = (SELECT phone FROM contacts WHERE tenant_id = NEW.tenant_id AND id = NEW.contact_id)
        WHERE id = NEW.id;"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER conversations_copy_contact_ai AFTER INSERT ON conversations BEGIN {_SQLITE_COPY} END",
    f"""CREATE TRIGGER conversations_copy_contact_au AFTER UPDATE OF contact_id ON conversations
        BEGIN {_SQLITE_COPY} END""",
    """CREATE TRIGGER contacts_copy_to_conversations AFTER UPDATE OF display_name, phone ON contacts
    WHEN OLD.display_name IS NOT NEW.display_name OR OLD.phone IS NOT NEW.phone BEGIN
        UPDATE conversations SET contact_name = NEW.display_name, contact_phone = NEW.phone
        WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id; END""",
]


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('conversations') as batch:
        batch.add_column(sa.Column('contact_name', sa.String(length=200), server_default='', nullable=False))
        batch.add_column(sa.Column('contact_phone', sa.String(length=32), nullable=True))
    if pg:
        op.execute("""UPDATE conversations cv SET contact_name = c.display_name, contact_phone = c.phone
                      FROM contacts c WHERE c.tenant_id = cv.tenant_id AND c.id = cv.contact_id""")
    else:
        op.execute("""UPDATE conversations SET
            contact_name = (SELECT display_name FROM contacts c WHERE c.tenant_id = conversations.tenant_id
                            AND c.id = conversations.contact_id),
            contact_phone = (SELECT phone FROM contacts c WHERE c.tenant_id = conversations.tenant_id
                             AND c.id = conversations.contact_id)""")
    for statement in PG_TRIGGERS if pg else SQLITE_TRIGGERS:
        op.execute(statement)
    # Trigram indexes on PostgreSQL; partial indexes over no rows on SQLite (see contacts/models.py).
    op.create_index('ix_conversations_contact_name_trgm', 'conversations',
                    ['tenant_id', sa.text('lower(contact_name)')], unique=False, postgresql_using='gin',
                    postgresql_ops={'lower(contact_name)': 'gin_trgm_ops'}, sqlite_where=sa.text('0'))
    op.create_index('ix_conversations_contact_phone_trgm', 'conversations', ['tenant_id', 'contact_phone'],
                    unique=False, postgresql_using='gin', postgresql_ops={'contact_phone': 'gin_trgm_ops'},
                    sqlite_where=sa.text('0'))
    if pg:
        # The search's plans rest on the new columns' statistics; don't wait for autovacuum.
        op.execute("ANALYZE conversations")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index('ix_conversations_contact_phone_trgm', table_name='conversations')
    op.drop_index('ix_conversations_contact_name_trgm', table_name='conversations')
    if pg:
        op.execute("DROP TRIGGER contacts_copy_to_conversations ON contacts")
        op.execute("DROP TRIGGER conversations_copy_contact ON conversations")
        op.execute("DROP FUNCTION contacts_copy_to_conversations()")
        op.execute("DROP FUNCTION conversations_copy_contact()")
    else:
        for name in ("contacts_copy_to_conversations", "conversations_copy_contact_au",
                     "conversations_copy_contact_ai"):
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table('conversations') as batch:
        batch.drop_column('contact_phone')
        batch.drop_column('contact_name')
