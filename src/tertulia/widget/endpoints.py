"""The widget's HTTP side: a visitor's session, messages (the fallback of the socket), receipts,
typing and uploads; the script itself, its files, and a demo page. Every visitor route checks the
page's `Origin` against the channel's sites and scopes what it reads to the token's visitor.
The socket is widget/socket.py; the protocol docs/widget.md."""

from __future__ import annotations

import asyncio
import html
import secrets
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import puremagic
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tertulia.conversations.media import media_key
from tertulia.kit.db import set_tenant
from tertulia.kit.errors import NotFound, error_body
from tertulia.kit.file_responses import stored_file_response
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentPrincipal
from tertulia.webchat.uploads import ReceivedFile, UnsupportedType, check_content, clean_name, receive_file
from tertulia.widget import repository as repo
from tertulia.widget import service
from tertulia.widget.schemas import (
    TypingIn,
    VisitorMessageIn,
    VisitorMessages,
    VisitorMessageSent,
    VisitorReadIn,
    VisitorSessionIn,
    VisitorSessionOut,
    VisitorUploadOut,
)
from tertulia.widget.service import Visitor, WidgetChannel
from tertulia.widget.socket import WidgetHub, mark, post_message, publish_agent_typing, visitor_typing

router = APIRouter(tags=["widget"], route_class=JsonBodyRoute)
WIDGET_DIST = Path(__file__).resolve().parents[3] / "web" / "dist" / "widget"
UPLOAD_MAX_BYTES = 10 * 2**20
IMAGE_EXTENSIONS = {".jpg": "image", ".jpeg": "image", ".png": "image", ".gif": "image", ".webp": "image"}
DOCUMENT_EXTENSIONS = (".pdf", ".docx", ".xlsx", ".txt", ".csv")
VISITOR_SECURITY: dict[str, Any] = {"security": [{"visitorToken": []}]}


def _hub(request: Request) -> WidgetHub:
    hub: WidgetHub = request.app.state.widget_hub
    return hub


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def widget_channel(channel_id: uuid.UUID, request: Request) -> WidgetChannel:
    """The `web` channel the request names, from a page it allows. Same-origin requests of the
    demo page may come without `Origin` (browsers leave it off same-origin GETs)."""
    hub = _hub(request)
    channel = await hub.channels.get(channel_id)
    origin = request.headers.get("origin")
    if origin is None and request.headers.get("sec-fetch-site") == "same-origin":
        origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    service.check_origin(channel, origin, request.headers.get("host"), hub.settings)
    return channel


async def current_visitor(request: Request, channel: Annotated[WidgetChannel, Depends(widget_channel)]) -> Visitor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return _hub(request).tokens.read(token.strip() if scheme.lower() == "bearer" else None, channel.id)


CurrentChannel = Annotated[WidgetChannel, Depends(widget_channel)]
CurrentVisitor = Annotated[Visitor, Depends(current_visitor)]


@router.post("/widget/{channel_id}/session", response_model=VisitorSessionOut)
async def start_session(body: VisitorSessionIn, channel: CurrentChannel, db: DbSession,
                        request: Request) -> VisitorSessionOut:
    """Start (or resume) a visitor: the widget's settings, a visitor token, and the conversation so
    far. `identifier` with a valid `identifier_hash` (hex HMAC-SHA256 of the identifier under the
    channel's `identity_secret`) makes the visitor that contact; without it the identifier is
    ignored. A page that loads without a kept `visitor_id` gets a new one."""
    hub = _hub(request)
    await hub.limiter.check(hub.settings.widget_rate_per_address, "widget-session", _address(request),
                            message="too many widget sessions")
    visitor, visitor_id, verified = service.new_visitor(channel, body.visitor_id, body.identifier,
                                                        body.identifier_hash, body.name, body.email)
    await set_tenant(db, channel.tenant_id)
    conv = await repo.visitor_conversation(db, channel.tenant_id, channel.id, visitor.identities)
    messages = await repo.visible_messages(db, channel.tenant_id, conv.id) if conv is not None else []
    return VisitorSessionOut(visitor_id=visitor_id, token=hub.tokens.issue(visitor), identified=verified,
                      conversation_id=conv.id if conv is not None else None, config=channel.config(),
                      messages=[service.visitor_message(m, hub.tokens, hub.settings.base_url) for m in messages])


