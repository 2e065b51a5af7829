"""Input types shared by the API schemas: strings the databases can store, bounded ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_DB_INT = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; reject it up front with a clear message instead of a 500.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


def _stripped_not_blank(value: str) -> str:
    # Runs after the length constraints, so blank-after-strip must be caught here.
    value = _no_nul(value).strip()
    if not value:
        raise PydanticCustomError("blank", "must not be empty")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
NonBlank = Annotated[str, AfterValidator(_stripped_not_blank)]
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_stripped_not_blank)]
ShortText = Annotated[str, AfterValidator(_no_nul), StringConstraints(max_length=1000)]
MessageId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
OptionalCursorId = Annotated[int | None, Query(ge=1, le=MAX_DB_INT)]
# `after_id=0` is "after nothing": every message, the natural first call of a delta sync.
AfterCursorId = Annotated[int | None, Query(ge=0, le=MAX_DB_INT)]
DbInt = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
