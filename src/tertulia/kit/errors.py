"""Typed domain errors and the one handler that renders them as {"error": {"code", "message"}}.

An error body says what the caller can act on and nothing else: never an exception's text, SQL,
parameters, a stack trace or a file path. Anything unexpected is logged with its traceback and
answered with a generic 500 (`UnexpectedErrors`)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("tertulia.errors")


class TertuliaError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # More for the caller beside code and message (field `details`, the templates a closed
        # WhatsApp window still allows...), rendered into the error body.
        self.extra = extra or {}
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.headers = headers


class BadRequest(TertuliaError):
    status_code, code = 400, "bad_request"


class NotAuthenticated(TertuliaError):
    status_code, code = 401, "not_authenticated"


class Forbidden(TertuliaError):
    status_code, code = 403, "forbidden"


class NotFound(TertuliaError):
    status_code, code = 404, "not_found"


class Conflict(TertuliaError):
    status_code, code = 409, "conflict"


class Invalid(TertuliaError):
    status_code, code = 422, "validation_error"


class TooManyRequests(TertuliaError):
    status_code, code = 429, "rate_limited"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return {"error": body}


_STATUS_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_error", 429: "rate_limited",
}


def _describe_validation(exc: RequestValidationError) -> tuple[str, str, list[dict[str, Any]]]:
    details = []
    code = "validation_error"
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            code, where = "invalid_json", "body"
            reason = (err.get("ctx") or {}).get("error")
            parts.append("the request body is not valid JSON" + (f": {reason}" if reason else ""))
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        detail: dict[str, Any] = {"field": where, "message": err.get("msg", "invalid"), "type": err.get("type")}
        # The limits a client needs to say the message in its own language ("at most 200 characters").
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float | bool)}
        if ctx:
            detail["ctx"] = ctx
        details.append(detail)
    return code, "; ".join(parts) or "invalid request", details


INTERNAL_ERROR = error_body("internal_error", "something went wrong on our side; it has been logged")


class UnexpectedErrors:
    """ASGI middleware around the routes: an exception no handler knows becomes a JSON 500 with a
    generic message and one log line with the traceback. It is answered here rather than by
    Starlette's outermost handler, which re-raises after answering and so makes the server drop
    the keep-alive connection without saying `Connection: close`; answered here, the connection
    stays usable. A response already under way cannot be replaced: the exception goes on, and the
    server closes the connection, the only way left to tell the client it is cut short."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled_error", method=scope.get("method"), path=scope.get("path"))
            if started:
                raise
            await JSONResponse(INTERNAL_ERROR, status_code=500)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(UnexpectedErrors)

    @app.exception_handler(TertuliaError)
    async def _domain(_: Request, exc: TertuliaError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message, details = _describe_validation(exc)
        return JSONResponse(error_body(code, message, details=details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _db(_: Request, exc: DBAPIError) -> JSONResponse:
        # Input the database cannot store (NUL bytes, out-of-range numbers) is the caller's error.
        if isinstance(exc, DataError):
            return JSONResponse(error_body("invalid_input", "a value in the request cannot be stored"),
                                status_code=422)
        log.error("database_error", error=str(exc.orig))
        return JSONResponse(error_body("database_error", "the database could not complete the request"),
                            status_code=503)
