"""The media worker: copies the files customers send from the provider to our file store.

A webhook names a customer's picture, voice note or document by the provider's media id, which
expires (WhatsApp: about seven days). The inbound path stores the message with the attachment
`status: pending` and queues a `media_fetches` row; this worker (inside `serve`, or in `tertulia
worker` processes) claims due rows across tenants under a lease, downloads the file through the
provider's API with the channel's credentials (`channels/<kind>/media.py`), checks its size against
WhatsApp's limit for its kind and its type by its bytes (never by what the provider or the file
name claim), streams it into the store as `media/<tenant>/<random name>.<extension of its real
type>`, and sets the attachment `status: ready` with its url, type and size (a `message.updated`
event). A failure is retried with backoff and jitter; a file that cannot be had (expired, too
large, not what it claimed to be) or still fails after the retries leaves the attachment `status:
failed` with the reason (`error_code`, which the panel says in words, and `error` in English).
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import random
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

import httpx2
import puremagic
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import repository as channels_repo
from tertulia.channels.credentials import credentials_of
from tertulia.channels.media import MediaUnavailable, ProviderFile, unavailable
from tertulia.channels.models import Channel
from tertulia.channels.providers import provider
from tertulia.config import Settings
from tertulia.conversations import repository as repo
from tertulia.conversations.inbound import StoredMessage
from tertulia.conversations.media import media_key, media_url
from tertulia.conversations.repository import ClaimedFetch
from tertulia.conversations.service import emit_message_updated
from tertulia.kit.background import ClaimingWorker
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, after_commit, utcnow
from tertulia.kit.egress import trusted_client
from tertulia.kit.storage import FileStore, FileTooLarge, content_type_of

log = structlog.get_logger("tertulia.conversations.media_fetch")

CLAIMS_CROSS_TENANTS = "a worker claims due media fetches of every tenant"
MB = 1024 * 1024
# WhatsApp's limits per kind of file (Meta's "supported media types"; animated stickers 500 KB).
LIMITS = {"image": 5 * MB, "sticker": 500 * 1024, "audio": 16 * MB, "video": 16 * MB, "document": 100 * MB}
# Waits between attempts (each with ±20 % jitter): about five hours in all, well inside the
# week a webhook's media id lives, so an outage of the provider or the store is ridden out.
RETRY_DELAYS: tuple[float, ...] = (15, 60, 300, 1800, 3600, 3 * 3600)
HEAD_BYTES = 8192  # what the type is told by


# --- what a file is, by its bytes -------------------------------------------------------------------
# puremagic names candidates by extension; these are the families we recognise (an ISO media file
# is one family whatever its brand: mp4, m4a, 3gp, mov; Office Open XML and zip files are told apart
# only by their members, so by the claim; so are the old Office formats).
_FAMILY_OF_EXTENSION = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jfif": "jpeg", ".jpe": "jpeg", ".webp": "webp", ".gif": "gif",
    ".mp4": "mp4", ".m4a": "mp4", ".f4a": "mp4", ".m4v": "mp4", ".3gp": "mp4", ".3ga": "mp4", ".3g2": "mp4",
    ".mov": "mp4", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg", ".mp3": "mp3", ".aac": "aac", ".amr": "amr",
    ".wav": "wav", ".webm": "webm", ".pdf": "pdf", ".docx": "zip", ".xlsx": "zip", ".pptx": "zip", ".zip": "zip",
    ".doc": "ole", ".xls": "ole", ".ppt": "ole",
}
# What each kind of attachment may be.
_ALLOWED = {
    "image": {"png", "jpeg", "webp", "gif"},
    "sticker": {"webp", "png"},
    "video": {"mp4", "webm"},
    "audio": {"ogg", "mp3", "aac", "amr", "mp4", "wav", "webm"},
}
_EXTENSION = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif", "ogg": "ogg", "mp3": "mp3", "aac": "aac",
              "amr": "amr", "wav": "wav", "webm": "webm", "pdf": "pdf", "text": "txt"}
# The family a provider's claimed type belongs to (for documents: a claim we can check).
_FAMILY_OF_TYPE = {
    "image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif", "application/pdf": "pdf",
    "text/plain": "text", "text/csv": "text", "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "zip",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "zip",
    "application/msword": "ole", "application/vnd.ms-excel": "ole", "application/vnd.ms-powerpoint": "ole",
    "video/mp4": "mp4", "video/3gpp": "mp4", "audio/mp4": "mp4", "audio/ogg": "ogg", "audio/mpeg": "mp3",
    "audio/aac": "aac", "audio/amr": "amr",
}
_NAMED_BY_CLAIM = {"zip": ("docx", "xlsx", "pptx", "zip"), "ole": ("doc", "xls", "ppt")}
_WORDS = {"png": "a PNG image", "jpeg": "a JPEG image", "webp": "a WebP image", "gif": "a GIF image",
          "mp4": "an MP4 file", "ogg": "an Ogg audio", "mp3": "an MP3 audio", "aac": "an AAC audio",
          "amr": "an AMR audio", "wav": "a WAV audio", "webm": "a WebM file", "pdf": "a PDF",
          "zip": "a zip or Office file", "ole": "an old Office file", "text": "text", None: "an unknown kind of file"}


def wrong_type(message: str) -> MediaUnavailable:
    return MediaUnavailable(message, code="media_wrong_type", retry=False)


def too_large(kind: str, limit: int) -> MediaUnavailable:
    return MediaUnavailable(f"the file is larger than WhatsApp allows for a {kind} ({limit // 1024:,} KB)",
                            code="media_too_large", retry=False)


def family_of(head: bytes) -> str | None:
    """What the first bytes of a file say it is: a family above, `text` (UTF-8 without NULs), or
    None (nothing we recognise)."""
    try:
        candidates = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        candidates = []
    for candidate in candidates:
        family = _FAMILY_OF_EXTENSION.get(candidate.extension.lower())
        if family is not None:
            return family
    if b"\x00" in head:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character may be cut at the end
    except UnicodeDecodeError:
        return None
    return "text"


def kind_of(attachment: dict[str, Any]) -> str:
    """image, sticker, audio, video or document."""
    kind = str(attachment.get("type") or "document")
    if kind == "image" and attachment.get("sticker"):
        return "sticker"
    return kind if kind in LIMITS else "document"


def stored_extension(kind: str, head: bytes, claimed_type: str | None, filename: str | None) -> str:
    """The extension to store the file under (which decides the type it is served as), from its
    bytes. MediaUnavailable (`media_wrong_type`) when the bytes are not what the kind must be, or
    a document's bytes contradict the type the provider claimed."""
    if not head:
        raise wrong_type("the file is empty")
    family = family_of(head)
    if kind in _ALLOWED:
        if family not in _ALLOWED[kind]:
            raise wrong_type(f"the {kind} is {_WORDS.get(family, 'another kind of file')}, not {kind} content")
        if family == "mp4":
            return "m4a" if kind == "audio" else "mp4"
        return _EXTENSION[family]
    claim = (claimed_type or "").split(";")[0].strip().lower()
    claimed_family = _FAMILY_OF_TYPE.get(claim)
    if claimed_family is not None and family != claimed_family:
        raise wrong_type(f"the document claims to be {claim} but is {_WORDS.get(family, 'another kind of file')}")
    suffix = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    if family in _NAMED_BY_CLAIM:
        named = {content_type_of(f"x.{ext}"): ext for ext in _NAMED_BY_CLAIM[family]}
        if claim in named:
            return named[claim]
        return suffix if suffix in _NAMED_BY_CLAIM[family] else ("zip" if family == "zip" else "bin")
    if family == "text":
        return "csv" if suffix == "csv" else "txt"
    if family == "mp4":
        return "mp4"
    return _EXTENSION.get(family or "", "bin")


