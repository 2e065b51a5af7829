"""`POST /admin/media`: a file a person attaches in the composer, stored for a send.

The body streams in (webchat/uploads.py's `receive_file`: spooled, only its first bytes in memory)
and is refused with 413 past the largest of WhatsApp's limits before anything is stored; the kind
is told by the bytes (media_fetch.py's `family_of`, the same checks a customer's file passes), then
that kind's limit applies. The file lands where every attachment lives (`media/<tenant>/<name>`,
served at `/media/...`), streamed from the spool in pieces, so a 100 MB document costs a few MB of
memory, not 100; a send takes it by `media_id`: the delivery worker uploads it to the provider as
any file of ours.
"""

from __future__ import annotations

import secrets
from typing import Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tertulia.channels.media import MediaUnavailable
from tertulia.conversations.media import media_key, media_url
from tertulia.conversations.media_fetch import HEAD_BYTES, LIMITS, family_of, stored_extension
from tertulia.kit.errors import TertuliaError
from tertulia.kit.storage import FileStore, content_type_of
from tertulia.tenancy.auth import check_credentials_apart
from tertulia.webchat.uploads import UnsupportedType, clean_name, receive_file

log = structlog.get_logger("tertulia.conversations.media_uploads")
router = APIRouter(tags=["media"])


Kind = Literal["image", "video", "audio", "document"]


class MediaOut(BaseModel):
    """A file stored for sending: attach it to a send as `{"type": <type>, "media_id": <id>}` (or by
    its `url`)."""

    id: str = Field(description="the stored file's name, what a send's attachment takes as `media_id`")
    url: str
    type: Kind
    filename: str
    mime_type: str
    size: int


def kind_of_upload(family: str | None, claimed_type: str, filename: str) -> Kind:
    """What a file is sent as, by its bytes (`family_of`): WhatsApp takes JPEG and PNG images, MP4
    (and 3GP) videos, the usual voice and music formats as audio, and documents of the kinds a business
    sends (PDF, Office, text). UnsupportedType for anything else, whatever its name says."""
    audio_claim = claimed_type.startswith("audio/") or filename.lower().endswith((".m4a", ".aac", ".opus"))
    if family in ("png", "jpeg"):
        return "image"
    if family == "mp4":
        return "audio" if audio_claim else "video"
    if family in ("ogg", "mp3", "aac", "amr"):
        return "audio"
    if family in ("pdf", "zip", "ole", "text"):
        return "document"
    raise UnsupportedType("only JPEG or PNG images, MP4 videos, audio (ogg, mp3, aac, amr, m4a) and documents "
                          "(PDF, Office, text) can be sent")


@router.post("/admin/media", response_model=MediaOut, status_code=201, responses={
    413: {"description": "larger than WhatsApp allows for its kind (`media_too_large`: images 5 MB, video and "
                         "audio 16 MB, documents 100 MB)"},
    415: {"description": "a kind of file no channel can send (`unsupported_media_type`), told by its content"},
    401: {"description": "no valid session or API token"}, 403: {"description": "a wrong X-CSRF-Token"}},
    openapi_extra={"security": [{"session": [], "csrf": []}, {"apiToken": []}],
                   "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                       "type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def upload_media(request: Request) -> MediaOut:
    """A file to send from the composer (multipart field `file`). Its kind comes from its bytes, never
    from its name or the type the browser claims; WhatsApp's limit for that kind applies. Stored as
    `media/<tenant>/<random>.<extension of its real type>`; the answer's `id` goes in a send's
    attachment as `media_id`."""
    principal = await check_credentials_apart(request)
    store: FileStore = request.app.state.store
    async with receive_file(request, max(LIMITS.values()), suffixes=None) as received:
        filename = clean_name(received.name)
        head = received.head[:HEAD_BYTES]
        claimed = content_type_of(filename)
        kind = kind_of_upload(family_of(head) if head else None, claimed, filename)
        if received.size > LIMITS[kind]:
            limit_mb = LIMITS[kind] // (1024 * 1024)
            raise TertuliaError(f"the file is larger than WhatsApp allows for a {kind} ({limit_mb} MB)",
                                code="media_too_large", status_code=413)
        try:
            extension = stored_extension(kind, head, claimed, filename)
        except MediaUnavailable as exc:
            raise UnsupportedType(exc.message) from exc
        name = f"{secrets.token_hex(16)}.{extension}"
        size = await store.put(media_key(principal.tenant_id, name), received.chunks(), max_bytes=LIMITS[kind])
    log.info("media_upload", action="media_upload", kind=kind, size=size, stored_name=name,
             tenant_id=str(principal.tenant_id))
    return MediaOut(id=name, url=media_url(principal.tenant_id, name), type=kind,
                    filename=filename, mime_type=content_type_of(name), size=size)
