from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from tertulia.conversations import repository as repo
from tertulia.conversations import service
from tertulia.conversations.media import media_key, media_url
from tertulia.conversations.schemas import (
    ChatSummary,
    ConversationAnswering,
    ConversationSendRequest,
    HumanOverrideRequest,
    HumanOverrideResult,
    HumanSend,
    InboxQuery,
    MessageOut,
    NoteCreate,
    OutboundAttachment,
    ReadResult,
    SendRequest,
    SendResult,
    UnreadCount,
)
from tertulia.kit.errors import Invalid
from tertulia.kit.file_responses import AppFileStore
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.pagination import decode_cursor, encode_cursor
from tertulia.kit.storage import FileStore
from tertulia.kit.types import AfterCursorId, OptionalCursorId
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentPrincipal, Principal

router = APIRouter(prefix="/admin", tags=["inbox"], route_class=JsonBodyRoute)

HUMAN_FILTER = {"all": None, "human_only": "human_override", "bot_only": "ai_active"}


async def _resolve_tag(db: ReadDb, tenant_id: uuid.UUID, tag: str) -> uuid.UUID | None:
    try:
        # An id needs no lookup: the list's tag filter only sees this tenant's tag links, so an
        # unknown id (or another tenant's) yields an empty list all the same.
        return uuid.UUID(tag)
    except ValueError:
        return await repo.tag_id_by_name(db, tenant_id, tag)


@router.get("/chats/summary", response_model=list[ChatSummary],
            responses={200: {"headers": {"X-Next-Cursor": {
                "description": "the cursor of the next page, when this one is full", "schema": {"type": "string"}}}}})
async def chats_summary(principal: CurrentPrincipal, db: ReadDb, query: Annotated[InboxQuery, Query()],
                        response: Response) -> list[ChatSummary]:
    """The inbox list, most recent first. Page with `offset` (seed 001) or, faster at depth, with
    the opaque `cursor` returned in the `X-Next-Cursor` header."""
    tag_id = None
    if query.tag:
        tag_id = await _resolve_tag(db, principal.tenant_id, query.tag)
        if tag_id is None:
            return []
    after = None
    if query.cursor:
        ts, cid = decode_cursor(query.cursor, 2)
        try:
            after = (datetime.fromisoformat(ts), uuid.UUID(cid))
        except (TypeError, ValueError) as exc:
            raise Invalid("the cursor is not one this server issued", code="invalid_cursor") from exc
    q = query.q.strip() if query.q else None
    rows = await repo.list_inbox(db, principal.tenant_id, repo.InboxFilters(
        ai_state=HUMAN_FILTER[query.human_filter], channel_source=query.channel, status=query.status, tag_id=tag_id,
        q=q, after=after, limit=query.limit, offset=0 if after else query.offset))
    if len(rows) == query.limit:
        last = rows[-1].row
        response.headers["X-Next-Cursor"] = encode_cursor(last.last_message_at.isoformat(), str(last.id))
    summaries = [service.summary_of(r.row, r.row.display_name, r.row.phone, r.row.platform_origin, r.tags)
                 for r in rows]
    if q:
        await service.explain_matches(db, principal.tenant_id, q, summaries)
    return summaries


@router.get("/chats/unread", response_model=UnreadCount)
async def chats_unread(principal: CurrentPrincipal, db: ReadDb) -> UnreadCount:
    """How many conversations have unread messages (the tab's title shows it), and how many messages."""
    conversations, messages = await repo.unread_count(db, principal.tenant_id)
    return UnreadCount(conversations=conversations, messages=messages)


@router.get("/chats/{conversation_id}/answering", response_model=ConversationAnswering)
async def chat_answering(conversation_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb) -> ConversationAnswering:
    """Whether an assistant answers this conversation (an enabled one linked to its channel) and
    whether its channel can deliver (paused on refused credentials, retrying a failed send)."""
    conv = await service.require_conversation(db, principal.tenant_id, conversation_id)
    return await service.answering(db, conv)


@router.get("/chats/{conversation_id}", response_model=ChatSummary)
async def get_chat(conversation_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb) -> ChatSummary:
    conv = await service.require_conversation(db, principal.tenant_id, conversation_id)
    return await service.conversation_summary(db, conv)


