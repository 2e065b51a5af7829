"""The API document (`/openapi.json`) as the API behaves: FastAPI's generator, then two facts it
cannot know. Every refusal is our error body (`kit.errors`), not FastAPI's `{detail}`; and who
may call each operation, read from the route's authentication dependency (`tenancy.auth`), so a
new route is documented by the dependency it already declares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

Requirements = list[dict[str, list[str]]]
# Who may call a route with a method, from what it depends on: the security requirements
# (alternatives), [] for anyone. A route may declare its own (`openapi_extra={"security": ...}`).
SecurityOf = Callable[[set[Callable[..., Any]], str], Requirements]

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"], "title": "Error",
        "description": "Every 4xx answer. `code` is stable and meant for programs; `message` is for people.",
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "examples": ["validation_error", "not_found", "csrf_failed"]},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"},
                        "description": "for validation errors: one item per refused field"},
        }}},
    },
    "FieldError": {
        "type": "object", "required": ["field", "message", "type"], "title": "FieldError",
        "properties": {
            "field": {"type": "string", "description": "where, e.g. `custom_attributes.color` or `query.limit`"},
            "message": {"type": "string"},
            "type": {"type": "string", "description": "the kind of error, e.g. `missing`, `string_too_long`"},
        },
    },
}
# FastAPI's own error schemas, which our handlers never send.
FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def dependency_calls(dependant: Dependant) -> set[Callable[..., Any]]:
    """Every callable a route depends on, at any depth."""
    found: set[Callable[..., Any]] = set()
    stack = [dependant]
    while stack:
        for sub in stack.pop().dependencies:
            if sub.call is not None:
                found.add(sub.call)
            stack.append(sub)
    return found


def _document(app: FastAPI, security_schemes: dict[str, Any], security_of: SecurityOf) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    doc["components"]["securitySchemes"] = security_schemes
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema or context.path_format is None:
            continue
        calls = dependency_calls(route.dependant)
        for method in sorted(route.methods or ()):
            operation = doc["paths"].get(context.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if "security" not in operation:
                operation["security"] = security_of(calls, method)
            responses = operation["responses"]
            security = operation["security"]
            takes_input = bool(operation.get("requestBody") or operation.get("parameters"))
            if any(security):
                responses["401"] = _error("not authenticated: no credentials, or ones that expired or were revoked")
            if any("session" in alternative for alternative in security):
                responses["403"] = _error("authenticated but not allowed: no X-CSRF-Token with the cookie, or the "
                                          "role does not allow it")
            if "{" in context.path_format:
                responses["404"] = _error("no such resource in your tenant")
            if takes_input:
                responses["422"] = _error("the request is malformed or a value is refused (see `details`)")
            if takes_input or any(security):
                responses["4XX"] = _error("any other refusal (a conflict, too large, too many requests...)")
            for status, response in responses.items():  # a route's own 4xx (a media range's 416...)
                if status.startswith("4") and "content" not in response:
                    responses[status] = _error(response.get("description", "refused"))
    return doc


def document_api(app: FastAPI, *, security_schemes: dict[str, Any], security_of: SecurityOf) -> None:
    """Serve the document built by `_document` (once, on first request) at /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app, security_schemes, security_of)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
