"""`/widget/{channel_id}/socket`: a visitor's live socket, and the process's hub that feeds them.

Contract (docs/widget.md has the long form):
- `token=` (from `POST /widget/{channel}/session`) names the visitor; `Origin` must be one of the
  channel's sites. Rejections: an `error` frame, then close 4401 (token), 4403 (origin), 4404
  (channel), 4400 (`after`).
- first frame `{"type": "hello", "conversation_id", "messages": [...]}`: with `after=<message id>`
  the visitor's messages after it, else the last 50; then live frames: `message` (new or changed:
  the widget replaces by id), `ai_start`/`ai_delta`/`ai_end` (the AI's reply as it is written),
  `typing` (a person of the team), `read` (the team read the visitor's messages), `ping`.
- the visitor sends `send`, `typing`, `read`, `ping`; each `send` is answered by `sent` (or `error`
  with its `client_id`).

One hub per process holds the sockets by conversation. It listens to each tenant that has
visitors here through two bus subscriptions: the tenant's event log (messages, conversation
changes) and the tenant's widget topic (deltas and typing: ephemeral, never stored). A socket
costs its ASGI connection and a small object: no task of its own while idle (frames are sent by a
short-lived task only while some are waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from tertulia.assistants.orchestrator import ReplyPiece
from tertulia.config import Settings
from tertulia.conversations import repository as conversations_repo
from tertulia.conversations.inbound import InboundDelivery
from tertulia.conversations.media import media_key, media_url
from tertulia.conversations.schemas import Attachment, InboundContact, InboundMessage, InboundResult
from tertulia.conversations.service import emit_message_updated
from tertulia.conversations.statuses import StatusReport, apply_report
from tertulia.kit.bus import Event, InProcessBus, Subscription
from tertulia.kit.db import Database, utcnow
from tertulia.kit.errors import Invalid, NotFound, TertuliaError
from tertulia.kit.ratelimit import RateLimiter
from tertulia.kit.storage import FileStore, content_type_of
from tertulia.realtime.gateway import RawSocket, parse_after
from tertulia.widget import repository as repo
from tertulia.widget import service
from tertulia.widget.schemas import WIDGET_MAX_TEXT, VisitorMessage, VisitorMessageIn, VisitorMessageSent
from tertulia.widget.service import Visitor, VisitorTokens, WidgetChannel, WidgetChannels

log = structlog.get_logger("tertulia.widget.socket")
router = APIRouter(tags=["widget"])

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
MAX_PENDING = 200  # frames waiting for one visitor before it counts as too slow
MAX_FRAME = 2 * WIDGET_MAX_TEXT + 1024
IMAGE_SUFFIXES = ("jpg", "jpeg", "png", "gif", "webp")


def widget_topic(tenant_id: uuid.UUID) -> uuid.UUID:
    """The bus key of a tenant's ephemeral widget frames (deltas, typing): apart from its event log,
    so the agents' sockets never see them."""
    return uuid.uuid5(tenant_id, "widget")


async def publish_frame(bus: InProcessBus, tenant_id: uuid.UUID, conversation_id: uuid.UUID,
                        frame: dict[str, Any]) -> None:
    await bus.publish(widget_topic(tenant_id), [{"type": "widget", "conversation_id": str(conversation_id),
                                                 "frame": frame}])


def reply_stream(bus: InProcessBus) -> Callable[[ReplyPiece], Awaitable[None]]:
    """The orchestrator's stream of a reply, sent to the widget of a `web` conversation."""
    async def stream(piece: ReplyPiece) -> None:
        if piece.channel_source != "web":
            return
        frame: dict[str, Any] = {"type": f"ai_{piece.kind}", "turn": piece.turn}
        if piece.kind == "delta":
            frame["text"] = piece.text
        if piece.kind == "end":
            frame["outcome"] = piece.text
        await publish_frame(bus, piece.tenant_id, piece.conversation_id, frame)
    return stream


