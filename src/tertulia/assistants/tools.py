"""Tools the assistant can call: the built-in ones, other domains' registered ones, and the
tenant's MCP servers' (namespaced `mcp__<server>__<tool>`).

Arguments are validated against each tool's JSON Schema before anything runs; a bad call or a
tool-level failure becomes a `ToolError` whose message goes back to the model (or, through
`POST /mcp/invoke`, to the caller as a 4xx).
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants import repository as repo
from tertulia.assistants.providers.base import ToolSpec
from tertulia.assistants.text import topical_words
from tertulia.contacts import repository as contacts_repo
from tertulia.contacts import service as contacts_service
from tertulia.contacts.models import Tag
from tertulia.contacts.schemas import ContactUpdate, TagCreate
from tertulia.kit.db import Reader
from tertulia.kit.errors import TertuliaError
from tertulia.kit.types import find_unstorable

log = structlog.get_logger("tertulia.assistants.tools")

HANDOFF_TOOL = "handoff_to_human"
SEARCH_TOOL = "search_knowledge"
BUILTIN_NAMES = ("add_tag", "remove_tag", "update_contact", HANDOFF_TOOL, SEARCH_TOOL)
DEFAULT_ENABLED_TOOLS = [*BUILTIN_NAMES, "mcp__*"]


class ToolError(Exception):
    """A tool call that cannot be done as asked; `kind` separates unknown tools and invalid
    arguments (the caller's mistake) from a tool refusing (e.g. no such tag)."""

    def __init__(self, message: str, *, kind: str = "failed", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # unknown_tool | invalid_arguments | failed
        self.code = code  # the tool's own error code, when it has one (seed 002's report tools)


@dataclass
class ToolContext:
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    assistant_id: uuid.UUID | None = None
    language: str = "es"
    # Sources found by search_knowledge during a run, for the trace.
    sources: list[dict[str, Any]] = field(default_factory=list)
    # What tools that work with files need (the panel chatbot's reports): the file store, the
    # settings, and where to say how a long run is going.
    store: Any = None
    settings: Any = None
    progress: Callable[[str], Awaitable[None]] | None = None


Handler = Callable[[AsyncSession, ToolContext, dict[str, Any]], Awaitable[Any]]


@dataclass
class Tool:
    spec: ToolSpec
    handler: Handler
    needs_contact: bool = False
    # Runs for seconds without the database (a report): a caller holding a transaction commits
    # it first, so SQLite's single writer is not held meanwhile.
    long_running: bool = False


def _schema(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False,
            **extra}


TAG_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "description": "the tag's name, e.g. 'Cliente VIP'"}


def _contact_id(ctx: ToolContext) -> uuid.UUID:
    if ctx.contact_id is None:
        raise ToolError("this tool acts on a conversation's contact: give a conversation_id", kind="invalid_arguments")
    return ctx.contact_id


async def _find_tag(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> Tag | None:
    return await contacts_repo.get_tag_by_key(session, tenant_id, name.strip().casefold())


async def add_tag(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    contact = await contacts_service.require_contact(session, ctx.tenant_id, _contact_id(ctx))
    name = str(args["name"]).strip()
    if not name:
        raise ToolError("the tag name is empty", kind="invalid_arguments")
    tag = await _find_tag(session, ctx.tenant_id, name)
    if tag is None:
        tag = await contacts_service.create_tag(session, ctx.tenant_id, TagCreate(name=name))
    await contacts_service.apply_tag(session, contact, tag)
    return {"ok": True, "contact_id": str(contact.id), "tag": tag.name}


async def remove_tag(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    contact = await contacts_service.require_contact(session, ctx.tenant_id, _contact_id(ctx))
    tag = await _find_tag(session, ctx.tenant_id, str(args["name"]))
    if tag is None or await contacts_repo.get_contact_tag(session, ctx.tenant_id, contact.id, tag.id) is None:
        raise ToolError(f"the contact has no tag named '{args['name']}'")
    await contacts_service.remove_tag(session, contact, tag)
    return {"ok": True, "contact_id": str(contact.id), "removed": tag.name}


async def update_contact(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    contact = await contacts_service.require_contact(session, ctx.tenant_id, _contact_id(ctx))
    changes: dict[str, Any] = {}
    if "name" in args:
        changes["display_name"] = args["name"]
    if "notes" in args:
        changes["notes"] = args["notes"]
    out = await contacts_service.update_contact(session, contact, ContactUpdate.model_validate(changes))
    return {"ok": True, "contact_id": str(contact.id), "name": out.display_name, "notes": out.notes}


async def search_knowledge(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    if ctx.assistant_id is None:
        raise ToolError("no assistant to search the knowledge of: give an assistant_id", kind="invalid_arguments")
    assistant = await repo.get_assistant(session, ctx.tenant_id, ctx.assistant_id)
    if assistant is None:
        raise ToolError("no such assistant", kind="invalid_arguments")
    query = str(args["query"])
    hits = await repo.search_chunks(session, ctx.tenant_id, assistant.id, topical_words(query, assistant.language),
                                    assistant.language, limit=int(args.get("limit", 4)))
    results = [{"entry_id": str(h.entry_id), "chunk_id": h.chunk_id, "title": h.title, "content": h.content,
                "score": round(h.score, 4)} for h in hits]
    for r in results:
        if all(s.get("chunk_id") != r["chunk_id"] for s in ctx.sources):
            ctx.sources.append(r)
    return {"results": results}


async def handoff_to_human(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    # During an AI run the orchestrator ends the turn itself; this path is a manual invocation.
    from tertulia.assistants.service import hand_off

    if ctx.conversation_id is None:
        raise ToolError("handoff_to_human needs a conversation_id", kind="invalid_arguments")
    await hand_off(session, ctx.tenant_id, ctx.conversation_id, str(args["reason"]), correlation_id=None)
    return {"ok": True, "conversation_id": str(ctx.conversation_id), "locked": True}


BUILTIN_TOOLS: dict[str, Tool] = {
    t.spec.name: t for t in (
        Tool(ToolSpec("add_tag", "Add a tag to the customer (creating the tag if the business has none by that name).",
                      _schema({"name": TAG_NAME}, ["name"])), add_tag, needs_contact=True),
        Tool(ToolSpec("remove_tag", "Remove a tag from the customer.", _schema({"name": TAG_NAME}, ["name"])),
             remove_tag, needs_contact=True),
        Tool(ToolSpec("update_contact", "Correct the customer's name or replace the notes about them.",
                      _schema({"name": {"type": "string", "minLength": 1, "maxLength": 200},
                               "notes": {"type": "string", "maxLength": 10000}}, [], minProperties=1)),
             update_contact, needs_contact=True),
        Tool(ToolSpec(HANDOFF_TOOL, "Hand the conversation to a human agent, saying why. Use it when you cannot "
                      "answer from the knowledge you have or the customer asks for a person.",
                      _schema({"reason": {"type": "string", "minLength": 1, "maxLength": 1000}}, ["reason"])),
             handoff_to_human, needs_contact=True),
        Tool(ToolSpec(SEARCH_TOOL, "Search the business's knowledge base (FAQ, policies, products). Returns the "
                      "best passages with their titles; cite the title you answer from.",
                      _schema({"query": {"type": "string", "minLength": 1, "maxLength": 500},
                               "limit": {"type": "integer", "minimum": 1, "maximum": 10}}, ["query"])),
             search_knowledge),
    )
}

# Other domains (e.g. the panel chatbot's report tools) add theirs here.
EXTRA_TOOLS: dict[str, Tool] = {}


def check_arguments(spec: ToolSpec, args: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise ToolError(f"the arguments of '{spec.name}' must be a JSON object", kind="invalid_arguments")
    # Text no database can store (NUL, lone surrogates) first: the schema's messages quote values.
    unstorable = find_unstorable(args)
    if unstorable is not None:
        path, reason = unstorable
        raise ToolError(f"invalid arguments for '{spec.name}': {'.'.join(map(str, path)) or 'arguments'}: {reason}",
                        kind="invalid_arguments")
    errors = sorted(Draft202012Validator(spec.parameters).iter_errors(args), key=lambda e: list(e.path))
    if errors:
        described = "; ".join(f"{'.'.join(str(p) for p in e.path) or 'arguments'}: {e.message}" for e in errors[:5])
        raise ToolError(f"invalid arguments for '{spec.name}': {described}", kind="invalid_arguments")
    return args


def tool_enabled(name: str, enabled: list[str]) -> bool:
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in enabled)


async def _mcp_module() -> Any | None:
    try:
        from tertulia.assistants import mcp
    except ImportError:
        return None
    return mcp


async def available_tools(session: Reader, tenant_id: uuid.UUID, enabled: list[str] | None = None, *,
                          mcp_servers: bool = True) -> list[ToolSpec]:
    """The specs offered to a model: enabled built-ins and registered tools, then MCP tools.
    `mcp_servers=False` says the caller knows the tenant has no enabled MCP server (no lookup)."""
    specs = [t.spec for t in (*BUILTIN_TOOLS.values(), *EXTRA_TOOLS.values())
             if enabled is None or tool_enabled(t.spec.name, enabled)]
    if mcp_servers and (enabled is None or any(p.startswith("mcp") for p in enabled)):
        specs.extend(s for s in await mcp_specs(session, tenant_id) if enabled is None or tool_enabled(s.name, enabled))
    return specs


async def mcp_specs(session: Reader, tenant_id: uuid.UUID) -> list[ToolSpec]:
    mcp = await _mcp_module()
    if mcp is None or not hasattr(mcp, "mcp_tools_for_tenant"):
        return []
    try:
        rows = await mcp.mcp_tools_for_tenant(session, tenant_id)
    except Exception as exc:  # an unreachable MCP server must not stop the assistant from answering
        log.warning("mcp_tools_unavailable", tenant_id=str(tenant_id), error=f"{type(exc).__name__}: {exc}")
        return []
    return [row[0] if isinstance(row, tuple) else row for row in rows]


async def run_tool(session: AsyncSession, ctx: ToolContext, name: str, args: Any,
                   offered: list[ToolSpec] | None = None) -> Any:
    """Validate and run one tool call. ToolError for the caller's mistakes and the tool's refusals;
    anything else is an unexpected failure and propagates."""
    tool = BUILTIN_TOOLS.get(name) or EXTRA_TOOLS.get(name)
    if tool is not None:
        if offered is not None and all(s.name != name for s in offered):
            raise ToolError(f"the tool '{name}' is not enabled for this assistant", kind="unknown_tool")
        checked = check_arguments(tool.spec, args)
        try:
            return await tool.handler(session, ctx, checked)
        except TertuliaError as exc:  # a domain refusal (no such contact, duplicate tag...)
            raise ToolError(exc.message) from exc
        except ValidationError as exc:  # a domain schema refusing the arguments (e.g. TagCreate)
            described = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                  for e in exc.errors(include_url=False, include_input=False)[:5])
            raise ToolError(f"invalid arguments for '{name}': {described}", kind="invalid_arguments") from exc
    if name.startswith("mcp__"):
        return await run_mcp_tool(session, ctx, name, args, offered)
    raise ToolError(f"unknown tool '{name}'", kind="unknown_tool")


async def run_mcp_tool(session: Reader, ctx: ToolContext, name: str, args: Any,
                       offered: list[ToolSpec] | None = None) -> Any:
    """Validate and run one `mcp__<server>__<tool>` call (it only reads our database)."""
    specs = offered if offered is not None else await mcp_specs(session, ctx.tenant_id)
    spec = next((s for s in specs if s.name == name), None)
    mcp = await _mcp_module()
    if spec is None or mcp is None:
        raise ToolError(f"unknown tool '{name}'", kind="unknown_tool")
    checked = check_arguments(spec, args)
    try:
        return await mcp.call_mcp_tool(session, ctx.tenant_id, name, checked)
    except TertuliaError as exc:  # the server no longer offers it, or rejected the arguments
        kind = {404: "unknown_tool", 422: "invalid_arguments"}.get(exc.status_code, "failed")
        raise ToolError(exc.message, kind=kind) from exc


def result_text(result: Any) -> str:
    """Tool results go back to the model as text (JSON when structured)."""
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)
