"""the inbox search ignores accents and finds conversations by their messages' text

- `conversations.contact_key`: the contact's name folded (lower case, accents removed with the
  fixed map of conversations/search.py), kept by the triggers that already copy the name (0003).
  A folded column rather than an expression: SQLite has no index to serve the search and would
  fold every row it reads (some fifty replace() calls each); PostgreSQL's trigram index moves
  from lower(contact_name) to it.
- Message text: on PostgreSQL a `simple` tsvector of the folded text (no stemming, no `unaccent`,
  which is not immutable and so cannot feed an index or a generated value), filled by a trigger
  and indexed by GIN led by tenant_id; on SQLite an external-content FTS5 table over the messages
  (`remove_diacritics 2` folds accents the same way), kept by triggers, like the knowledge base's.
- `ix_conversations_unread`: the conversations with unread messages alone (the web app's tab
  title counts them on every change).
- `inbox_contact_matches` becomes `inbox_search_matches`: the rare-match branch of the search
  (see conversations/repository.py) as the tables' owner, for the transaction's tenant only,
  now with the folded name and the message text.

Revision ID: search1
Revises: 0008
Create Date: 2026-12-07 14:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'search1'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
# Frozen copy of conversations/search.py's map (a migration must not change when the code does).
FOLD_FROM = "ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç"
FOLD_TO = "aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuunncc"
FTS_TABLE = "messages_fts"
SEARCH_VECTOR = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")


def _pg_fold(value: str) -> str:
    return f"lower(translate({value}, '{FOLD_FROM}', '{FOLD_TO}'))"


def _sqlite_fold_steps(where: str) -> str:
    """Statements that fold `contact_key` in place (a copy of the name) on SQLite: replace() in
    steps of 17, since SQLite's parser refuses fifty nested calls."""
    steps = []
    for start in range(0, len(FOLD_FROM), 17):
        value = "contact_key"
        for src, dst in zip(FOLD_FROM[start:start + 17], FOLD_TO[start:start + 17], strict=True):
            value = f"replace({value}, '{src}', '{dst}')"
        steps.append(f"UPDATE conversations SET contact_key = {value} WHERE {where};")
    steps.append(f"UPDATE conversations SET contact_key = lower(contact_key) WHERE {where};")
    return "\n".join(steps)


def _pg_copy_triggers(with_key: bool) -> list[str]:
    key_set = f", contact_key = {_pg_fold('NEW.display_name')}" if with_key else ""
    key_into = f"NEW.contact_key := {_pg_fold('NEW.contact_name')};" if with_key else ""
    return [
        f"""CREATE OR REPLACE FUNCTION conversations_copy_contact() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT c.display_name, c.phone INTO NEW.contact_name, NEW.contact_phone
            FROM contacts c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contact_id;
            {key_into}
            RETURN NEW;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION contacts_copy_to_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE conversations SET contact_name = NEW.display_name, contact_phone = NEW.phone{key_set}
            WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id;
            RETURN NULL;
        END $$""",
    ]


def _sqlite_copy_triggers(with_key: bool) -> list[str]:
    name = "(SELECT display_name FROM contacts WHERE tenant_id = NEW.tenant_id AND id = NEW.contact_id)"
    copy = f"""UPDATE conversations SET contact_name = {name},
        contact_phone = (SELECT phone FROM contacts WHERE tenant_id = NEW.tenant_id AND id = NEW.contact_id)
        {", contact_key = " + name if with_key else ""} WHERE id = NEW.id;"""
    copy += _sqlite_fold_steps("id = NEW.id") if with_key else ""
    of_contact = "tenant_id = NEW.tenant_id AND contact_id = NEW.id"
    key_set = f", contact_key = NEW.display_name WHERE {of_contact};" + _sqlite_fold_steps(of_contact) if with_key \
        else f" WHERE {of_contact};"
    return [
        f"CREATE TRIGGER conversations_copy_contact_ai AFTER INSERT ON conversations BEGIN {copy} END",
        f"CREATE TRIGGER conversations_copy_contact_au AFTER UPDATE OF contact_id ON conversations BEGIN {copy} END",
        f"""CREATE TRIGGER contacts_copy_to_conversations AFTER UPDATE OF display_name, phone ON contacts
        WHEN OLD.display_name IS NOT NEW.display_name OR OLD.phone IS NOT NEW.phone BEGIN
            UPDATE conversations SET contact_name = NEW.display_name, contact_phone = NEW.phone{key_set} END""",
    ]


SQLITE_COPY_TRIGGER_NAMES = ("conversations_copy_contact_ai", "conversations_copy_contact_au",
                             "contacts_copy_to_conversations")

PG_MESSAGE_VECTOR = [
    f"""CREATE FUNCTION messages_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector := to_tsvector('simple'::regconfig, {_pg_fold('NEW.content')});
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER messages_search_vector BEFORE INSERT OR UPDATE OF content ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_search_vector()""",
]

SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(content, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content); END""",
    f"""CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content) VALUES ('delete', old.id, old.content); END""",
    f"""CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content); END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]


def _search_function(schema: str) -> str:
    return f"""CREATE FUNCTION inbox_search_matches(name_pattern text, phone_pattern text, words tsquery)
        RETURNS TABLE (id uuid, last_message_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path = {schema}, pg_temp AS $$
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND (c.contact_key LIKE name_pattern OR c.contact_phone LIKE phone_pattern)
            UNION
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND c.id IN (SELECT m.conversation_id FROM messages m
                           WHERE m.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                             AND m.search_vector @@ words)
        $$"""


def _contact_function(schema: str) -> str:
    # 0005's, restored on downgrade.
    return f"""CREATE FUNCTION inbox_contact_matches(pattern text)
        RETURNS TABLE (id uuid, last_message_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path = {schema}, pg_temp AS $$
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND (lower(c.contact_name) LIKE pattern OR c.contact_phone LIKE pattern)
        $$"""


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    # Plain ALTER TABLE on both (SQLite >= 3.35): a batch copy of the table would drop its triggers.
    op.add_column('conversations', sa.Column('contact_key', sa.String(length=200), server_default='', nullable=False))
    op.add_column('messages', sa.Column('search_vector', SEARCH_VECTOR, nullable=True))
    op.drop_index('ix_conversations_contact_name_trgm', table_name='conversations')
    if pg:
        for statement in _pg_copy_triggers(with_key=True):
            op.execute(statement)
        op.execute(f"UPDATE conversations SET contact_key = {_pg_fold('contact_name')}")
        for statement in PG_MESSAGE_VECTOR:
            op.execute(statement)
        op.execute(f"UPDATE messages SET search_vector = to_tsvector('simple'::regconfig, {_pg_fold('content')})")
    else:
        for name in SQLITE_COPY_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
        for statement in _sqlite_copy_triggers(with_key=True):
            op.execute(statement)
        op.execute("UPDATE conversations SET contact_key = contact_name")
        for statement in _sqlite_fold_steps("1").splitlines():
            op.execute(statement)
        for statement in SQLITE_FTS:
            op.execute(statement)
    op.create_index('ix_conversations_contact_key_trgm', 'conversations', ['tenant_id', 'contact_key'],
                    unique=False, postgresql_using='gin', postgresql_ops={'contact_key': 'gin_trgm_ops'},
                    sqlite_where=sa.text('0'))
    op.create_index('ix_messages_search', 'messages', ['tenant_id', 'search_vector'], unique=False,
                    postgresql_using='gin', sqlite_where=sa.text('0'))
    # The unread conversations alone, for the count in the web app's tab title.
    op.create_index('ix_conversations_unread', 'conversations', ['tenant_id', 'unread_count'], unique=False,
                    postgresql_where=sa.text('unread_count > 0'), sqlite_where=sa.text('unread_count > 0'))
    if pg:
        schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute("DROP FUNCTION inbox_contact_matches(text)")
        op.execute(_search_function(schema))
        op.execute("REVOKE ALL ON FUNCTION inbox_search_matches(text, text, tsquery) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION inbox_search_matches(text, text, tsquery) TO {ROLE}")
        op.execute("ANALYZE conversations")
        op.execute("ANALYZE messages")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index('ix_conversations_unread', table_name='conversations')
    op.drop_index('ix_messages_search', table_name='messages')
    op.drop_index('ix_conversations_contact_key_trgm', table_name='conversations')
    if pg:
        schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute("DROP FUNCTION inbox_search_matches(text, text, tsquery)")
        op.execute(_contact_function(schema))
        op.execute("REVOKE ALL ON FUNCTION inbox_contact_matches(text) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION inbox_contact_matches(text) TO {ROLE}")
        op.execute("DROP TRIGGER messages_search_vector ON messages")
        op.execute("DROP FUNCTION messages_search_vector()")
        for statement in _pg_copy_triggers(with_key=False):
            op.execute(statement)
    else:
        for trigger in ("messages_fts_ai", "messages_fts_ad", "messages_fts_au", *SQLITE_COPY_TRIGGER_NAMES):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute(f"DROP TABLE {FTS_TABLE}")
        for statement in _sqlite_copy_triggers(with_key=False):
            op.execute(statement)
    op.create_index('ix_conversations_contact_name_trgm', 'conversations',
                    ['tenant_id', sa.text('lower(contact_name)')], unique=False, postgresql_using='gin',
                    postgresql_ops={'lower(contact_name)': 'gin_trgm_ops'}, sqlite_where=sa.text('0'))
    op.drop_column('messages', 'search_vector')
    op.drop_column('conversations', 'contact_key')
