"""the inbox search reads a conversation's words per day instead of its every message

- `conversation_words` (PostgreSQL; empty on SQLite, whose FTS5 table does this work): per
  conversation and UTC day of its messages (in parts of ~500 words), the distinct words of
  those messages (a stripped `simple` tsvector, taken from the messages' own `search_vector`), with a GIN index led by
  tenant_id. The inbox search tests it per conversation of its window (one or a few rows each
  instead of every message) and reads its index for rare words.
- Kept by triggers on messages: a statement trigger adds the words of inserted messages to their
  day's row (one INSERT ... ON CONFLICT for a whole batch, the row untouched when the message
  brings no new word; a new part once the last holds 500 words), so a message's write is bounded
  by a part's words, never by the conversation's size (a vector per conversation, rewritten on
  every message, grew with it: see bench/README.md). An edited text rebuilds its day's row from that day's messages.
- `ix_messages_search` (GIN over every message's vector) goes: nothing reads it any more (the
  excerpt of a found conversation tests the vectors of its messages through their conversation's
  index), and every inbound message paid for it.
- `inbox_search_matches` reads message words from `conversation_words`; `inbox_search_word_days`
  reads up to `cap` of its rows holding the words (the search's test of whether they are rare).

Revision ID: searchfast1
Revises: compose1
Create Date: 2026-12-07 18:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'searchfast1'
down_revision: str | None = 'compose1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "tertulia_tenant"
SEES = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
WORDS = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")
DAY = "(m.created_at AT TIME ZONE 'UTC')::date"
# The distinct words of a set of messages `m` as one stripped tsvector, per (tenant, conversation, day).
GATHER = f"""SELECT m.tenant_id, m.conversation_id, {DAY} AS day,
        array_to_tsvector(array_agg(DISTINCT w.lexeme)) AS words
    FROM {{messages}} m CROSS JOIN LATERAL unnest(m.search_vector) w {{where}}
    GROUP BY 1, 2, 3"""

# A day's words go to its last part until it holds this many, then to a new part: a busy day of
# ever-new words (order numbers) would otherwise make every message rewrite a growing row.
PART_WORDS = 500

PG_TRIGGERS = [
    # Sorted by key, so two batches touching the same rows lock them in one order.
    f"""CREATE FUNCTION conversation_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO conversation_words AS cw (tenant_id, conversation_id, day, part, words)
        SELECT g.tenant_id, g.conversation_id, g.day,
               COALESCE(last.part + (length(last.words) >= {PART_WORDS})::int, 0), g.words
        FROM ({GATHER.format(messages="new_messages", where="")}) g
        LEFT JOIN LATERAL (SELECT x.part, x.words FROM conversation_words x
                           WHERE x.tenant_id = g.tenant_id AND x.conversation_id = g.conversation_id AND x.day = g.day
                           ORDER BY x.part DESC LIMIT 1) last ON true
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, conversation_id, day, part) DO UPDATE SET words = cw.words || EXCLUDED.words
        WHERE NOT tsvector_to_array(EXCLUDED.words) <@ tsvector_to_array(cw.words);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER conversation_words_add AFTER INSERT ON messages REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_words_add()""",
    # An edit can take words away: the day's row is rebuilt from that day's messages.
    f"""CREATE FUNCTION conversation_words_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM conversation_words
        WHERE tenant_id = NEW.tenant_id AND conversation_id = NEW.conversation_id
          AND day = (NEW.created_at AT TIME ZONE 'UTC')::date;
        INSERT INTO conversation_words (tenant_id, conversation_id, day, words)
        {GATHER.format(messages="messages", where='''WHERE m.tenant_id = NEW.tenant_id
          AND m.conversation_id = NEW.conversation_id
          AND (m.created_at AT TIME ZONE 'UTC')::date = (NEW.created_at AT TIME ZONE 'UTC')::date''')};
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER conversation_words_rebuild AFTER UPDATE OF content ON messages FOR EACH ROW
    WHEN (OLD.content IS DISTINCT FROM NEW.content) EXECUTE FUNCTION conversation_words_rebuild()""",
]


def _search_function(schema: str, words_from: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION inbox_search_matches(name_pattern text, phone_pattern text, words tsquery)
        RETURNS TABLE (id uuid, last_message_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER ROWS 50 SET search_path = {schema}, pg_temp AS $$
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND (c.contact_key LIKE name_pattern OR c.contact_phone LIKE phone_pattern)
            UNION
            SELECT c.id, c.last_message_at FROM conversations c
            WHERE c.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
              AND c.id IN ({words_from})
        $$"""


