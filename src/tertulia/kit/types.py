"""Input types shared by the API schemas: strings the databases can store, bounded ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field, StringConstraints

MAX_DB_INT = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; reject it up front with a clear message instead of a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _stripped_no_nul(value: str) -> str:
    return _no_nul(value).strip()


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, AfterValidator(_stripped_no_nul), StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, AfterValidator(_no_nul), StringConstraints(max_length=1000)]
MessageId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
OptionalCursorId = Annotated[int | None, Query(ge=1, le=MAX_DB_INT)]
DbInt = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
