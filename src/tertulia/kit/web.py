"""Request-scoped plumbing shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.config import Settings
from tertulia.kit.db import Database, ReadSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_app_settings(request: Request) -> Settings:
    # async although it never awaits: FastAPI runs a plain function dependency in its thread pool.
    settings: Settings = request.app.state.settings
    return settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession | ReadSession]:
    """The request's one transaction, committed when the endpoint returns (before the response is
    sent, so a failed commit is the caller's error, not lost), rolled back if it raises. GET, HEAD
    and OPTIONS only read: they get a ReadSession (declare `ReadDb`); the others declare
    `DbSession`. Whose rows it sees is stated by the credential check (tenancy.auth)."""
    db = get_database(request)
    if request.method in SAFE_METHODS:
        async with db.read_session() as read:
            yield read
    else:
        async with db.session() as session:
            yield session


DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
ReadDb = Annotated[ReadSession, Depends(get_db_session, scope="function")]
# For dependencies that serve every method (the credential check): they only read.
RequestDb = Annotated[AsyncSession | ReadSession, Depends(get_db_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