class VisitorSocket:
    __slots__ = ("channel", "conversation_id", "hub", "pending", "ready", "sender", "visitor", "ws")

    def __init__(self, ws: RawSocket, hub: WidgetHub, channel: WidgetChannel, visitor: Visitor) -> None:
        self.ws = ws
        self.hub = hub
        self.channel = channel
        self.visitor = visitor
        self.conversation_id: uuid.UUID | None = None
        self.pending: list[dict[str, Any]] = []
        self.sender: asyncio.Task[None] | None = None
        self.ready = False  # until `hello` is queued, live frames wait behind it

    def start(self, hello: dict[str, Any]) -> None:
        """Send `hello`, then what arrived while it was being read."""
        self.pending.insert(0, hello)
        self.ready = True
        self.offer(None)

    def offer(self, frame: dict[str, Any] | None) -> bool:
        """Queue a frame (None: only send what waits); False when the visitor is too slow (the
        socket is then closed)."""
        if self.ws.closed:
            return False
        if len(self.pending) >= MAX_PENDING:
            self.pending.clear()
            self.hub.spawn(self.ws.close(CLOSE_TOO_SLOW, "too slow: reconnect with ?after=<last message id>", 10.0))
            return False
        if frame is not None:
            self.pending.append(frame)
        if self.sender is None and self.ready and self.pending:
            self.sender = asyncio.create_task(self._drain(), name="widget-socket-send")
        return True

    async def _drain(self) -> None:
        try:
            while self.pending and not self.ws.closed:
                await self.ws.send_frame(self.pending.pop(0))
        except (OSError, RuntimeError):
            self.pending.clear()
        finally:
            self.sender = None


@dataclass
class _TenantFeed:
    subs: list[Subscription]
    tasks: list[asyncio.Task[None]]
    sockets: int = 0


@dataclass
class HubConfig:
    heartbeat_seconds: float = 25.0
    deliver_batch_seconds: float = 0.05  # delivered receipts wait this long to share a transaction


def _discard(index: dict[Any, set[VisitorSocket]], key: object, sock: VisitorSocket) -> None:
    group = index.get(key)
    if group is not None:
        group.discard(sock)
        if not group:
            index.pop(key, None)


async def _not_taking(delivery: InboundDelivery) -> InboundResult:
    raise TertuliaError("this process is not taking messages now; retry", code="shutting_down", status_code=503)


