"""The ASGI application: REST API, webhooks, sockets and the built web app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from tertulia.assistants.endpoints import mcp_router as mcp_invoke_router
from tertulia.assistants.endpoints import router as assistants_router
from tertulia.assistants.mcp import mcp_lifespan
from tertulia.assistants.mcp_endpoints import router as mcp_servers_router
from tertulia.assistants.service import schedule_replies
from tertulia.assistants.tasks import AiWorker
from tertulia.assistants.tools import EXTRA_TOOLS
from tertulia.canned.endpoints import router as canned_router
from tertulia.channels.check import router as channel_check_router
from tertulia.channels.endpoints import router as channels_router
from tertulia.channels.intake import WebhookIntake, running_intake
from tertulia.channels.intake import router as webhooks_router
from tertulia.channels.template_endpoints import router as templates_router
from tertulia.config import Settings, get_settings
from tertulia.contacts.endpoints import router as contacts_router
from tertulia.conversations.endpoints import router as inbox_router
from tertulia.conversations.inbound import InboundWriter, running_writer
from tertulia.conversations.inbound import router as inbound_router
from tertulia.conversations.media import router as media_router
from tertulia.conversations.media_fetch import MediaWorker, announce_fetches
from tertulia.conversations.media_uploads import router as media_uploads_router
from tertulia.conversations.takeover import running_takeover_returns
from tertulia.delivery.endpoints import router as delivery_router
from tertulia.delivery.tasks import DeliveryWorker
from tertulia.kit.background import running
from tertulia.kit.bus import create_bus
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.kit.egress import egress_lifespan
from tertulia.kit.errors import error_body, install_error_handlers
from tertulia.kit.openapi import document_api
from tertulia.kit.ratelimit import RateLimiter
from tertulia.kit.storage import create_store
from tertulia.realtime.endpoints import router as events_router
from tertulia.realtime.gateway import realtime_lifespan
from tertulia.realtime.gateway import router as events_socket_router
from tertulia.reports.endpoints import router as reports_router
from tertulia.reports.tools import assistant_tools as report_tools
from tertulia.reports.tools import report_workers
from tertulia.tenancy.auth import SECURITY_SCHEMES, security_of
from tertulia.tenancy.endpoints import admin as members_router
from tertulia.tenancy.endpoints import router as auth_router
from tertulia.webchat.endpoints import router as webchat_router
from tertulia.webchat.engine import ChatEngine
from tertulia.webchat.inbox_tools import INBOX_TOOLS
from tertulia.webchat.socket import router as webchat_socket_router
from tertulia.widget.endpoints import WidgetCors
from tertulia.widget.endpoints import router as widget_router
from tertulia.widget.socket import reply_stream, widget_lifespan
from tertulia.widget.socket import router as widget_socket_router

log = structlog.get_logger("tertulia.app")
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

# What the process serves. Routers are matched in this order, each one's routes in turn: the
# inbound endpoints, the busiest writes, come first (behind five routers, finding one cost a third
# of a millisecond per message).
ROUTERS: list[Any] = [inbound_router, webhooks_router, auth_router, members_router, inbox_router, contacts_router,
                      channels_router, events_router, media_router, events_socket_router,
                      assistants_router, mcp_invoke_router, mcp_servers_router,
                      channel_check_router, templates_router, delivery_router,
                      webchat_router, webchat_socket_router, reports_router, widget_router, widget_socket_router,
                      canned_router, media_uploads_router]

DESCRIPTION = """Tertulia's API: the inbox of seed 001 (`/admin/...`), login for the panel
(`/api/auth/...`), the generic inbound channel (`/api/v1/inbound/...`), the providers' webhooks
(`/webhooks/...`).

