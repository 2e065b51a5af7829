"""`/ws/chat`: the panel chatbot's socket (seed 002; docs/webchat.md has the contract).

- Authenticated by the panel's session cookie. Without a valid session, or from an `Origin` that
  is neither this host nor in WEB_CHAT_ALLOWED_ORIGINS: an `error` frame with
  `metadata.code = "WS_UNAUTHORIZED"`, then close code 4401. Only with `TESTING=true`, the header
  `X-Test-User: <email>:<role>` stands in for a session (the person's first tenant).
- First frame: `{"type": "history_snapshot", "messages": [{id, role, content, created_at}]}`,
  oldest first, without the tool rows.
- Client frames: `user_message {content, attachments[{name, path}]}` and `tool_call {tool, args,
  attachments}`. A frame that is not JSON or not one of these: `error` `WS_BAD_REQUEST`, and the
  socket stays open. Frames are answered in order.
- A login session that ends while the socket is open: `error` `WS_SESSION_ERROR` (stored in the
  history too), then close 4401.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.requests import cookie_parser

from tertulia.config import Settings
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database
from tertulia.realtime.gateway import origin_allowed
from tertulia.tenancy import repository as tenancy_repo
from tertulia.tenancy import service as tenancy_service
from tertulia.tenancy.auth import SESSION_COOKIE
from tertulia.webchat import metrics
from tertulia.webchat import repository as repo
from tertulia.webchat.engine import ChatEngine, error_frame
from tertulia.webchat.service import ChatUser, active_session_id, add_message, history_out

log = structlog.get_logger("tertulia.webchat.socket")
router = APIRouter(tags=["webchat"])

CLOSE_UNAUTHORIZED = 4401
SNAPSHOT_MESSAGES = 100
ROLES = ("owner", "admin", "agent")
SESSION_EXPIRED = "Tu sesión del panel expiró: vuelve a iniciar sesión para seguir conversando."


class Attachment(BaseModel):
    name: str = Field(default="", max_length=500)
    path: str = Field(max_length=1000)


class UserMessageFrame(BaseModel):
    type: Literal["user_message"]
    content: str = Field(default="", max_length=20_000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class ToolCallFrame(BaseModel):
    type: Literal["tool_call"]
    tool: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class PingFrame(BaseModel):
    type: Literal["ping"]


ClientFrame = TypeAdapter(Annotated[UserMessageFrame | ToolCallFrame | PingFrame, Field(discriminator="type")])


async def identify(db: Database, settings: Settings, websocket: WebSocket) -> tuple[ChatUser, str | None] | None:
    """Who opened the socket, and the login token to re-check later (None for X-Test-User)."""
    token = cookie_parser(websocket.headers.get("cookie", "")).get(SESSION_COOKIE)
    if token:
        user = await user_of_login(db, token)
        return (user, token) if user is not None else None
    test_user = websocket.headers.get("x-test-user")
    if settings.testing and test_user:
        email, _, role = test_user.rpartition(":")
        if role not in ROLES or not email:
            return None
        async with db.read_session(cross_tenant="X-Test-User names a person, whose tenants are looked up") as read:
            found = await repo.member_by_email(read, email)
        if found is None:
            return None
        return ChatUser(tenant_id=found.tenant_id, user_id=found.user_id, role=role, name=found.display_name), None
    return None


async def user_of_login(db: Database, token: str) -> ChatUser | None:
    async with db.read_session(cross_tenant="a socket's login session belongs to a person") as read:
        found = await tenancy_repo.get_session_principal(read, hash_token(token))
    if found is None or not tenancy_service.session_is_live(found.revoked_at, found.expires_at):
        return None
    if found.tenant_id is None or found.role is None:
        return None
    return ChatUser(tenant_id=found.tenant_id, user_id=found.user_id, role=found.role, name=found.user_name)


class ChatSocket:
    """One open `/ws/chat`: sends never raise once the client has gone (the turn still finishes
    and is stored, so the history has it on reconnect)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.gone = False

    async def send(self, frame: dict[str, Any]) -> None:
        if self.gone:
            return
        try:
            await self.websocket.send_json(frame)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.gone = True

    async def close(self, code: int, frame: dict[str, Any]) -> None:
        await self.send(frame)
        if not self.gone:
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(code)
        self.gone = True


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    app = websocket.app
    db: Database = app.state.db
    settings: Settings = app.state.settings
    await websocket.accept()
    sock = ChatSocket(websocket)
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), settings):
        await sock.close(CLOSE_UNAUTHORIZED, error_frame("WS_UNAUTHORIZED", "este origen no puede abrir el chat"))
        return
    identity = await identify(db, settings, websocket)
    if identity is None:
        await sock.close(CLOSE_UNAUTHORIZED, error_frame("WS_UNAUTHORIZED", "inicia sesión en el panel primero"))
        return
    user, token = identity
    engine: ChatEngine = app.state.chat_engine
    log.info("chat_ws_connected", action="chat_ws_connected", user_id=str(user.user_id), role=user.role,
             tenant_id=str(user.tenant_id))
    metrics.SOCKETS.inc()
    try:
        session_id = await active_session_id(db, user)
        await sock.send({"type": "history_snapshot", "session_id": session_id,
                         "messages": await history_out(db, user, session_id, SNAPSHOT_MESSAGES)})
        while not sock.gone:
            try:
                raw = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError, KeyError):  # KeyError: a binary frame
                break
            if token is not None and await user_of_login(db, token) is None:
                await add_message(db, user, session_id, "assistant", SESSION_EXPIRED, error_code="WS_SESSION_ERROR")
                await sock.close(CLOSE_UNAUTHORIZED, error_frame("WS_SESSION_ERROR", SESSION_EXPIRED))
                break
            await handle_frame(engine, db, user, raw, sock)
    finally:
        metrics.SOCKETS.dec()


async def handle_frame(engine: ChatEngine, db: Database, user: ChatUser, raw: str, sock: ChatSocket) -> None:
    try:
        frame = ClientFrame.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "frame"
        message = ("el mensaje no es JSON" if first.get("type") == "json_invalid"
                   else f"mensaje no válido ({where}: {first.get('msg')}); se esperan user_message o tool_call")
        await sock.send(error_frame("WS_BAD_REQUEST", message))
        return
    if isinstance(frame, PingFrame):
        await sock.send({"type": "pong"})
        return
    try:
        # Read each time: "new conversation" (POST /api/chat/sessions) may have moved it.
        session_id = await active_session_id(db, user)
        attachments = [a.model_dump() for a in frame.attachments]
        if isinstance(frame, UserMessageFrame):
            await engine.user_message(user, session_id, frame.content, attachments, sock.send)
        else:
            await engine.tool_call(user, session_id, frame.tool, frame.args, attachments, sock.send)
    except Exception as exc:  # the socket stays usable; the cause is in the log
        ref = uuid.uuid4().hex[:8]
        log.exception("chat_turn_failed", action="chat_turn", ref=ref, user_id=str(user.user_id),
                      tenant_id=str(user.tenant_id), error=type(exc).__name__)
        await sock.send(error_frame("WS_INTERNAL_ERROR", f"algo falló al responder (referencia {ref})"))