@dataclass
class WidgetHub:
    db: Database
    bus: InProcessBus
    tokens: VisitorTokens
    channels: WidgetChannels
    limiter: RateLimiter
    settings: Settings
    store: FileStore
    submit: Callable[[InboundDelivery], Awaitable[InboundResult]] = field(default=_not_taking)
    config: HubConfig = field(default_factory=HubConfig)
    by_conversation: dict[uuid.UUID, set[VisitorSocket]] = field(default_factory=dict)
    # Sockets by visitor (a list: most visitors have one tab, and an empty set costs 216 bytes).
    by_visitor: dict[str, list[VisitorSocket]] = field(default_factory=dict)
    feeds: dict[uuid.UUID, _TenantFeed] = field(default_factory=dict)
    delivered: dict[uuid.UUID, dict[uuid.UUID, set[int]]] = field(default_factory=dict)
    emails_kept: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _deliver_wake: asyncio.Event = field(default_factory=asyncio.Event)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- sockets come and go ----

    def attach(self, sock: VisitorSocket) -> None:
        tenant_id = sock.channel.tenant_id
        feed = self.feeds.get(tenant_id)
        if feed is None:
            subs = [self.bus.subscribe(tenant_id, maxsize=10_000), self.bus.subscribe(widget_topic(tenant_id),
                                                                                      maxsize=10_000)]
            feed = _TenantFeed(subs, [asyncio.create_task(self._feed(sub), name="widget-feed") for sub in subs])
            self.feeds[tenant_id] = feed
        feed.sockets += 1
        self.by_visitor.setdefault(sock.visitor.key, []).append(sock)
        if sock.conversation_id is not None:
            self.by_conversation.setdefault(sock.conversation_id, set()).add(sock)

    def detach(self, sock: VisitorSocket) -> None:
        if sock.conversation_id is not None:
            _discard(self.by_conversation, sock.conversation_id, sock)
        tabs = self.by_visitor.get(sock.visitor.key)
        if tabs is not None and sock in tabs:
            tabs.remove(sock)
            if not tabs:
                del self.by_visitor[sock.visitor.key]
        feed = self.feeds.get(sock.channel.tenant_id)
        if feed is not None:
            feed.sockets -= 1
            if feed.sockets <= 0:
                self.feeds.pop(sock.channel.tenant_id, None)
                for sub in feed.subs:
                    sub.close()
                for task in feed.tasks:
                    task.cancel()
        if sock.sender is not None:
            sock.sender.cancel()

    def learned(self, visitor: Visitor, conversation_id: uuid.UUID) -> None:
        """A visitor's first message made its conversation: its sockets here follow it from now on."""
        for sock in self.by_visitor.get(visitor.key, ()):
            if sock.conversation_id is None:
                sock.conversation_id = conversation_id
                self.by_conversation.setdefault(conversation_id, set()).add(sock)

    # ---- what the bus brings ----

    async def _feed(self, sub: Subscription) -> None:
        while True:
            event = await sub.get()
            if sub.lagging:  # never expected at these sizes; the sockets resume by message id
                log.warning("widget_feed_lagging", tenant_id=str(sub.tenant_id))
                sub.lagging = False
            try:
                self.dispatch(event)
            except Exception:
                log.exception("widget_dispatch_failed")

    def dispatch(self, event: Event) -> None:
        kind = event.get("type")
        data = event.get("data") or {}
        if kind == "widget":
            conv = uuid.UUID(event["conversation_id"])
            for sock in self.by_conversation.get(conv, ()):
                sock.offer(event["frame"])
            return
        if kind not in ("message.created", "message.updated", "conversation.updated"):
            return
        conv_key = data.get("conversation_id") if kind != "conversation.updated" else data.get("id")
        if conv_key is None:
            return
        socks = self.by_conversation.get(uuid.UUID(str(conv_key)))
        if not socks:
            return
        if kind == "conversation.updated":
            if data.get("unread_count") == 0:
                for sock in socks:
                    sock.offer({"type": "read", "conversation_id": str(conv_key)})
            return
        if not service.visible(data):
            return
        pushed = False
        for sock in socks:
            frame = {"type": "message", "message": service.visitor_message(
                data, self.tokens, self.settings.base_url).model_dump(mode="json")}
            pushed = sock.offer(frame) or pushed
        if pushed and data.get("author") != "contact" and data.get("status") == "sent":
            tenant_id = next(iter(socks)).channel.tenant_id
            self.delivered.setdefault(tenant_id, {}).setdefault(uuid.UUID(str(conv_key)), set()).add(int(data["id"]))
            self.wake_receipts()

    # ---- receipts ----

    def wake_receipts(self) -> None:
        self._deliver_wake.set()

    async def run_receipts(self) -> None:
        """Our messages pushed to a connected visitor are `delivered`: written in batches."""
        while True:
            await self._deliver_wake.wait()
            await asyncio.sleep(self.config.deliver_batch_seconds)
            self._deliver_wake.clear()
            batch, self.delivered = self.delivered, {}
            for tenant_id, conversations in batch.items():
                try:
                    async with self.db.session(tenant_id) as session:
                        for conversation_id, ids in conversations.items():
                            await mark(session, tenant_id, conversation_id, "delivered", ids=sorted(ids))
                except Exception:
                    log.exception("widget_delivered_failed", tenant_id=str(tenant_id))

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            for group in list(self.by_visitor.values()):
                for sock in list(group):
                    sock.offer({"type": "ping"})

    # ---- one connection ----

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        ws = RawSocket(scope, receive, send)
        if (await receive())["type"] != "websocket.connect":
            return
        await ws.accept()
        origin, host = ws.header("origin"), ws.header("host")
        address = (scope.get("client") or ("?", 0))[0]
        scope["headers"] = []  # not needed any more; an idle socket would keep them
        try:
            channel = await self.channels.get(uuid.UUID(str(scope["path_params"]["channel_id"])))
        except (TertuliaError, ValueError):
            await _reject(ws, CLOSE_NOT_FOUND, "channel_not_found", "no such web channel")
            return
        if not service.origin_allowed(channel, origin, host, self.settings):
            await _reject(ws, CLOSE_FORBIDDEN_ORIGIN, "origin_not_allowed",
                          "the widget of this channel may not run on this site")
            return
        try:
            visitor = self.tokens.read(ws.query_param("token"), channel.id)
        except TertuliaError as exc:
            await _reject(ws, CLOSE_UNAUTHORIZED, exc.code, exc.message)
            return
        try:
            after = parse_after(ws.query_param("after"))
        except ValueError:
            await _reject(ws, CLOSE_BAD_REQUEST, "bad_request", "`after` must be a message id")
            return
        sock = VisitorSocket(ws, self, channel, visitor)
        del origin, host  # what stays alive while the socket idles is `sock` and `address`
        try:
            await self._hello(sock, after)
            await self._read(sock, address)
        finally:
            self.detach(sock)

    async def _hello(self, sock: VisitorSocket, after: int | None) -> None:
        """Find the visitor's conversation, listen, then send what it has (a helper of its own, so
        nothing it reads stays referenced while the socket idles)."""
        channel = sock.channel
        async with self.db.read_session(channel.tenant_id) as session:
            conv = await repo.visitor_conversation(session, channel.tenant_id, channel.id, sock.visitor.identities)
        sock.conversation_id = conv.id if conv is not None else None
        # Listening before reading: a message stored meanwhile is in the read, the live feed,
        # or both (the widget keeps each message once, by id).
        self.attach(sock)
        messages = []
        if conv is not None:
            async with self.db.read_session(channel.tenant_id) as session:
                messages = await repo.visible_messages(session, channel.tenant_id, conv.id, after=after,
                                                       limit=200 if after is not None else 50)
        sock.start({"type": "hello", "conversation_id": str(conv.id) if conv else None,
                    "messages": [service.visitor_message(m, self.tokens, self.settings.base_url)
                                 .model_dump(mode="json") for m in messages]})

    async def _read(self, sock: VisitorSocket, address: str) -> None:
        while True:
            message = await sock.ws.receive()
            if message["type"] == "websocket.disconnect":
                sock.ws.closed = True
                return
            raw = message.get("text") or message.get("bytes") or ""
            if len(raw) > MAX_FRAME:
                sock.offer({"type": "error", "code": "frame_too_large", "message": "that frame is too large"})
                continue
            try:
                frame = json.loads(raw)
                if not isinstance(frame, dict):
                    raise ValueError(raw)
            except ValueError:
                sock.offer({"type": "error", "code": "bad_request", "message": "frames are JSON objects"})
                continue
            try:
                await self._handle(sock, frame, address)
            except TertuliaError as exc:
                sock.offer({"type": "error", "code": exc.code, "message": exc.message,
                            "client_id": frame.get("client_id")})
            except Exception:
                log.exception("widget_frame_failed")
                sock.offer({"type": "error", "code": "internal_error", "message": "that did not work; try again",
                            "client_id": frame.get("client_id")})

    async def _handle(self, sock: VisitorSocket, frame: dict[str, Any], address: str) -> None:
        kind = frame.get("type")
        if kind == "ping":
            sock.offer({"type": "pong"})
        elif kind == "send":
            body = VisitorMessageIn.model_validate({k: frame.get(k) for k in ("client_id", "text", "upload_ids")
                                                 if frame.get(k) is not None})
            sent = await post_message(self, sock.channel, sock.visitor, body, address)
            sock.offer({"type": "sent", **sent.model_dump(mode="json")})
        elif kind == "typing":
            if sock.conversation_id is not None:
                await visitor_typing(self, sock.channel.tenant_id, sock.conversation_id, bool(frame.get("on", True)))
        elif kind == "read":
            up_to = frame.get("up_to")
            if isinstance(up_to, int) and sock.conversation_id is not None and up_to >= 0:
                async with self.db.session(sock.channel.tenant_id) as session:
                    await mark(session, sock.channel.tenant_id, sock.conversation_id, "read", up_to=up_to)
        else:
            sock.offer({"type": "error", "code": "bad_request", "message": "unknown frame type"})


