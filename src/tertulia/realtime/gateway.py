"""`GET /ws/events`: the agent app's live event socket.

Contract (docs/realtime.md has the long form):
- authenticated by the panel's session cookie; `Origin`, when sent, must be this host or an
  allowed origin. Rejections are an `error` frame then a close code (4400, 4401, 4403).
- the first frame is `{"type": "hello", "seq": <tenant head>}`. With `?after=S` the socket then
  sends every event after S from the database, then live events, in strict sequence order with no
  gaps or duplicates; if S is older than what is kept it sends `{"type": "resync", "seq": <head>}`
  and continues live.
- event frames are `{"seq", "type", "data", "at"}`; `{"type": "ping"}` every ~20 s.
- a client that does not keep up (its queue of pending events overflows) is closed with 4408 and
  resumes with `?after=<last seq it saw>`; it never slows the publisher or other sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import structlog
from fastapi import APIRouter, FastAPI
from starlette.requests import cookie_parser
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from tertulia.config import Settings
from tertulia.kit.bus import SYNC_MARKER, Event, InProcessBus, Subscription
from tertulia.kit.db import Database
from tertulia.kit.types import MAX_DB_INT
from tertulia.realtime import repository as repo
from tertulia.realtime.events import event_frame
from tertulia.realtime.retention import run_retention
from tertulia.tenancy import repository as tenancy_repo
from tertulia.tenancy import service as tenancy_service
from tertulia.tenancy.auth import SESSION_COOKIE

log = structlog.get_logger("tertulia.realtime.gateway")
router = APIRouter(tags=["events"])

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_SERVER_ERROR = 1011

PING_FRAME: Event = {"type": "ping"}


@dataclass
class GatewayConfig:
    # Events waiting for one socket before it counts as too slow. Large enough for a burst
    # (a bulk import, a busy minute) on a healthy connection, small enough to bound memory.
    queue_size: int = 1000
    heartbeat_seconds: float = 20.0
    page_size: int = 500  # events per database read while replaying
    # How long to wait for a close frame to get through to a client that is not reading.
    close_timeout_seconds: float = 10.0


class Gateway:
    """The process's live sockets: heartbeats and the replay/live pump of each one."""

    def __init__(self, db: Database, bus: InProcessBus, settings: Settings,
                 config: GatewayConfig | None = None) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.config = config or GatewayConfig()
        self.subscriptions: set[Subscription] = set()

    # ---- process-wide loops ----

    async def heartbeat(self) -> None:
        """One timer for all sockets: offer a ping to each (it goes through the socket's queue,
        so a ping never overtakes an event)."""
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            for sub in list(self.subscriptions):
                sub.offer(PING_FRAME)

    # ---- one connection ----

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Plain ASGI rather than Starlette's WebSocket and FastAPI's route machinery: an idle
        socket then holds a few hundred bytes of our own state, not a stack of wrappers."""
        ws = RawSocket(scope, receive, send)
        if (await receive())["type"] != "websocket.connect":
            return
        await ws.accept()
        origin, host, cookie = ws.header("origin"), ws.header("host"), ws.header("cookie")
        # The header list is not needed after this point; each idle socket would keep ~1 KB of it.
        scope["headers"] = []
        if not origin_allowed(origin, host, self.settings):
            await reject(ws, CLOSE_FORBIDDEN_ORIGIN, "WS_FORBIDDEN_ORIGIN", "this origin may not open the event socket")
            return
        try:
            after = parse_after(ws.query_param("after"))
        except ValueError:
            await reject(ws, CLOSE_BAD_REQUEST, "WS_BAD_REQUEST",
                         f"`after` must be a whole number between 0 and {MAX_DB_INT}")
            return
        tenant_id = await self._authenticate(cookie_parser(cookie or "").get(SESSION_COOKIE))
        del origin, host, cookie
        if tenant_id is None:
            await reject(ws, CLOSE_UNAUTHORIZED, "WS_UNAUTHORIZED", "log in first: no valid session for this socket")
            return

        # Subscribe before reading anything: an event committed from now on is either in the
        # database reads below or in the queue (usually both; duplicates are dropped by seq).
        sub = self.bus.subscribe(tenant_id, maxsize=self.config.queue_size)
        self.subscriptions.add(sub)
        # Two flows per socket: this handler reads what the client sends (and notices when it
        # leaves); one task sends. One task rather than two keeps idle sockets light.
        pump = asyncio.create_task(self._run_pump(ws, sub, after), name="ws-events-pump")
        # The queue overflowed: the pump may be stuck in a send the client is not reading.
        sub.on_overflow = pump.cancel
        try:
            await ws.read_until_disconnect()
        finally:
            self._forget(sub)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump

    def _forget(self, sub: Subscription) -> None:
        sub.on_overflow = None
        sub.close()
        self.subscriptions.discard(sub)

    async def _run_pump(self, ws: RawSocket, sub: Subscription, after: int | None) -> None:
        try:
            await self._pump(ws, sub, after)
        except asyncio.CancelledError:
            if not sub.lagging:
                raise  # the client left, or the server is stopping
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # our own cancellation (see on_overflow), handled here
            self._forget(sub)
            log.info("ws_client_too_slow", action="ws_events_drop", tenant_id=str(sub.tenant_id))
            # Once the close frame is out, the handler's read loop sees the disconnect and ends.
            await ws.close(CLOSE_TOO_SLOW, "too slow: reconnect with ?after=<last seq>",
                           self.config.close_timeout_seconds)
        except OSError:
            return  # the client went away mid-send; the handler notices on its side
        except Exception as exc:
            self._forget(sub)
            log.error("ws_pump_failed", action="ws_events", tenant_id=str(sub.tenant_id),
                      error=f"{type(exc).__name__}: {exc}")
            await ws.close(CLOSE_SERVER_ERROR, "server error: reconnect with ?after=<last seq>",
                           self.config.close_timeout_seconds)

    async def _authenticate(self, token: str | None) -> uuid.UUID | None:
        if not token:
            return None
        # A login session belongs to a person, whose memberships span tenants.
        async with self.db.read_session(cross_tenant="a socket's login session") as session:
            auth = await tenancy_service.resolve_session(session, token)
            if auth is None or auth.tenant_id is None:
                return None
            if await tenancy_repo.get_membership(session, auth.tenant_id, auth.user_id) is None:
                return None
            return auth.tenant_id

    async def _head(self, sub: Subscription) -> int:
        async with self.db.read_session(sub.tenant_id) as session:
            return await repo.head_seq(session, sub.tenant_id)

    async def _pump(self, ws: RawSocket, sub: Subscription, after: int | None) -> None:
        head = await self._head(sub)
        await send_frame(ws, {"type": "hello", "seq": head})
        last = head
        if after is not None and after != head:
            replayed = await self._replay(ws, sub, after, None) if after < head else None
            if replayed is None or replayed < head:
                # Older than what is kept (or from another database): the client reloads.
                await send_frame(ws, {"type": "resync", "seq": head})
            else:
                last = replayed
        while True:
            event = await sub.get()
            seq = event.get("seq")
            if seq is None:
                if event.get("type") == SYNC_MARKER["type"]:
                    last = await self._catch_up(ws, sub, last)
                else:
                    await send_frame(ws, event)
                continue
            if seq <= last:
                continue  # already sent from the database
            if seq > last + 1:
                # A gap: another transaction's events were published later than this one's, or
                # came through Redis out of order. Everything before `seq` is committed already.
                filled = await self._replay(ws, sub, last, seq - 1)
                if filled is None or filled < seq - 1:
                    await send_frame(ws, {"type": "resync", "seq": seq - 1})
            await send_frame(ws, event)
            last = seq

    async def _catch_up(self, ws: RawSocket, sub: Subscription, last: int) -> int:
        replayed = await self._replay(ws, sub, last, None)
        if replayed is not None:
            return replayed
        head = await self._head(sub)
        await send_frame(ws, {"type": "resync", "seq": head})
        return head

    async def _replay(self, ws: RawSocket, sub: Subscription, after: int, upto: int | None) -> int | None:
        """Send the stored events after `after` (up to `upto`, or all). Returns the last seq sent,
        or None when the next one is no longer kept (the caller tells the client to resync)."""
        last = after
        page = self.config.page_size
        while upto is None or last < upto:
            # A short read per page: no database connection is held while the client reads.
            async with self.db.read_session(sub.tenant_id) as session:
                if upto is None:
                    rows = await repo.events_after(session, sub.tenant_id, last, page)
                else:
                    rows = await repo.events_between(session, sub.tenant_id, last, upto, page)
            if not rows:
                break
            if rows[0].seq != last + 1:
                return None
            for row in rows:
                await send_frame(ws, event_frame(row.seq, row.type, row.payload, row.created_at))
            last = rows[-1].seq
            if len(rows) < page:
                break
        return last


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Browsers always send Origin on WebSockets; without one the caller is not a browser page
    (no cross-site risk), so it is allowed. Otherwise: same host, the base URL, or listed."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {o.lower() for o in settings.allowed_origins}:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, files) and other schemes
    if host and parts.netloc == host.strip().lower():
        return True
    base = urlsplit(settings.base_url)
    return f"{base.scheme}://{base.netloc}".lower() == origin


def parse_after(raw: str | None) -> int | None:
    """The `after` query parameter: None when absent; ValueError when not a valid seq."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_DB_INT:
        raise ValueError(raw)
    return int(raw)