@router.get("/chats/{conversation_id}/messages", response_model=list[MessageOut])
async def list_messages(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb,
    after_id: AfterCursorId = None, before_id: OptionalCursorId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[MessageOut]:
    """Oldest first. `after_id` returns only newer messages (delta sync; 0 for all of them, up to `limit`);
    `before_id` pages back."""
    await service.require_conversation(db, principal.tenant_id, conversation_id)
    if after_id is not None and before_id is not None:
        raise Invalid("use after_id or before_id, not both", code="invalid_paging")
    messages = await repo.list_messages(db, principal.tenant_id, conversation_id, after_id=after_id,
                                        before_id=before_id, limit=limit)
    names = await service.author_names(db, messages)
    return [service.message_out(m, names) for m in messages]


@router.post("/chats/{conversation_id}/read", response_model=ReadResult)
async def mark_read(conversation_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession) -> ReadResult:
    conv = await service.mark_read(db, principal.tenant_id, conversation_id)
    return ReadResult(conversation_id=conv.id, unread_count=conv.unread_count)


async def _attachment(store: FileStore, tenant_id: uuid.UUID, attachment: OutboundAttachment) -> dict[str, Any]:
    """What the message keeps of a file to send: an uploaded one (`media_id`) by its url, with its
    type and size from the store (it must be there)."""
    found = attachment.model_dump(exclude_none=True, exclude={"media_id"})
    if attachment.media_id is not None:
        stored = await store.stat(media_key(tenant_id, attachment.media_id))
        if stored is None:
            raise Invalid("no uploaded file has that media_id", code="attachment_not_found")
        found.update(url=media_url(tenant_id, attachment.media_id), size=stored.size)
        found.setdefault("mime_type", stored.content_type)
    return found


async def _send(db: DbSession, store: FileStore, principal: Principal, conversation_id: uuid.UUID, body: HumanSend,
                channel_source: str | None) -> SendResult:
    attachments = [await _attachment(store, principal.tenant_id, a) for a in body.attachments]
    conv, msg = await service.send_human_message(
        db, principal.tenant_id, conversation_id, principal.user_id, body.message, channel_source,
        attachments=attachments, reply_to_id=body.reply_to_id)
    names = await service.author_names(db, [msg])
    return SendResult(status="queued", conversation_id=conv.id, message_id=msg.id, is_locked=conv.is_locked,
                      message=service.message_out(msg, names))


@router.post("/whatsapp/send", response_model=SendResult, status_code=202)
async def unified_send(body: SendRequest, principal: CurrentPrincipal, db: DbSession,
                       store: AppFileStore) -> SendResult:
    """The unified outbox (seed 001): queue a human message on the conversation's channel. A human
    who writes takes over from the AI, so the conversation comes back with `is_locked: true`. On
    WhatsApp, more than 24 hours after the customer last wrote, it is refused with 409
    `window_closed` naming the approved templates that can be sent instead."""
    return await _send(db, store, principal, body.conversation_id, body, body.channel_source)


@router.post("/chats/{conversation_id}/messages", response_model=SendResult, status_code=202)
async def send_in_chat(conversation_id: uuid.UUID, body: ConversationSendRequest, principal: CurrentPrincipal,
                       db: DbSession, store: AppFileStore) -> SendResult:
    """A person's message in the conversation (as `/whatsapp/send`): text, and optionally one file, by
    the `media_id` of `POST /admin/media` or by url."""
    return await _send(db, store, principal, conversation_id, body, None)


@router.post("/chats/{conversation_id}/notes", response_model=MessageOut, status_code=201)
async def add_note(conversation_id: uuid.UUID, body: NoteCreate, principal: CurrentPrincipal,
                   db: DbSession) -> MessageOut:
    """A private note for the team (`kind: note`): shown in the conversation and live to other agents,
    never delivered on any channel, never read by the AI, and not a reply (the AI keeps control)."""
    msg = await service.add_note(db, principal.tenant_id, conversation_id, principal.user_id, body.content)
    return service.message_out(msg, await service.author_names(db, [msg]))


@router.post("/conversations/{conversation_id}/human-override", response_model=HumanOverrideResult)
async def human_override(conversation_id: uuid.UUID, body: HumanOverrideRequest, principal: CurrentPrincipal,
                         db: DbSession) -> HumanOverrideResult:
    """Lock (a human has control; the AI sends nothing) or unlock (the AI answers again)."""
    conv = await service.set_human_override(db, principal.tenant_id, conversation_id, body.locked)
    return HumanOverrideResult(locked=conv.is_locked)