async def post_message(hub: WidgetHub, channel: WidgetChannel, visitor: Visitor, body: VisitorMessageIn,
                       address: str) -> VisitorMessageSent:
    """A visitor writes (over the socket or HTTP): limits, then the inbound path every channel
    takes, then the visitor's other sockets here follow the conversation it lands in."""
    # A person types a few messages a minute; a page that sends more is a script.
    await hub.limiter.check(hub.settings.widget_rate_per_visitor, "widget-visitor", visitor.key,
                            message="too many messages")
    await hub.limiter.check(hub.settings.widget_rate_per_address, "widget-address", address,
                            message="too many messages from this address")
    text = body.text.strip()
    attachments = [await upload_attachment(hub, channel, visitor, upload_id) for upload_id in body.upload_ids]
    if not text and not attachments:
        raise Invalid("write something or attach a file", code="empty_message")
    result = await hub.submit(InboundDelivery(channel.id, InboundMessage(
        external_message_id=f"w.{visitor.key}.{body.client_id}",
        contact=InboundContact(external_id=visitor.subject, aliases=list(visitor.aliases), name=visitor.name),
        content=text, attachments=attachments, kind=attachments[0].type if attachments else "text")))
    hub.learned(visitor, result.conversation_id)
    if visitor.email and (channel.tenant_id, result.conversation_id) not in hub.emails_kept:
        async with hub.db.session(channel.tenant_id) as session:
            conv = await conversations_repo.get_conversation(session, channel.tenant_id, result.conversation_id)
            if conv is not None:
                await repo.set_contact_email(session, channel.tenant_id, conv.contact_id, visitor.email, utcnow())
        hub.emails_kept.add((channel.tenant_id, result.conversation_id))
    message = VisitorMessage(id=result.message_id, by="visitor", text=text, at=utcnow(), status="received",
                             attachments=[service.file_for_visitor(a.model_dump(exclude_none=True), hub.tokens,
                                                                   hub.settings.base_url, channel.tenant_id)
                                          for a in attachments])
    return VisitorMessageSent(client_id=body.client_id, message=message, conversation_id=result.conversation_id,
                          duplicate=result.duplicate)


