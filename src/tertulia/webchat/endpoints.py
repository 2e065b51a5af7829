"""The panel chatbot's REST side (seed 002): its history, its sessions ("new conversation"), its
metrics, and uploads for its tools. The socket itself is webchat/socket.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tertulia.config import Settings
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database
from tertulia.kit.errors import Forbidden, NotAuthenticated, NotFound
from tertulia.kit.storage import FileStore, content_type_of
from tertulia.kit.web import DbSession, ReadDb
from tertulia.reports.tools import upload_key
from tertulia.tenancy import repository as tenancy_repo
from tertulia.tenancy import service as tenancy_service
from tertulia.tenancy.auth import SESSION_COOKIE, CurrentManager, CurrentPrincipal, Principal, check_csrf
from tertulia.webchat import metrics
from tertulia.webchat import repository as repo
from tertulia.webchat.service import ChatUser, message_out, new_session
from tertulia.webchat.uploads import check_content, receive_file, stored_name

log = structlog.get_logger("tertulia.webchat.api")
router = APIRouter(prefix="/api/chat", tags=["webchat"])


class ChatHistory(BaseModel):
    session_id: int | None
    messages: list[dict[str, Any]] = Field(description="oldest first: {id, role, content, created_at} and, when "
                                           "they have them, attachments and metadata {tool, result, code}")


class ChatSessionOut(BaseModel):
    id: int
    status: str = Field(description="active | closed")
    created_at: str
    last_activity_at: str
    title: str = Field(description="the session's first message")
    messages: int


class UploadOut(BaseModel):
    status: str = "ok"
    name: str = Field(description="the file's name as sent")
    path: str = Field(description="what tools take as `file_path`")
    size: int
    content_type: str


def chat_user(principal: Principal) -> ChatUser:
    if principal.user_id is None:
        raise Forbidden("the panel chatbot's conversations belong to a person: log in to the panel",
                        code="chat_needs_person")
    return ChatUser(tenant_id=principal.tenant_id, user_id=principal.user_id, role=principal.role,
                    name=principal.user_name or "")


@router.get("/ws-history", response_model=ChatHistory)
async def ws_history(principal: CurrentPrincipal, db: ReadDb,
                     limit: Annotated[int, Query(ge=1, le=100)] = 40,
                     session_id: Annotated[int | None, Query(ge=1, description="another of the caller's sessions; "
                                                              "by default the active one")] = None) -> ChatHistory:
    """The persisted history of the caller's chat (tool rows excluded), as the socket's
    `history_snapshot` shows it."""
    user = chat_user(principal)
    if session_id is None:
        active = await repo.active_session(db, user.tenant_id, user.user_id)
        session_id = active.id if active is not None else None
    elif await repo.get_session(db, user.tenant_id, user.user_id, session_id) is None:
        raise NotFound("no such chat session", code="chat_session_not_found")
    messages = await repo.history(db, user.tenant_id, session_id, limit) if session_id is not None else []
    return ChatHistory(session_id=session_id, messages=[message_out(m) for m in messages])


@router.get("/sessions", response_model=list[ChatSessionOut])
async def list_sessions(principal: CurrentPrincipal, db: ReadDb,
                        limit: Annotated[int, Query(ge=1, le=100)] = 30) -> list[ChatSessionOut]:
    """The caller's chat sessions, most recently active first (closed ones stay listed)."""
    user = chat_user(principal)
    return [ChatSessionOut(id=r.id, status=r.status, created_at=r.created_at.isoformat(),
                           last_activity_at=r.last_activity_at.isoformat(), title=(r.title or "")[:120],
                           messages=r.messages)
            for r in await repo.list_sessions(db, user.tenant_id, user.user_id, limit)]


@router.post("/sessions", response_model=ChatSessionOut, status_code=201)
async def start_session(principal: CurrentPrincipal, db: DbSession) -> ChatSessionOut:
    """A new conversation: the active session is closed (and kept) and a new one opened. An open
    socket sends its next messages to the new one."""
    row = await new_session(db, chat_user(principal))
    return ChatSessionOut(id=row.id, status=row.status, created_at=row.created_at.isoformat(),
                          last_activity_at=row.last_activity_at.isoformat(), title="", messages=0)


@router.get("/metrics")
async def chat_metrics(principal: CurrentManager, db: ReadDb,
                       days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
    """The tenant's chatbot figures over the last `days`: messages by role, tool runs by tool and
    outcome (`ok` or the error code), errors by code, answer latency percentiles (ms). Prometheus
    (`/metrics`) has the same measures for this process as `tertulia_chat_*`."""
    return await metrics.tenant_metrics(db, principal.tenant_id, days)


async def _uploader(request: Request, settings: Settings) -> ChatUser:
    """The panel session behind an upload, checked in a read transaction of its own: the body
    may take long to arrive, and nothing may hold the database (SQLite's writer) meanwhile."""
    token = request.cookies.get(SESSION_COOKIE)
    db: Database = request.app.state.db
    found = None
    if token:
        async with db.read_session(cross_tenant="a login session belongs to a person") as read:
            found = await tenancy_repo.get_session_principal(read, hash_token(token))
    if found is None or not tenancy_service.session_is_live(found.revoked_at, found.expires_at):
        raise NotAuthenticated("log in first", code="not_authenticated")
    if not settings.testing:  # the seed skips the CSRF check only under TESTING=true
        check_csrf(request, found.csrf_token)
    if found.tenant_id is None or found.role is None:
        raise Forbidden("choose a tenant first (POST /api/auth/tenant)", code="tenant_not_selected")
    return ChatUser(tenant_id=found.tenant_id, user_id=found.user_id, role=found.role, name=found.user_name)


@router.post("/uploads", response_model=UploadOut, status_code=200, responses={
    413: {"description": "larger than CHAT_UPLOAD_MAX_BYTES"},
    415: {"description": "an extension outside .xlsx .xlsm .csv .txt .json .pdf .docx, or content that is not "
                         "what the extension says"}},
    openapi_extra={"security": [{"session": [], "csrf": []}],
                   "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def upload(request: Request) -> UploadOut:
    """A file for the chatbot's tools (multipart field `file`; panel session and `X-CSRF-Token`).
    Its `path` is the `file_path` a tool takes, and what a message's attachments carry."""
    settings: Settings = request.app.state.settings
    store: FileStore = request.app.state.store
    user = await _uploader(request, settings)
    async with receive_file(request, settings.chat_upload_max_bytes) as received:
        await asyncio.to_thread(check_content, received)
        name = stored_name(received.name)
        key = upload_key(settings, user.tenant_id, name)
        size = await store.put(key, received.chunks(), max_bytes=settings.chat_upload_max_bytes)
    log.info("chat_upload", action="chat_upload", name=received.name[:200], size=size, stored_name=name,
             user_id=str(user.user_id), tenant_id=str(user.tenant_id))
    return UploadOut(name=received.name, path=name, size=size, content_type=content_type_of(name))
