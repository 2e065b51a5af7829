"""`/admin/mcp-servers`: the MCP servers whose tools a tenant's assistants may call (owners/admins).

Headers (typically an `Authorization` for the server) are write-only: stored encrypted, shown back
only by name. Stdio servers run a command on this machine, so they are refused unless the
operator set `allow_stdio_mcp`.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator
from sqlalchemy.exc import IntegrityError

from tertulia.assistants import mcp
from tertulia.assistants.models import McpServer
from tertulia.kit.db import Reader
from tertulia.kit.egress import check_url, check_url_form
from tertulia.kit.errors import Conflict, Forbidden, Invalid, NotFound, TertuliaError
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.types import ShortText
from tertulia.kit.web import AppSettings, DbSession, ReadDb
from tertulia.tenancy.auth import CurrentManager

router = APIRouter(prefix="/admin", tags=["mcp"], route_class=JsonBodyRoute)

# Short enough that `mcp__<server>__<tool>` leaves room for the tool's own name within 64 chars.
SERVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
MAX_HEADERS = 20


class McpServerCreate(BaseModel):
    name: Annotated[str, StringConstraints(pattern=SERVER_NAME)] = Field(
        description="letters, digits, '_' and '-' (up to 32); tools are offered as mcp__<name>__<tool>")
    transport: Literal["http", "stdio"] = "http"
    url: ShortText | None = Field(default=None, description="streamable HTTP endpoint, e.g. https://host/mcp")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="sent with every request (stdio: environment variables); "
                                                "stored encrypted, never returned")
    command: ShortText | None = Field(default=None, description="stdio only: the command line to run")
    enabled: bool = True

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for key, item in value.items():
            if not HEADER_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid header name")
            if len(item) > 4096 or any(c in item for c in "\r\n\x00"):
                raise ValueError(f"the value of '{key}' is too long or contains line breaks")
        return value

    @model_validator(mode="after")
    def _check_transport(self) -> McpServerCreate:
        if self.transport == "http":
            if not self.url:
                raise ValueError("an http MCP server needs its url")
            if self.command:
                raise ValueError("command is only for stdio servers")
            check_url_form(self.url)
        else:
            if not (self.command or "").strip():
                raise ValueError("a stdio MCP server needs its command")
            if self.url:
                raise ValueError("url is only for http servers")
        return self


class McpServerOut(BaseModel):
    id: uuid.UUID
    name: str
    transport: str
    url: str | None
    command: str | None
    enabled: bool
    header_names: list[str]
    created_at: datetime


class McpToolOut(BaseModel):
    name: str = Field(description="as offered to the model")
    tool: str = Field(description="the tool's own name on its server")
    description: str
    parameters: dict[str, Any]


def server_out(server: McpServer, names: list[str]) -> McpServerOut:
    return McpServerOut(id=server.id, name=server.name, transport=server.transport, url=server.url,
                        command=server.command, enabled=server.enabled, header_names=names,
                        created_at=server.created_at)


def _header_names(request: Request, server: McpServer) -> list[str]:
    if not server.headers_encrypted:
        return []
    try:
        return sorted(request.app.state.secret_box.decrypt(server.headers_encrypted))
    except ValueError:
        return []


async def _require(db: Reader, tenant_id: uuid.UUID, server_id: uuid.UUID) -> McpServer:
    server = await mcp.get_server(db, tenant_id, server_id)
    if server is None:
        raise NotFound("no such MCP server", code="mcp_server_not_found")
    return server


@router.get("/mcp-servers", response_model=list[McpServerOut])
async def list_mcp_servers(principal: CurrentManager, db: ReadDb, request: Request) -> list[McpServerOut]:
    return [server_out(s, _header_names(request, s)) for s in await mcp.list_servers(db, principal.tenant_id)]


@router.post("/mcp-servers", response_model=McpServerOut, status_code=201)
async def create_mcp_server(body: McpServerCreate, principal: CurrentManager, db: DbSession, request: Request,
                            settings: AppSettings) -> McpServerOut:
    """Register an MCP server. Its tools become available to the tenant's assistants (those whose
    enabled tools match `mcp__<name>__*`)."""
    if body.transport == "stdio" and not settings.allow_stdio_mcp:
        raise Forbidden("stdio MCP servers run a command on the server machine; the operator has not allowed "
                        "them (setting TERTULIA_ALLOW_STDIO_MCP)", code="stdio_mcp_disabled")
    if await mcp.get_server_by_name(db, principal.tenant_id, body.name) is not None:
        raise Conflict(f"an MCP server named '{body.name}' already exists", code="mcp_server_exists")
    if body.url is not None:
        await check_url(body.url, what="url")
    server = McpServer(
        tenant_id=principal.tenant_id, name=body.name, transport=body.transport,
        url=body.url if body.transport == "http" else None,
        command=body.command.strip() if body.transport == "stdio" and body.command else None,
        headers_encrypted=request.app.state.secret_box.encrypt(body.headers) if body.headers else None,
        enabled=body.enabled,
    )
    db.add(server)
    try:
        await db.flush()
    except IntegrityError as exc:  # the same name registered concurrently
        raise Conflict(f"an MCP server named '{body.name}' already exists", code="mcp_server_exists") from exc
    return server_out(server, sorted(body.headers))


@router.delete("/mcp-servers/{server_id}", status_code=204)
async def delete_mcp_server(server_id: uuid.UUID, principal: CurrentManager, db: DbSession) -> Response:
    server = await _require(db, principal.tenant_id, server_id)
    await db.delete(server)
    await db.flush()
    mcp.forget_server(server_id)
    return Response(status_code=204)


@router.get("/mcp-servers/{server_id}/tools", response_model=list[McpToolOut])
async def list_mcp_server_tools(server_id: uuid.UUID, principal: CurrentManager, db: ReadDb,
                                request: Request, settings: AppSettings) -> list[McpToolOut]:
    """Ask the server for its tools now (a way to check the URL and headers work)."""
    server = await _require(db, principal.tenant_id, server_id)
    if server.transport == "stdio" and not settings.allow_stdio_mcp:
        raise Forbidden("stdio MCP servers are not allowed by the operator", code="stdio_mcp_disabled")
    try:
        tools = await mcp.server_tools(server, request.app.state.secret_box)
    except mcp.McpUnavailable as exc:
        if exc.code == "url_not_allowed":  # nothing answered badly: the stored URL is refused
            raise Invalid(f"the MCP server '{server.name}' cannot be reached: {exc}", code=exc.code) from exc
        raise TertuliaError(f"the MCP server '{server.name}' did not answer: {exc}", code=exc.code,
                            status_code=502) from exc
    except ValueError as exc:  # headers encrypted under another installation's secret
        raise Invalid(str(exc), code="credentials_unreadable") from exc
    return [McpToolOut(name=spec.name, tool=ref.tool, description=spec.description, parameters=spec.parameters)
            for spec, ref in tools]