async def upload_attachment(hub: WidgetHub, channel: WidgetChannel, visitor: Visitor, upload_id: str) -> Attachment:
    """A file the visitor uploaded before (its name says whose it is), as a message attachment."""
    if not upload_id.startswith(f"w{visitor.key[:12]}_"):
        raise NotFound("no such upload", code="upload_not_found")
    found = await hub.store.stat(media_key(channel.tenant_id, upload_id))
    if found is None:
        raise NotFound("no such upload", code="upload_not_found")
    kind = "image" if upload_id.rsplit(".", 1)[-1].lower() in IMAGE_SUFFIXES else "document"
    return Attachment(type=kind, url=media_url(channel.tenant_id, upload_id), size=found.size,
                      filename=upload_id.split("_", 3)[-1], mime_type=content_type_of(upload_id))


# Typing signals a conversation passes on, per side. The same state again goes out at most once
# every 2 s: a widget repeats "on" every 3 s while its visitor types (the panel too), so this drops
# nothing a person would see, and a page or a panel that sends more cannot flood the other side. A
# change of state goes out at once (typing again right after stopping, or after a send, which the
# panel ends with "off"), within a cap that bounds an on/off flood.
TYPING_REPEAT = "1 per 2 seconds"
TYPING_ANY = "4 per 2 seconds"


