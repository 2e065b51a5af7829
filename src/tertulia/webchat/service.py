"""Chat sessions and their messages: one active session per user and tenant, reused and touched by
each message; "new conversation" closes it and opens another (the old one stays listed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.kit.db import Database, utcnow
from tertulia.webchat import repository as repo
from tertulia.webchat.models import ChatMessage, ChatSession


@dataclass(frozen=True)
class ChatUser:
    """Who is talking to the panel's assistant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    name: str


async def active_session_id(db: Database, user: ChatUser) -> int:
    """The user's active session, opened when there is none. Two sockets of one user opening it
    at once: the unique index `uq_chat_sessions_user_active` lets one win, the other reads it."""
    for _ in range(2):
        async with db.read_session(user.tenant_id) as read:
            found = await repo.active_session(read, user.tenant_id, user.user_id)
        if found is not None:
            return found.id
        try:
            async with db.session(user.tenant_id) as session:
                row = ChatSession(tenant_id=user.tenant_id, user_id=user.user_id, status="active")
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            continue
    raise RuntimeError("no active chat session could be opened")


async def new_session(session: AsyncSession, user: ChatUser) -> ChatSession:
    """Close the user's active session (it stays listed) and open a new one."""
    now = utcnow()
    await repo.close_active_sessions(session, user.tenant_id, user.user_id, now)
    row = ChatSession(tenant_id=user.tenant_id, user_id=user.user_id, status="active", created_at=now,
                      last_activity_at=now)
    session.add(row)
    await session.flush()
    return row


async def add_message(db: Database, user: ChatUser, session_id: int, role: str, content: str, *,
                      tool_name: str | None = None, tool_args: dict[str, Any] | None = None,
                      attachments: list[dict[str, Any]] | None = None, result: dict[str, Any] | None = None,
                      error_code: str | None = None, latency_ms: float | None = None) -> ChatMessage:
    async with db.session(user.tenant_id) as session:
        now = utcnow()
        row = ChatMessage(tenant_id=user.tenant_id, session_id=session_id, role=role, content=content,
                          tool_name=tool_name, tool_args=tool_args, attachments=attachments or [], result=result,
                          error_code=error_code, latency_ms=latency_ms, created_at=now)
        session.add(row)
        await repo.touch_session(session, user.tenant_id, session_id, now)
        await session.flush()
        return row


def message_out(m: ChatMessage) -> dict[str, Any]:
    """A message as `history_snapshot` and `GET /api/chat/ws-history` show it: the seed's
    `{id, role, content, created_at}`, plus what the panel needs to show it again (attachments,
    the tool's result links, the error code)."""
    out: dict[str, Any] = {"id": m.id, "role": m.role, "content": m.content,
                           "created_at": m.created_at.isoformat()}
    if m.attachments:
        out["attachments"] = m.attachments
    metadata: dict[str, Any] = {}
    if m.tool_name:
        metadata["tool"] = m.tool_name
    if m.result is not None:
        metadata["result"] = m.result
    if m.error_code:
        metadata["code"] = m.error_code
    if metadata:
        out["metadata"] = metadata
    return out


async def history_out(db: Database, user: ChatUser, session_id: int, limit: int) -> list[dict[str, Any]]:
    async with db.read_session(user.tenant_id) as read:
        return [message_out(m) for m in await repo.history(read, user.tenant_id, session_id, limit)]