Authenticate with the panel's session cookie (send `X-CSRF-Token` on unsafe methods) or with
`Authorization: Bearer <API token>` (create one with `tertulia token create`); each operation
says which it accepts. Errors are `{"error": {"code", "message", "details?"}}`, with `details`
(`[{field, message, type}]`) on validation errors; a 500 never says more than that it happened."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The panel chatbot's tools (seed 002), which POST /mcp/invoke runs too: the inbox questions
    # and the reports. Not offered to customer-facing assistants unless an admin enables them.
    EXTRA_TOOLS.update(INBOX_TOOLS)
    EXTRA_TOOLS.update(report_tools())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        bus = create_bus(settings)
        app.state.db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size, bus=bus)
        app.state.secret_box = SecretBox(settings.resolved_secret_key())
        app.state.rate_limiter = RateLimiter(settings.redis_url, settings.redis_prefix)
        app.state.store = create_store(settings)
        app.state.bus = bus
        app.state.chat_engine = ChatEngine(app.state.db, app.state.secret_box, app.state.store, settings)
        await bus.start()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(egress_lifespan(app))
            await stack.enter_async_context(realtime_lifespan(app))
            await stack.enter_async_context(widget_lifespan(app))
            await stack.enter_async_context(mcp_lifespan(app))
            await stack.enter_async_context(report_workers())
            await stack.enter_async_context(_jobs_and_intake(app, settings))
            # What start-up built (modules, the app, mappers: ~200,000 objects) lives as long as the
            # process. Left to the garbage collector, every full collection walks all of it: a
            # pause of 150-180 ms measured under load (bench/realtime.py), the slowest requests'
            # whole story. Frozen, collections only look at what requests create.
            gc.collect()
            gc.freeze()
            log.info("started", action="serve_start", database=app.state.db.dialect, files=app.state.store.where)
            try:
                yield
            finally:
                await bus.stop()
                await app.state.db.dispose()

    app = FastAPI(title="Tertulia", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(WidgetCors)
    document_api(app, security_schemes=SECURITY_SCHEMES, security_of=security_of)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.db.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready"
            return JSONResponse(error_body("not_ready", f"database unavailable: {type(exc).__name__}"),
                                status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _mount_web_app(app)
    return app


@asynccontextmanager
async def _jobs_and_intake(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """The background jobs (unless `tertulia worker` processes run them) and the inbound writer.
    A stored customer message schedules the assistant's reply, and its files still at the provider
    are queued for the media worker; the workers of this process are woken when that work is due
    (other processes' workers find it by polling). Outbound messages wake the delivery worker the
    same way (delivery/outbox.py)."""
    db: Database = app.state.db
    async with AsyncExitStack() as stack:
        worker = media_worker = None
        if settings.inline_worker:
            # The AI's replies stream to the web widget as they are written (widget/socket.py).
            worker = await stack.enter_async_context(running(AiWorker(db, app.state.secret_box,
                                                                      stream=reply_stream(app.state.bus)), "ai-worker"))
            app.state.ai_worker = worker
            media_worker = await stack.enter_async_context(running(
                MediaWorker(db, app.state.secret_box, app.state.store, settings), "media-worker"))
            app.state.media_worker = media_worker
            app.state.delivery_worker = await stack.enter_async_context(running(DeliveryWorker(
                db, app.state.secret_box, app.state.store, app.state.rate_limiter, settings), "delivery-worker"))
            await stack.enter_async_context(running_takeover_returns(db))
        writer = InboundWriter(db, after_store=[partial(schedule_replies, wake=worker.notify if worker else None),
                                                partial(announce_fetches,
                                                        wake=media_worker.notify if media_worker else None)],
                               writers=settings.inbound_writers or (1 if db.dialect == "sqlite" else 2))
        app.state.inbound_writer = await stack.enter_async_context(running_writer(writer))
        app.state.widget_hub.submit = writer.submit  # visitors' messages take the one inbound path
        app.state.webhook_intake = await stack.enter_async_context(running_intake(
            WebhookIntake(db, app.state.secret_box, writer.submit, writers=writer.writers, settings=settings)))
        yield


def _mount_web_app(app: FastAPI) -> None:
    """Serve the built web app (web/dist) when it exists: assets as files, every panel route as
    index.html so the client-side router can take over."""
    if not (WEB_DIST / "index.html").exists():
        return

    @app.get("/", include_in_schema=False)
    @app.get("/login", include_in_schema=False)
    @app.get("/panel_cliente/{rest:path}", include_in_schema=False)
    async def index(rest: str = "") -> FileResponse:
        return FileResponse(WEB_DIST / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/assets/{path:path}", include_in_schema=False)
    async def assets(path: str) -> Response:
        target = (WEB_DIST / "assets" / path).resolve()
        if not target.is_file() or (WEB_DIST / "assets").resolve() not in target.parents:
            return JSONResponse(error_body("not_found", "no such file"), status_code=404)
        return FileResponse(target, headers={"Cache-Control": "public, max-age=31536000, immutable"})
