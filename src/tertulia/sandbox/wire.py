"""What the provider modules share: reading a request's body, answering with a cut connection, and
recording the request in the state's log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse


class DroppedConnection(Exception):
    """Raised inside a response body to make the server cut the connection mid-answer: the client
    sees a network error, as when a connection drops after the provider received the request."""


class QuietDrops(logging.Filter):
    """Keeps the server's log free of the tracebacks of connections cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DroppedConnection):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def dropped_response() -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"'
        raise DroppedConnection("connection dropped on purpose")

    return StreamingResponse(body(), media_type="application/json")


async def json_body(request: Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not one."""
    raw = await request.body()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.query_params.get("access_token") or None
