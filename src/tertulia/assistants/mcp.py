"""The tenant's MCP servers as tools for its assistants, through the official `mcp` SDK client.

Every tool is offered to the model as `mcp__<server>__<tool>`, cut to the strictest vendor rule
(`^[a-zA-Z0-9_-]{1,64}$`). Tool lists are cached briefly per server, so a reply does not pay an MCP
handshake per turn; a server that fails to answer is skipped (and remembered as down for a few
seconds) so it never stops the assistant from replying. Calls open a session, call, and close:
MCP servers are few per tenant and calls are rare next to model latency.

Transports: streamable HTTP (URL plus optional headers, e.g. an Authorization) and stdio (a command
run on this machine, only when the operator sets `allow_stdio_mcp`; its "headers" become
environment variables of the process).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import httpx2
import structlog
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import McpServer
from tertulia.assistants.providers.base import ToolSpec
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Reader, tenant_select
from tertulia.kit.egress import fenced_client, find_egress_error
from tertulia.kit.errors import Invalid, NotFound

log = structlog.get_logger("tertulia.assistants.mcp")

LIST_TIMEOUT = 10.0  # connect + handshake + tools/list, per server
CALL_TIMEOUT = 30.0  # connect + handshake + tools/call
TOOLS_TTL = 60.0  # how long a server's tool list is trusted
DOWN_TTL = 15.0  # how long a server that failed is skipped before trying again
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")

T = TypeVar("T")


@dataclass(frozen=True)
class McpToolRef:
    """Where a namespaced tool lives: which server, and the tool's own name there."""

    server_id: uuid.UUID
    server_name: str
    tool: str
    transport: str


@dataclass
class _Runtime:
    """What the running app provides when a caller does not pass it (set by `mcp_lifespan`)."""

    secret_box: SecretBox | None = None
    allow_stdio: bool = False


runtime = _Runtime()


@asynccontextmanager
async def mcp_lifespan(app: Any) -> AsyncIterator[None]:
    before = (runtime.secret_box, runtime.allow_stdio)
    runtime.secret_box = app.state.secret_box
    runtime.allow_stdio = bool(app.state.settings.allow_stdio_mcp)
    try:
        yield
    finally:
        # Another app of this process (a test's) may still be running: give it back its own.
        runtime.secret_box, runtime.allow_stdio = before
        _tools_cache.clear()
        _down_until.clear()


class McpUnavailable(Exception):
    """A server that could not be reached, timed out, or broke the protocol; `code` is
    `url_not_allowed` when the egress fence refused its address."""

    def __init__(self, message: str, code: str = "mcp_unavailable") -> None:
        super().__init__(message)
        self.code = code


# -- names -----------------------------------------------------------------------------------------

