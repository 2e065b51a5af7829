"""Every route's JSON request body is decoded here, strictly, before the endpoint sees it.

`json.loads(bytes)`, which FastAPI uses, lets through what cannot be stored or sent back: bytes
that are not UTF-8 (ED A0 80 becomes a lone surrogate), `\\ud800` and `\\u0000` escapes, NaN and
Infinity. Refused here, once for every body, they are a 422 naming the field — never a 500, never
text stored altered — and no endpoint or free-form field (`custom_attributes`, tool `args`,
credentials) needs its own check. Every router is built with `route_class=JsonBodyRoute`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tertulia.kit.types import MAX_JSON_DEPTH, find_unstorable


def _invalid_json(reason: str, position: int = 0) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error",
                                    "input": {}, "ctx": {"error": reason}}])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


# Built once: json.loads with hooks builds a decoder per call (~6 us of an inbound message's 10).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
# In valid JSON a NUL or a lone surrogate can only come from a `\u` escape (raw control
# characters are refused by the decoder, encoded surrogates by the UTF-8 decoding), and nesting
# needs brackets: a body with neither is not walked. An inbound message then decodes in 3.2 us
# where json.loads takes 3.1.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _may_hold_unstorable(text: str) -> bool:
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH or _RISKY_ESCAPE.search(text) is not None


def decode_json_body(raw: bytes) -> Any:
    """The decoded body, or a RequestValidationError (rendered as a 422 by kit.errors)."""
    try:
        text = raw.decode("utf-8-sig")  # strict: no stray bytes, no encoded surrogates; a BOM is skipped
    except UnicodeDecodeError as exc:
        raise _invalid_json(f"the body is not UTF-8 (byte {exc.start})", exc.start) from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"{exc.msg} at line {exc.lineno}, column {exc.colno}", exc.pos) from None
    except RecursionError:
        raise _invalid_json("nested too deeply") from None
    except ValueError as exc:  # NaN, Infinity, a number out of range or with too many digits
        raise _invalid_json(str(exc).split(":")[0][:120]) from None
    found = find_unstorable(value) if _may_hold_unstorable(text) else None
    if found is not None:
        path, reason = found
        raise RequestValidationError([{"type": "value_error", "loc": ("body", *path), "msg": reason, "input": None}])
    return value


class JsonBodyRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_decoded"):
            self._decoded = decode_json_body(await self.body())
        return self._decoded


def _is_json(content_type: str | None) -> bool:
    # The media types FastAPI reads as JSON (application/json, application/*+json).
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is decoded by `decode_json_body` (FastAPI's documented way to
    customise the request: a Request subclass handed to the route's handler)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:  # the route reads no body
            return handler

        async def decode_then_handle(request: Request) -> Response:
            if _is_json(request.headers.get("content-type")):
                request = JsonBodyRequest(request.scope, request.receive)
                if await request.body():
                    # Decoded (or refused) before FastAPI reads it: errors raised here reach the
                    # app's handlers as they are; FastAPI's own reading then finds the cached value.
                    await request.json()
            return await handler(request)

        return decode_then_handle