async def _head_and_rest(chunks: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    head = b""
    while len(head) < HEAD_BYTES:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            break
    return head, chunks


# --- the worker -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Copied:
    """A file now in our store: what the attachment says of it."""

    key: str
    url: str
    mime_type: str
    size: int


class MediaWorker(ClaimingWorker):
    """Claims due media fetches (across tenants) and copies their files, a few at a time."""

    label = "media_worker"
    min_wait = 0.05

    def __init__(self, db: Database, secret_box: SecretBox, store: FileStore, settings: Settings, *,
                 concurrency: int = 4, poll_seconds: float = 1.0, lease_seconds: float = 360.0,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        super().__init__(log, concurrency=concurrency, poll_seconds=poll_seconds)
        self.db = db
        self.secret_box = secret_box
        self.store = store
        self.settings = settings
        self.lease_seconds = lease_seconds
        self.retry_delays = tuple(retry_delays)
        self._client: httpx2.AsyncClient | None = None

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            # Provider URLs are the operator's settings (kit/egress.py); a download ends within the lease.
            self._client = trusted_client(timeout=60.0, total_timeout=self.lease_seconds - 60,
                                          max_response_bytes=max(LIMITS.values()) + 1)
        return self._client

    async def _claim(self, free: int, hinted: bool) -> tuple[int, datetime | None]:
        now = utcnow()
        async with self.db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            claims = await repo.claim_media_fetches(session, now, now + timedelta(seconds=self.lease_seconds), free)
        for claim in claims:
            self._start(self.fetch(claim), f"media-fetch-{claim.id}")
        return len(claims), None if len(claims) == free else await self._next_due()

    def _done(self, task: asyncio.Task[Any]) -> None:
        super()._done(task)
        self._wake.set()  # a fetch that failed may have queued its retry: look at when it is due

    async def _next_due(self) -> datetime | None:
        async with self.db.read_session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            return await repo.next_media_fetch_at(session)

    async def stop(self, grace: float = 0.0) -> None:
        await super().stop(grace)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- one file ---------------------------------------------------------------------------------
    async def fetch(self, claim: ClaimedFetch) -> None:
        """Copy one file, then say on the message what came of it."""
        async with self.db.read_session(claim.tenant_id) as session:
            channel = await channels_repo.get_channel(session, claim.tenant_id, claim.channel_id)
            message = await repo.get_message(session, claim.tenant_id, claim.message_id)
        attachments = message.attachments if message is not None else []
        attachment = attachments[claim.position] if claim.position < len(attachments) else None
        if channel is None or attachment is None or attachment.get("status") != "pending":
            await self._end(claim, None, None)  # nothing (left) to fetch
            return
        try:
            copied = await self._copy(channel, attachment, claim)
        except MediaUnavailable as exc:
            await self._failed(claim, exc)
        except asyncio.CancelledError:
            raise  # stopping: the lease runs out and another worker (or this one, later) retries
        except Exception as exc:  # the store, or a bug: retried like a provider's failure
            log.exception("media_fetch_error", fetch=claim.id, tenant=str(claim.tenant_id))
            await self._failed(claim, unavailable(f"the file could not be copied: {type(exc).__name__}"))
        else:
            await self._end(claim, copied, None)

    def _open(self, channel: Channel, reference: str) -> AbstractAsyncContextManager[ProviderFile]:
        kind = provider(channel.kind)
        if kind.open_media is not None and kind.credentials is not None:
            credentials = credentials_of(channel, self.secret_box, kind.credentials)
            return kind.open_media(self.client(), self.settings, credentials, reference)
        raise MediaUnavailable(f"files of {channel.kind} channels are not fetched", code="media_unavailable",
                               retry=False)

    async def _copy(self, channel: Channel, attachment: dict[str, Any], claim: ClaimedFetch) -> Copied:
        kind = kind_of(attachment)
        limit = LIMITS[kind]
        async with self._open(channel, claim.provider_media_id) as file:
            if file.claimed_size is not None and file.claimed_size > limit:
                raise too_large(kind, limit)
            head, rest = await _head_and_rest(file.chunks)
            extension = stored_extension(kind, head, file.claimed_type or attachment.get("mime_type"),
                                         attachment.get("filename"))
            name = f"{secrets.token_hex(16)}.{extension}"
            key = media_key(claim.tenant_id, name)
            digest = hashlib.sha256(head)

            async def body() -> AsyncIterator[bytes]:
                yield head
                async for chunk in rest:
                    digest.update(chunk)
                    yield chunk

            try:
                size = await self.store.put(key, body(), max_bytes=limit)
            except FileTooLarge as exc:
                raise too_large(kind, limit) from exc
        if file.sha256 and digest.hexdigest() != file.sha256:
            await self.store.delete(key)
            raise unavailable("the file arrived damaged (its SHA-256 is not the provider's)")
        return Copied(key, media_url(claim.tenant_id, name), content_type_of(name), size)

    async def _failed(self, claim: ClaimedFetch, exc: MediaUnavailable) -> None:
        if exc.retry and claim.attempts < self.max_attempts:
            delay = self.retry_delays[claim.attempts - 1] * random.uniform(0.8, 1.2)
            log.info("media_fetch_retry", fetch=claim.id, attempt=claim.attempts, code=exc.code, error=exc.message,
                     retry_in=round(delay, 2))
            async with self.db.session(claim.tenant_id) as session:
                await repo.retry_media_fetch(session, claim, utcnow() + timedelta(seconds=delay), exc.message)
            return
        log.info("media_fetch_failed", fetch=claim.id, attempts=claim.attempts, code=exc.code, error=exc.message)
        await self._end(claim, None, exc)

    async def _end(self, claim: ClaimedFetch, copied: Copied | None, failure: MediaUnavailable | None) -> None:
        """Close the fetch and say on the attachment what came of it, in one transaction; a worker
        that lost its lease meanwhile (another took the fetch over) writes nothing."""
        async with self.db.session(claim.tenant_id) as session:
            message = await repo.lock_message(session, claim.tenant_id, claim.message_id)
            ended = await repo.end_media_fetch(session, claim, failure.message if failure else None)
            if ended and message is not None and (copied or failure):
                # A new list: the loaded one stays as it was, so the change is seen and written.
                message.attachments = _settled(message.attachments, claim.position, copied, failure)
                message.updated_at = utcnow()
                await emit_message_updated(session, message)
        if copied is not None and not ended:
            await self.store.delete(copied.key)


def _settled(attachments: list[dict[str, Any]], position: int, copied: Copied | None,
             failure: MediaUnavailable | None) -> list[dict[str, Any]]:
    """The message's attachments with this one ready (or failed, with its reason)."""
    attachments = list(attachments)
    if position >= len(attachments):
        return attachments
    attachment = dict(attachments[position])
    if copied is not None:
        attachment.update(status="ready", url=copied.url, mime_type=copied.mime_type, size=copied.size)
        attachment.pop("error", None)
        attachment.pop("error_code", None)
    elif failure is not None:
        attachment.update(status="failed", error=failure.message[:500], error_code=failure.code)
    attachments[position] = attachment
    return attachments


async def announce_fetches(session: AsyncSession, stored: Sequence[StoredMessage], *,
                           wake: Callable[[], None] | None = None) -> None:
    """After-store hook of the inbound path (app.py): files were queued, so the worker of this
    process looks once they are committed (other processes' workers find them by polling)."""
    if wake is None or not any(a.get("status") == "pending" for s in stored for a in s.message.attachments or []):
        return
    notify = wake

    async def wake_worker() -> None:
        notify()

    after_commit(session, wake_worker)

