"""Input types shared by the API schemas: strings the databases can store, bounded ids."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_DB_INT = 2**63 - 1
# Deeper JSON than any of our payloads needs; beyond it a body is refused rather than walked
# (serialisers and drivers recurse, and run out of stack long before json.loads does).
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored as it is, or None. PostgreSQL's text and jsonb cannot hold
    NUL; a lone UTF-16 surrogate (from a `\\ud800` escape or undecodable bytes) has no UTF-8 form,
    so no database, log or response can carry it: both are refused, never altered."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii() and _SURROGATE.search(value):
        return "must not contain lone surrogates (text that is not valid Unicode)"
    return None


def find_unstorable(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The first place in decoded JSON (a key or a string, at any depth) that cannot be stored, as
    (path, reason), or None. A bad key is reported at its parent, so the reason never has to
    print it. Walked with a stack, not recursion: the depth is checked, not trusted."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return path, problem
        elif isinstance(item, dict | list):
            if len(path) >= MAX_JSON_DEPTH:
                return path, f"is nested more than {MAX_JSON_DEPTH} levels deep"
            if isinstance(item, dict):
                for key in item:
                    problem = text_problem(key)
                    if problem:
                        return path, f"keys {problem}"
                children: list[tuple[Any, tuple[str | int, ...]]] = [(v, (*path, k)) for k, v in item.items()]
            else:
                children = [(v, (*path, i)) for i, v in enumerate(item)]
            stack.extend(reversed(children))  # document order
    return None


def _no_nul(value: str) -> str:
    # Reject up front with a clear message instead of a database error (see text_problem).
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
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