def encode(frame: Event) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class RawSocket:
    """The few WebSocket operations the gateway needs, straight on the ASGI interface."""

    __slots__ = ("closed", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.closed = False

    def header(self, name: str) -> str | None:
        key = name.encode("latin-1")
        for k, v in self.scope["headers"]:
            if k.lower() == key:
                return str(v.decode("latin-1"))
        return None

    def query_param(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get(name)
        return values[0] if values else None

    async def accept(self) -> None:
        await self.send({"type": "websocket.accept"})

    async def send_frame(self, frame: Event) -> None:
        await self.send({"type": "websocket.send", "text": encode(frame)})

    async def close(self, code: int, reason: str, within: float) -> None:
        """Close unless already closed; give up after `within` seconds (a client that does not
        read never lets the close frame through)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            async with asyncio.timeout(within):
                await self.send({"type": "websocket.close", "code": code, "reason": reason})

    async def read_until_disconnect(self) -> None:
        """Consume what the client sends (`{"type": "pong"}`; nothing else matters) so it never
        piles up, and notice when the client goes away."""
        while True:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return


async def send_frame(ws: RawSocket, frame: Event) -> None:
    await ws.send_frame(frame)


async def reject(ws: RawSocket, code: int, error_code: str, message: str) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await ws.send_frame({"type": "error", "metadata": {"code": error_code}, "message": message})
    await ws.close(code, message[:120], 5.0)


class EventsSocket:
    """`GET /ws/events` as a plain ASGI endpoint (mounted with a Starlette WebSocketRoute)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway: Gateway | None = getattr(scope["app"].state, "gateway", None)
        if gateway is None:  # the app was started without the realtime lifespan hook
            ws = RawSocket(scope, receive, send)
            await receive()
            await ws.accept()
            await reject(ws, CLOSE_SERVER_ERROR, "WS_UNAVAILABLE", "live events are not running in this process")
            return
        await gateway.serve(scope, receive, send)


router.routes.append(WebSocketRoute("/ws/events", EventsSocket(), name="events_socket"))


@asynccontextmanager
async def realtime_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the gateway's heartbeat and the event retention loop with the app."""
    settings: Settings = app.state.settings
    gateway = Gateway(app.state.db, app.state.bus, settings)
    app.state.gateway = gateway
    tasks = [asyncio.create_task(gateway.heartbeat(), name="ws-events-heartbeat"),
             asyncio.create_task(run_retention(app.state.db, settings.event_retention_days),
                                 name="event-retention")]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
