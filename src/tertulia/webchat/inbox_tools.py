"""Built-in tools of the panel chatbot about the inbox itself: who is waiting for a person, today's
conversations (with a tag), finding a conversation by name or phone. They only read, and answer
for the caller's tenant. app.py adds them to `assistants.tools.EXTRA_TOOLS` (so `/mcp/invoke` runs
them too); the panel offers them to its model and to the slash commands `/pendientes`, `/hoy` and
`/buscar`.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.providers.base import ToolSpec
from tertulia.assistants.tools import Tool, ToolContext, ToolError
from tertulia.contacts.repository import like_pattern
from tertulia.conversations.search import fold
from tertulia.kit.db import Reader, utcnow
from tertulia.tenancy import repository as tenancy_repo
from tertulia.webchat import repository as repo

WAITING = "inbox_waiting_for_human"
TODAY = "inbox_conversations_today"
FIND = "inbox_find_conversation"
LIMIT = {"type": "integer", "minimum": 1, "maximum": 50}


async def _tenant_place(session: Reader, ctx: ToolContext) -> tuple[str, ZoneInfo]:
    tenant = await tenancy_repo.get_tenant(session, ctx.tenant_id)
    if tenant is None:
        raise ToolError("the tenant no longer exists")
    return tenant.slug, ZoneInfo(tenant.time_zone)


def _row(slug: str, zone: ZoneInfo, r: Any, *fields: str) -> dict[str, Any]:
    out: dict[str, Any] = {"conversation_id": str(r.id), "contact": r.contact_name or r.contact_phone or "",
                           "phone": r.contact_phone, "channel": r.channel_source,
                           "url": f"/panel_cliente/{slug}/chat/{r.id}"}
    for name in fields:
        value = getattr(r, name)
        out[name] = value.astimezone(zone).isoformat(timespec="minutes") if isinstance(value, datetime) else value
    return out


async def waiting_for_human(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    slug, zone = await _tenant_place(session, ctx)
    total, rows = await repo.waiting_for_human(session, ctx.tenant_id, int(args.get("limit", 10)))
    return {"waiting": total, "longest_waiting": [
        _row(slug, zone, r, "last_inbound_at", "last_message_preview", "unread_count") for r in rows]}


async def conversations_today(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    slug, zone = await _tenant_place(session, ctx)
    start = datetime.combine(utcnow().astimezone(zone).date(), time(), tzinfo=zone)
    tags = [str(args["tag"])] if args.get("tag") else []
    rows = await repo.conversations_since(session, ctx.tenant_id, start, tags, int(args.get("limit", 20)))
    return {"since": start.isoformat(timespec="minutes"), "tag": args.get("tag"), "count": len(rows),
            "conversations": [_row(slug, zone, r, "status", "ai_state", "last_message_at", "last_message_preview",
                                   "unread_count") for r in rows]}


async def find_conversation(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
    query = str(args["query"]).strip()
    if not query:
        raise ToolError("say a name or a phone number to look for", kind="invalid_arguments")
    slug, zone = await _tenant_place(session, ctx)
    digits = re.sub(r"\D", "", query)
    digits = digits if len(digits) >= 3 else ""  # "+34…" finds phones containing the digits
    rows = await repo.find_conversations(session, ctx.tenant_id, like_pattern(fold(query)), digits,
                                         int(args.get("limit", 10)))
    return {"query": query, "found": [_row(slug, zone, r, "status", "ai_state", "last_message_at",
                                           "last_message_preview") for r in rows]}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


INBOX_TOOLS: dict[str, Tool] = {t.spec.name: t for t in (
    Tool(ToolSpec(WAITING, "How many open conversations are waiting for a person (a person took them over and the "
                  "customer spoke last), and the ones waiting longest.", _schema({"limit": LIMIT}, [])),
         waiting_for_human),
    Tool(ToolSpec(TODAY, "Today's conversations (in the business's time zone), newest first, optionally only "
                  "customers with a tag; with each one's last message, to summarise them.",
                  _schema({"tag": {"type": "string", "minLength": 1, "maxLength": 64}, "limit": LIMIT}, [])),
         conversations_today),
    Tool(ToolSpec(FIND, "Find conversations by the customer's name or phone number (or part of it, e.g. '+34 612').",
                  _schema({"query": {"type": "string", "minLength": 1, "maxLength": 100}, "limit": LIMIT},
                          ["query"])),
         find_conversation),
)}