@router.get("/widget/{channel_id}/messages", response_model=VisitorMessages, openapi_extra=VISITOR_SECURITY)
async def list_messages(channel: CurrentChannel, visitor: CurrentVisitor, db: ReadDb, request: Request,
                        after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> VisitorMessages:
    """The visitor's conversation (the socket's fallback: poll with `after=<last id>`)."""
    hub = _hub(request)
    await set_tenant(db, channel.tenant_id)
    conv = await repo.visitor_conversation(db, channel.tenant_id, channel.id, visitor.identities)
    if conv is None:
        return VisitorMessages(conversation_id=None, messages=[])
    messages = await repo.visible_messages(db, channel.tenant_id, conv.id, after=after,
                                           limit=200 if after is not None else 50)
    # Polled: what this visitor now has in hand is delivered (the socket does the same when it pushes).
    fresh = [m.id for m in messages if m.direction == "outbound" and m.status == "sent"]
    if fresh:
        for mid in fresh:
            hub.delivered.setdefault(channel.tenant_id, {}).setdefault(conv.id, set()).add(mid)
        hub.wake_receipts()
    return VisitorMessages(conversation_id=conv.id, messages=[
        service.visitor_message(m, hub.tokens, hub.settings.base_url) for m in messages])


@router.post("/widget/{channel_id}/messages", response_model=VisitorMessageSent, status_code=202,
             openapi_extra=VISITOR_SECURITY)
async def send_message(body: VisitorMessageIn, channel: CurrentChannel, visitor: CurrentVisitor,
                       request: Request) -> VisitorMessageSent:
    """The visitor writes: stored through the inbound path like any channel's message (the same
    `client_id` again is stored once). 429 past the visitor's or the address's rate."""
    return await post_message(_hub(request), channel, visitor, body, _address(request))


@router.post("/widget/{channel_id}/read", status_code=204, openapi_extra=VISITOR_SECURITY)
async def read_up_to(body: VisitorReadIn, channel: CurrentChannel, visitor: CurrentVisitor, db: DbSession) -> Response:
    """The widget showed the visitor our messages up to `up_to`: they are `read`."""
    await set_tenant(db, channel.tenant_id)
    conv = await repo.visitor_conversation(db, channel.tenant_id, channel.id, visitor.identities)
    if conv is not None:
        await mark(db, channel.tenant_id, conv.id, "read", up_to=body.up_to)
    return Response(status_code=204)


@router.post("/widget/{channel_id}/typing", status_code=204, openapi_extra=VISITOR_SECURITY)
async def typing(body: TypingIn, channel: CurrentChannel, visitor: CurrentVisitor, db: ReadDb,
                 request: Request) -> Response:
    """The visitor is typing (shown to the team live; never stored)."""
    await set_tenant(db, channel.tenant_id)
    conv = await repo.visitor_conversation(db, channel.tenant_id, channel.id, visitor.identities)
    if conv is not None:
        await visitor_typing(_hub(request), channel.tenant_id, conv.id, body.on)
    return Response(status_code=204)


@router.post("/widget/{channel_id}/uploads", response_model=VisitorUploadOut, responses={
    413: {"description": "larger than 10 MB"},
    415: {"description": "not an image (JPEG, PNG, GIF, WebP) or a document (PDF, DOCX, XLSX, TXT, CSV) by content"}},
    openapi_extra={**VISITOR_SECURITY, "requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def upload(channel: CurrentChannel, visitor: CurrentVisitor, request: Request) -> VisitorUploadOut:
    """A file the visitor attaches (multipart field `file`), checked by its content, then sent with
    a message's `upload_ids`."""
    hub = _hub(request)
    await hub.limiter.check("20/minute", "widget-upload", visitor.key, message="too many files")
    async with receive_file(request, UPLOAD_MAX_BYTES, suffixes=(*IMAGE_EXTENSIONS, *DOCUMENT_EXTENSIONS)) as received:
        kind = await asyncio.to_thread(check_upload, received)
        name = f"w{visitor.key[:12]}_{int(time.time())}{secrets.token_hex(3)}_{clean_name(received.name)}"
        size = await hub.store.put(media_key(channel.tenant_id, name), received.chunks(), max_bytes=UPLOAD_MAX_BYTES)
    return VisitorUploadOut(upload_id=name, type=kind, filename=clean_name(received.name), size=size)


def check_upload(received: ReceivedFile) -> str:
    """`image` or `document`, when the bytes are what the name says; 415 otherwise. Reads the spool:
    run it in a thread."""
    suffix = Path(received.name).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        try:
            found = {m.extension for m in puremagic.magic_string(received.head)} if received.head else set()
        except puremagic.PureError:
            found = set()
        same = {".jpg": {".jpg", ".jpeg", ".jfif"}, ".jpeg": {".jpg", ".jpeg", ".jfif"}}.get(suffix, {suffix})
        if not found & same:
            raise UnsupportedType(f"the file is named {suffix} but its content is not that image")
        return "image"
    if suffix not in DOCUMENT_EXTENSIONS:
        raise UnsupportedType("images (JPEG, PNG, GIF, WebP) and documents (PDF, DOCX, XLSX, TXT, CSV) can be sent")
    check_content(received)
    return "document"


@router.get("/widget/files/{tenant_id}/{name}", response_class=Response, include_in_schema=False)
async def visitor_file(tenant_id: uuid.UUID, name: str, request: Request,
                       s: Annotated[str, Query(max_length=64)] = "") -> Response:
    """A file of a conversation, for its visitor: the address is signed when the widget is given
    the message, so no cookie or token is needed (an `<img>` can load it from any site)."""
    hub = _hub(request)
    if not secrets.compare_digest(s, hub.tokens.sign_file(tenant_id, name)):
        raise NotFound("no such file", code="media_not_found")
    stored = await hub.store.stat(media_key(tenant_id, name))
    if stored is None:
        raise NotFound("no such file", code="media_not_found")
    response = await stored_file_response(request, hub.store, stored)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# --- the panel's side: a person of the team is typing ---------------------------------------------

@router.post("/admin/conversations/{conversation_id}/typing", status_code=204, tags=["conversations"])
async def agent_typing(conversation_id: uuid.UUID, body: TypingIn, principal: CurrentPrincipal, db: ReadDb,
                       request: Request) -> Response:
    """Show the visitor of a web conversation that a person is typing (nothing for other channels:
    Messenger, Instagram and WhatsApp do not get the team's typing yet). The same state again goes
    out at most every 2 s, a change at once; the panel repeats "on" every 3 s while its agent types."""
    from tertulia.conversations.service import require_conversation

    conv = await require_conversation(db, principal.tenant_id, conversation_id)
    if conv.channel_source == "web":
        await publish_agent_typing(_hub(request), principal.tenant_id, conv.id, body.on, principal.user_name)
    return Response(status_code=204)


# --- the script and the demo ----------------------------------------------------------------------

@router.get("/widget/widget.js", include_in_schema=False)
async def widget_script() -> Response:
    path = WIDGET_DIST / "widget.js"
    if not path.is_file():
        return JSONResponse(error_body("not_found", "the widget is not built: run `make install`"), status_code=404)
    # Cached briefly (a new release reaches the sites within minutes), from any site.
    return FileResponse(path, media_type="text/javascript", headers={
        "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin"})


DEMO_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2937;background:#f8fafc}}
header{{background:#fff;border-bottom:1px solid #e5e7eb;padding:20px 32px}}main{{max-width:760px;margin:40px auto;
padding:0 24px}}h1{{margin:0;font-size:22px}}.card{{background:#fff;border:1px solid #e5e7eb;border-radius:12px;
padding:24px;margin-bottom:20px}}code{{background:#f1f5f9;padding:2px 6px;border-radius:4px;font-size:13px;
word-break:break-all}}</style></head>
<body><header><h1>{title}</h1></header><main>
<div class="card"><p>{intro}</p><p><code>{snippet}</code></p></div>
<div class="card"><p>{tip}</p></div></main>
{tag}
</body></html>"""


@router.get("/widget/demo/{channel_id}", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(channel_id: uuid.UUID, request: Request,
                    lang: Annotated[str, Query(pattern="^(es|en)$")] = "es") -> HTMLResponse:
    """A sample page with the channel's widget, as a business's site would show it."""
    channel = await _hub(request).channels.get(channel_id)
    tag = service.snippet(channel.id, str(request.base_url))
    words = {"es": ("Página de ejemplo", "Así se ve el chat en la web de tu negocio. Este es el código que pegas "
                    "en tus páginas:", "Abre el chat con el botón de abajo a la derecha."),
             "en": ("Sample page", "This is how the chat looks on your business's site. This is the tag you paste "
                    "into your pages:", "Open the chat with the button at the bottom right.")}[lang]
    return HTMLResponse(DEMO_PAGE.format(lang=lang, title=html.escape(f"{channel.name} · {words[0]}"),
                                         intro=words[1], snippet=html.escape(tag), tip=words[2], tag=tag),
                        headers={"Cache-Control": "no-store"})


class WidgetCors:
    """Cross-origin access to the visitor routes (`/widget/<channel>/...`) for the page that asks:
    whether that page may use the channel is each route's check (`Origin`), so the preflight
    only says which methods and headers exist. No credentials: the panel's cookies never go."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/widget/") or path.startswith(("/widget/demo/",
                                                                                          "/widget/files/")):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            await self.app(scope, receive, send)
            return
        allow = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            headers = [*allow, (b"access-control-allow-methods", b"GET, POST"),
                       (b"access-control-allow-headers", b"authorization, content-type"),
                       (b"access-control-max-age", b"600"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *allow]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