def namespaced(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>` made safe for every vendor; long or unsafe names keep a short hash
    of the original so that two tools never end up with the same name."""
    clean_server = _UNSAFE.sub("_", server).strip("_") or "server"
    clean_tool = _UNSAFE.sub("_", tool).strip("_") or "tool"
    name = f"mcp__{clean_server}__{clean_tool}"
    if len(name) <= 64 and clean_server == server and clean_tool == tool:
        return name
    return _with_digest(name, server, tool)


def _with_digest(name: str, server: str, tool: str) -> str:
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{name[: 64 - 9]}_{digest}"


# -- servers ---------------------------------------------------------------------------------------

async def enabled_servers(session: AsyncSession, tenant_id: uuid.UUID) -> list[McpServer]:
    rows = await session.scalars(tenant_select(McpServer, tenant_id).where(McpServer.enabled.is_(True))
                                 .order_by(McpServer.name))
    return list(rows)


async def list_servers(session: Reader, tenant_id: uuid.UUID) -> list[McpServer]:
    rows = await session.scalars(tenant_select(McpServer, tenant_id).order_by(McpServer.name))
    return list(rows)


async def get_server(session: Reader, tenant_id: uuid.UUID, server_id: uuid.UUID) -> McpServer | None:
    row: McpServer | None = await session.scalar(tenant_select(McpServer, tenant_id)
                                                 .where(McpServer.id == server_id))
    return row


async def get_server_by_name(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> McpServer | None:
    row: McpServer | None = await session.scalar(tenant_select(McpServer, tenant_id).where(McpServer.name == name))
    return row


@dataclass(frozen=True)
class _Target:
    """Everything needed to reach one server, detached from the database session."""

    id: uuid.UUID
    name: str
    transport: str
    url: str | None
    command: str | None
    headers: tuple[tuple[str, str], ...]

    @property
    def fingerprint(self) -> str:
        # A changed URL, command or header (a rotated token) must not reuse the old tool list.
        material = json.dumps([self.transport, self.url, self.command, list(self.headers)])
        return hashlib.sha256(material.encode()).hexdigest()

    @property
    def where(self) -> str:
        return self.url or (self.command or "").split(" ", 1)[0] or self.name


def _target(server: McpServer, secret_box: SecretBox) -> _Target:
    headers = secret_box.decrypt(server.headers_encrypted) if server.headers_encrypted else {}
    return _Target(server.id, server.name, server.transport, server.url, server.command,
                   tuple(sorted((str(k), str(v)) for k, v in headers.items())))


@asynccontextmanager
async def _connect(target: _Target, read_timeout: float) -> AsyncIterator[Client]:
    if target.transport == "stdio":
        argv = shlex.split(target.command or "")
        if not argv:
            raise McpUnavailable("no command to run")
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(target.headers) or None)
        async with Client(params, read_timeout_seconds=read_timeout, cache=None) as client:
            yield client
        return
    if not target.url:
        raise McpUnavailable("no URL")
    # The URL is the tenant's: through the egress fence, bounded like the call itself.
    http = fenced_client(headers=dict(target.headers), timeout=read_timeout, total_timeout=read_timeout)
    async with http, Client(streamable_http_client(target.url, http_client=http), read_timeout_seconds=read_timeout,
                            cache=None) as client:
        yield client


async def _with_client(target: _Target, deadline: float, action: Callable[[Client], Awaitable[T]]) -> T:
    """Run `action` on a fresh session; any failure (including a deadline) is McpUnavailable."""
    try:
        async with asyncio.timeout(deadline):
            async with _connect(target, deadline) as client:
                return await action(client)
    except TimeoutError as exc:
        raise McpUnavailable(f"no answer within {deadline:g} s") from exc
    except McpUnavailable:
        raise
    except Exception as exc:  # connection refused, HTTP 401/404, protocol errors, a crashed process
        stopped = find_egress_error(exc)
        if stopped is not None:
            raise McpUnavailable(str(stopped), code=stopped.code) from exc
        raise McpUnavailable(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    """What a caller may read about the failure: the remote side's status or words, never our own
    exception's text (it reaches error bodies and the model); anything unforeseen is logged."""
    # The SDK runs on anyio task groups: the real cause is often inside an exception group.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    if isinstance(exc, httpx2.TimeoutException):
        return "the connection timed out"
    if isinstance(exc, httpx2.TransportError):
        return "could not connect, or the connection broke"
    if isinstance(exc, MCPError):
        return f"error from the server: {exc.message[:300]}"
    if isinstance(exc, FileNotFoundError):
        return "the command was not found"
    if isinstance(exc, OSError):
        return f"the command could not run ({exc.strerror or 'operating system error'})"
    log.warning("mcp_unexpected_failure", exc_info=exc)
    return "it failed unexpectedly; the server log has the details"


# -- tool lists ------------------------------------------------------------------------------------

# Per server id: (fingerprint, valid until, tools) and (fingerprint, skipped until, its failure).
_tools_cache: dict[uuid.UUID, tuple[str, float, list[Any]]] = {}
_down_until: dict[uuid.UUID, tuple[str, float, McpUnavailable]] = {}


async def _server_tools(target: _Target, *, refresh: bool = False) -> list[Any]:
    """The server's MCP Tool objects (all pages), from the cache while fresh."""
    fingerprint = target.fingerprint
    now = time.monotonic()
    cached = _tools_cache.get(target.id)
    if not refresh and cached is not None and cached[0] == fingerprint and cached[1] > now:
        return cached[2]
    down = _down_until.get(target.id)
    if not refresh and down is not None and down[0] == fingerprint and down[1] > now:
        raise McpUnavailable(f"{down[2]} (a moment ago; trying again shortly)", code=down[2].code)

    async def fetch(client: Client) -> list[Any]:
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(50):  # a server paginating forever cannot hang a reply
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    try:
        tools = await _with_client(target, LIST_TIMEOUT, fetch)
    except McpUnavailable as exc:
        _down_until[target.id] = (fingerprint, time.monotonic() + DOWN_TTL, exc)
        raise
    _down_until.pop(target.id, None)
    _tools_cache[target.id] = (fingerprint, time.monotonic() + TOOLS_TTL, tools)
    return tools


def _specs_for(target: _Target, tools: list[Any], taken: set[str]) -> list[tuple[ToolSpec, McpToolRef]]:
    out: list[tuple[ToolSpec, McpToolRef]] = []
    for tool in tools:
        name = namespaced(target.name, tool.name)
        if name in taken:  # two originals that clean up to one name
            name = _with_digest(name, target.name, tool.name)
        taken.add(name)
        schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
        if schema.get("type") != "object":
            schema = {"type": "object", "properties": {}}
        description = (tool.description or getattr(tool, "title", None) or tool.name).strip()
        out.append((ToolSpec(name=name, description=f"{description} (MCP server '{target.name}')", parameters=schema),
                    McpToolRef(server_id=target.id, server_name=target.name, tool=tool.name,
                               transport=target.transport)))
    return out


def _allowed(server: McpServer, allow_stdio: bool) -> bool:
    if server.transport == "stdio" and not allow_stdio:
        log.debug("mcp_server_skipped", action="mcp_tools", server=server.name,
                 reason="stdio MCP servers are disabled by the operator (allow_stdio_mcp)")
        return False
    return True


async def mcp_tools_for_tenant(session: AsyncSession, tenant_id: uuid.UUID, secret_box: SecretBox | None = None,
                               *, allow_stdio: bool | None = None) -> list[tuple[ToolSpec, McpToolRef]]:
    """The tools of the tenant's enabled MCP servers, namespaced. Servers are asked concurrently;
    one that fails is logged and skipped. `secret_box` and `allow_stdio` default to the app's."""
    box = _box(secret_box)
    stdio_ok = runtime.allow_stdio if allow_stdio is None else allow_stdio
    targets = _targets(await enabled_servers(session, tenant_id), box, stdio_ok, tenant_id)
    if not targets:
        return []
    results = await asyncio.gather(*(_server_tools(t) for t in targets), return_exceptions=True)
    out: list[tuple[ToolSpec, McpToolRef]] = []
    taken: set[str] = set()
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation and the like are not ours to swallow
            log.warning("mcp_server_unavailable", action="mcp_tools", tenant_id=str(tenant_id), server=target.name,
                        where=target.where, error=str(result))
            continue
        out.extend(_specs_for(target, result, taken))
    return out


async def server_tools(server: McpServer, secret_box: SecretBox | None = None) -> list[tuple[ToolSpec, McpToolRef]]:
    """One server's tools, asked now (for the admin view); McpUnavailable when it does not answer."""
    target = _target(server, _box(secret_box))
    return _specs_for(target, await _server_tools(target, refresh=True), set())


def forget_server(server_id: uuid.UUID) -> None:
    """Drop what is cached about a server (deleted, or changed by its owner)."""
    _tools_cache.pop(server_id, None)
    _down_until.pop(server_id, None)


# -- calls -----------------------------------------------------------------------------------------

class UnknownMcpTool(NotFound):
    code = "unknown_tool"


class InvalidToolArguments(Invalid):
    code = "invalid_arguments"


@overload
async def call_mcp_tool(session: AsyncSession, tenant_id: uuid.UUID, name: str, args: dict[str, Any], /,
                        *, allow_stdio: bool | None = None) -> dict[str, Any]: ...


@overload
async def call_mcp_tool(session: AsyncSession, tenant_id: uuid.UUID, secret_box: SecretBox, name: str,
                        args: dict[str, Any], /, *, allow_stdio: bool | None = None) -> dict[str, Any]: ...


async def call_mcp_tool(session: AsyncSession, tenant_id: uuid.UUID, *call: Any,
                        allow_stdio: bool | None = None) -> dict[str, Any]:
    """Call `mcp__<server>__<tool>` for the tenant: `(session, tenant_id, [secret_box,] name, args)`.

    Returns `{"tool", "server", "is_error", "content", "structured"}`: `content` is the result's
    text (text blocks joined; other blocks described), `structured` the server's structured
    result when it sent one. A tool that failed, or a server that did not answer, is a result with
    `is_error: true` (the model reads it and can try something else). Raises UnknownMcpTool (404)
    for a name no enabled server offers and InvalidToolArguments (422) for arguments that do not
    match the tool's schema.
    """
    if len(call) == 3:
        secret_box, name, args = call
    elif len(call) == 2:
        secret_box, (name, args) = None, call
    else:
        raise TypeError("call_mcp_tool(session, tenant_id, [secret_box,] name, args)")
    box = _box(secret_box)
    stdio_ok = runtime.allow_stdio if allow_stdio is None else allow_stdio
    if not isinstance(name, str) or not name.startswith("mcp__"):
        raise UnknownMcpTool(f"unknown tool '{name}'")
    if not isinstance(args, dict):
        raise InvalidToolArguments(f"the arguments of '{name}' must be a JSON object")

    try:
        spec, ref, target = await _resolve(session, tenant_id, box, name, stdio_ok)
    except _ServerDown as exc:
        return {"tool": name, "server": exc.server, "is_error": True,
                "content": f"the MCP server '{exc.server}' did not answer: {exc}", "structured": None}
    _check_arguments(spec, args)

    started = time.monotonic()
    try:
        result = await _with_client(target, CALL_TIMEOUT, lambda client: client.call_tool(ref.tool, args))
    except McpUnavailable as exc:
        log.warning("mcp_call_failed", action="mcp_call", tenant_id=str(tenant_id), server=ref.server_name,
                    tool=ref.tool, where=target.where, error=str(exc))
        return {"tool": name, "server": ref.server_name, "is_error": True,
                "content": f"the MCP server '{ref.server_name}' did not answer: {exc}", "structured": None}
    out = {"tool": name, "server": ref.server_name, "is_error": bool(result.is_error),
           "content": _content_text(result.content), "structured": result.structured_content}
    log.info("mcp_call", action="mcp_call", tenant_id=str(tenant_id), server=ref.server_name, tool=ref.tool,
             is_error=out["is_error"], duration_ms=round((time.monotonic() - started) * 1000, 1))
    return out


async def _resolve(session: AsyncSession, tenant_id: uuid.UUID, box: SecretBox, name: str,
                   stdio_ok: bool) -> tuple[ToolSpec, McpToolRef, _Target]:
    """Find the tool the way mcp_tools_for_tenant named it (same servers, same order, so the same
    names). McpUnavailable when the server the name points at is down; UnknownMcpTool otherwise."""
    taken: set[str] = set()
    down: list[tuple[str, str]] = []
    for target in _targets(await enabled_servers(session, tenant_id), box, stdio_ok, tenant_id):
        try:
            tools = await _server_tools(target)
        except McpUnavailable as exc:
            down.append((target.name, str(exc)))
            continue
        for spec, ref in _specs_for(target, tools, taken):
            if spec.name == name:
                return spec, ref, target
    for server_name, error in down:
        if name.startswith(f"mcp__{_UNSAFE.sub('_', server_name).strip('_')}__"):
            raise _ServerDown(server_name, error)
    raise UnknownMcpTool(f"unknown tool '{name}': no enabled MCP server of this tenant offers it")


class _ServerDown(McpUnavailable):
    def __init__(self, server: str, error: str) -> None:
        super().__init__(error)
        self.server = server


def _targets(servers: list[McpServer], box: SecretBox, stdio_ok: bool, tenant_id: uuid.UUID) -> list[_Target]:
    out: list[_Target] = []
    for server in servers:
        if not _allowed(server, stdio_ok):
            continue
        try:
            out.append(_target(server, box))
        except ValueError as exc:  # headers encrypted under another installation's secret
            log.warning("mcp_server_unreadable", action="mcp_tools", tenant_id=str(tenant_id), server=server.name,
                        error=str(exc))
    return out


def _check_arguments(spec: ToolSpec, args: dict[str, Any]) -> None:
    try:
        errors = sorted(Draft202012Validator(spec.parameters).iter_errors(args), key=lambda e: list(e.path))
    except SchemaError:
        return  # the server's own schema is broken; let the server judge the arguments
    if errors:
        described = "; ".join(f"{'.'.join(str(p) for p in e.path) or 'arguments'}: {e.message}" for e in errors[:5])
        raise InvalidToolArguments(f"invalid arguments for '{spec.name}': {described}")


def _content_text(blocks: list[Any]) -> str:
    parts: list[str] = []
    for block in blocks:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {getattr(block, 'mime_type', 'unknown type')}]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource: {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource: {block.uri}]")
    return "\n".join(parts)


def _box(secret_box: SecretBox | None) -> SecretBox:
    box = secret_box or runtime.secret_box
    if box is None:
        raise RuntimeError("no SecretBox: pass one, or call from inside the running app (mcp_lifespan)")
    return box
