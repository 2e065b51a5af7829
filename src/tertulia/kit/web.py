"""Request-scoped plumbing shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.config import Settings
from tertulia.kit.db import Database, commit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the endpoint returns (before the response is
    sent, so a failed commit is reported to the caller instead of being lost). GET, HEAD and
    OPTIONS only read (an endpoint that must write opens a write session of its own): on
    PostgreSQL they run in autocommit, on SQLite on the reading engine."""
    db = get_database(request)
    if request.method in SAFE_METHODS:
        # Nothing to commit: the session only read (closing it ends its read transaction).
        async with db.request_read_sessionmaker() as session:
            yield session
        return
    async with db.sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