# A day's row can hold the words of two messages: the conversation's messages have the last word.
# (`words` alone would name the column here, not the argument.)
WORDS_FROM_TABLE = """SELECT w.conversation_id FROM conversation_words w
                           WHERE w.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                             AND w.words @@ inbox_search_matches.words)
              AND EXISTS (SELECT FROM messages m
                          WHERE m.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                            AND m.conversation_id = c.id AND m.search_vector @@ words"""
# search1's, restored on downgrade.
WORDS_FROM_MESSAGES = """SELECT m.conversation_id FROM messages m
                           WHERE m.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                             AND m.search_vector @@ words"""


def _word_days_function(schema: str) -> str:
    # Planned for the words at hand (EXECUTE): a rare word through the GIN index, a common one by
    # the first rows holding it. One plan for any words once walked every row of the tenant for
    # a word found in none (56 ms instead of under 1 on bench/inbox_list.py).
    return f"""CREATE OR REPLACE FUNCTION inbox_search_word_days(words tsquery, cap integer)
        RETURNS TABLE (conversation_id uuid)
        LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100 SET search_path = {schema}, pg_temp AS $$
        BEGIN
            RETURN QUERY EXECUTE 'SELECT w.conversation_id FROM conversation_words w
                WHERE w.tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid
                  AND w.words @@ $1 LIMIT $2' USING words, cap;
        END $$"""


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "conversation_words",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("part", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("words", WORDS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_conversation_words_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"],
                                name="fk_conversation_words_tenant_id_conversations", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "conversation_id", "day", "part", name="pk_conversation_words"),
    )
    if pg:
        op.execute("ALTER TABLE conversation_words ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_rows ON conversation_words TO {ROLE} USING ({SEES}) WITH CHECK ({SEES})")
        for statement in PG_TRIGGERS:
            op.execute(statement)
        # The backfill: one pass over the messages (the triggers' lock on messages holds writers
        # back until commit, so none is missed). Indexed afterwards, which is faster than as it fills.
        op.execute("INSERT INTO conversation_words (tenant_id, conversation_id, day, words) "
                   + GATHER.format(messages="messages", where=""))
    op.create_index("ix_conversation_words_search", "conversation_words", ["tenant_id", "words"], unique=False,
                    postgresql_using="gin", sqlite_where=sa.text("0"))
    op.drop_index("ix_messages_search", table_name="messages")
    if pg:
        schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute(_search_function(schema, WORDS_FROM_TABLE))
        op.execute(_word_days_function(schema))
        op.execute("REVOKE ALL ON FUNCTION inbox_search_word_days(tsquery, integer) FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION inbox_search_word_days(tsquery, integer) TO {ROLE}")
        op.execute("ANALYZE conversation_words")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_messages_search", "messages", ["tenant_id", "search_vector"], unique=False,
                    postgresql_using="gin", sqlite_where=sa.text("0"))
    if pg:
        schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
        op.execute(_search_function(schema, WORDS_FROM_MESSAGES))
        op.execute("DROP FUNCTION inbox_search_word_days(tsquery, integer)")
        op.execute("DROP TRIGGER conversation_words_rebuild ON messages")
        op.execute("DROP TRIGGER conversation_words_add ON messages")
        op.execute("DROP FUNCTION conversation_words_rebuild()")
        op.execute("DROP FUNCTION conversation_words_add()")
    op.drop_table("conversation_words")