async def typing_allowed(hub: WidgetHub, who: str, conversation_id: uuid.UUID, on: bool) -> bool:
    """Whether this typing signal goes out (the shared rate limiter: across processes with Redis)."""
    key = ("typing", who, str(conversation_id))
    state, other = ("on", "off") if on else ("off", "on")
    if await hub.limiter.wait_for(TYPING_REPEAT, *key, state) > 0.0:
        return False
    if await hub.limiter.wait_for(TYPING_ANY, *key) > 0.0:
        return False
    await hub.limiter.clear(TYPING_REPEAT, *key, other)
    return True


async def visitor_typing(hub: WidgetHub, tenant_id: uuid.UUID, conversation_id: uuid.UUID, on: bool) -> None:
    """The visitor is typing: an ephemeral frame (no `seq`) on the tenant's agent sockets, never
    stored, so never replayed on resume (docs/realtime.md, "Ephemeral frames")."""
    if await typing_allowed(hub, "visitor", conversation_id, on):
        await hub.bus.publish(tenant_id, [{"type": "visitor.typing",
                                           "data": {"conversation_id": str(conversation_id), "on": on}}])


async def publish_agent_typing(hub: WidgetHub, tenant_id: uuid.UUID, conversation_id: uuid.UUID, on: bool,
                               name: str | None) -> None:
    """A person of the team is typing: a frame to the conversation's widgets (never stored), with
    their name, as their messages show it."""
    if await typing_allowed(hub, "agent", conversation_id, on):
        frame: dict[str, Any] = {"type": "typing", "who": "agent", "on": on}
        if name:
            frame["name"] = name
        await publish_frame(hub.bus, tenant_id, conversation_id, frame)


async def mark(session: Any, tenant_id: uuid.UUID, conversation_id: uuid.UUID, status: str, *,
               ids: list[int] | None = None, up_to: int | None = None) -> int:
    """Move our messages to `delivered` (pushed to the visitor) or `read` (the widget showed them)."""
    now = utcnow()
    moved = 0
    for message in await repo.lock_outbound(session, tenant_id, conversation_id, ids=ids, up_to=up_to):
        if apply_report(message, StatusReport(message.provider_message_id or f"web-{message.id}", status, now)):
            await emit_message_updated(session, message)
            moved += 1
    return moved


async def _reject(ws: RawSocket, code: int, error_code: str, message: str) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await ws.send_frame({"type": "error", "code": error_code, "message": message})
    await ws.close(code, message[:120], 5.0)


class VisitorSocketEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub: WidgetHub | None = getattr(scope["app"].state, "widget_hub", None)
        if hub is None:
            ws = RawSocket(scope, receive, send)
            await receive()
            await ws.accept()
            await _reject(ws, 1011, "unavailable", "the widget is not running in this process")
            return
        await hub.serve(scope, receive, send)


router.routes.append(WebSocketRoute("/widget/{channel_id}/socket", VisitorSocketEndpoint(), name="widget_socket"))


@asynccontextmanager
async def widget_lifespan(app: FastAPI) -> AsyncIterator[WidgetHub]:
    settings: Settings = app.state.settings
    tokens = VisitorTokens(settings.resolved_secret_key())
    hub = WidgetHub(app.state.db, app.state.bus, tokens, WidgetChannels(app.state.db, app.state.secret_box),
                    app.state.rate_limiter, settings, app.state.store)
    app.state.widget_hub = hub
    tasks = [asyncio.create_task(hub.heartbeat(), name="widget-heartbeat"),
             asyncio.create_task(hub.run_receipts(), name="widget-receipts")]
    try:
        yield hub
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
