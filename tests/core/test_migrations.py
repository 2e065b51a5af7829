"""The migrations build the schema the models describe, on both databases: a model changed
without its migration (or the other way round) fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import tertulia.models  # noqa: F401  (every table)
from tertulia.config import Settings
from tertulia.kit.db import Base, sync_url


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # SQLite's FTS5 tables (knowledge search, 0002; message search, search1) have no model.
    return not (type_ == "table" and name is not None and name.startswith(("knowledge_chunks_fts", "messages_fts")))


def test_the_migrated_schema_is_the_models_schema(settings: Settings) -> None:
    engine = create_engine(sync_url(settings.resolved_database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _include_name})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
