"""Request-scoped plumbing shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.config import Settings
from tertulia.kit.db import Database, commit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_app_settings(request: Request) -> Settings:
    # async although it never awaits: FastAPI runs a plain function dependency in its thread pool.
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


M = TypeVar("M", bound=BaseModel)


class QueryModel(Generic[M]):
    """A route's query parameters as one pydantic model, validated in one call: use an instance as
    the dependency (`Annotated[Model, Depends(instance)]`) and pass `instance.openapi` as the
    route's `openapi_extra`, which documents the same parameters FastAPI would.

    FastAPI's own parameter models (`Annotated[Model, Query()]`) are walked field by field in
    Python on every request: ~55 us of CPU for the inbox list's eight, 5 % of that request.
    Errors are the same 422 (`query.<field>`); a repeated parameter counts with its last value,
    as FastAPI reads a single-valued one."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        schema = model.model_json_schema()
        required = set(schema.get("required", ()))
        self.openapi: dict[str, Any] = {"parameters": [
            {"name": name, "in": "query", "required": name in required, "schema": prop,
             **({"description": prop["description"]} if "description" in prop else {})}
            for name, prop in schema["properties"].items()]}

    async def __call__(self, request: Request) -> M:  # async: see get_app_settings
        try:
            return self.model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise RequestValidationError(
                [{**err, "loc": ("query", *err["loc"])} for err in exc.errors(include_url=False)]) from None
