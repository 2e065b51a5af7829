"""Files customers send on WhatsApp (Cloud API and YCloud) are copied to our store by the media
worker, against the provider sandbox's media endpoints: every kind, the provider's failures and
retries, expired media, files that are not what they claim or are too large, a worker that dies
mid-fetch. What the panel sees is asserted: the attachment's status, url, type, size and reason,
the file served to the tenant, and the `message.updated` event."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from tertulia.conversations import repository as repo
from tertulia.conversations.media_fetch import CLAIMS_CROSS_TENANTS, MediaWorker
from tertulia.kit.db import Database, utcnow
from tertulia.sandbox.samples import sample
from tertulia.sandbox.server import SandboxServer
from tertulia.sandbox.state import FailureRule
from tests.media.conftest import customer_sends, place_file, settled

PROVIDERS = ["whatsapp_cloud", "ycloud"]
# kind -> (the webhook's attachment, the sample file, the stored extension and served type)
KINDS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "image": ({"type": "image", "mime_type": "image/png", "caption": "¿Tienen este?"}, "image", "png", "image/png"),
    "sticker": ({"type": "image", "sticker": True, "mime_type": "image/webp"}, "sticker", "webp", "image/webp"),
    "voice": ({"type": "audio", "voice": True, "mime_type": "audio/ogg; codecs=opus"}, "audio", "ogg", "audio/ogg"),
    "video": ({"type": "video", "mime_type": "video/mp4"}, "video", "mp4", "video/mp4"),
    "document": ({"type": "document", "mime_type": "application/pdf", "filename": "presupuesto.pdf"}, "document",
                 "pdf", "application/pdf"),
}


def provider_requests(sandbox: SandboxServer) -> list[tuple[str, str, int]]:
    with sandbox.state.lock:
        return [(r["method"], r["path"], r["status"]) for r in sandbox.state.requests]


async def updated_events(client: httpx2.AsyncClient, t: Any, message_id: int) -> list[dict[str, Any]]:
    r = await client.get("/admin/events", params={"after": 0}, headers=t.headers)
    assert r.status_code == 200
    return [e["data"] for e in r.json() if e["type"] == "message.updated" and e["data"]["id"] == message_id]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_kind_of_file_is_copied_checked_and_served(
        kind: str, provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    attachment, sample_kind, extension, served = KINDS[kind]
    data, mime, filename = sample(sample_kind)
    media_id = place_file(sandbox, line, data, mime, filename)
    conversation, message_id = await customer_sends(app, line, {**attachment, "provider_media_id": media_id})

    message = await settled(client, t, conversation, message_id)
    got = message["attachments"][0]
    assert got["status"] == "ready", got
    assert got["url"].startswith(f"/media/{t.id}/") and got["url"].endswith(f".{extension}")
    assert got["mime_type"] == served and got["size"] == len(data)
    assert "error" not in got and "error_code" not in got
    kept = {k: v for k, v in attachment.items() if k != "mime_type"}
    assert {k: got[k] for k in kept} == kept  # caption, voice, sticker, file name kept; the type is ours

    # The panel plays or downloads it from our store: the same bytes, as the type they are.
    r = await client.get(got["url"], headers=t.headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == served
    # ...and heard of it live.
    events = await updated_events(client, t, message_id)
    assert events and events[-1]["attachments"][0]["status"] == "ready"

    # Fetched as each provider documents it, with the channel's own credentials.
    calls = provider_requests(sandbox)
    if provider == "whatsapp_cloud":
        assert calls == [("GET", f"/{sandbox.sandbox.config.graph_version}/{media_id}", 200),
                         ("GET", "/whatsapp_business/attachments/", 200)]
    else:
        assert calls == [("GET", f"/v2/whatsapp/media/download/{media_id}", 200)]


async def test_a_message_with_several_files_gets_each_one(app: Any, client: httpx2.AsyncClient, make_tenant: Any,
                                                          connect: Any, sandbox: SandboxServer,
                                                          media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, "whatsapp_cloud")
    png, _, _ = sample("image")
    pdf, _, _ = sample("document")
    first = place_file(sandbox, line, png, "image/png")
    second = place_file(sandbox, line, pdf, "application/pdf", "menu.pdf")
    conversation, message_id = await customer_sends(
        app, line, {"type": "image", "provider_media_id": first},
        {"type": "document", "provider_media_id": second, "filename": "menu.pdf"})
    message = await settled(client, t, conversation, message_id)
    assert [(a["status"], a["url"].rsplit(".", 1)[1]) for a in message["attachments"]] == [("ready", "png"),
                                                                                          ("ready", "pdf")]
    assert message["attachments"][1]["filename"] == "menu.pdf"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_provider_failures_are_retried_until_the_file_arrives(
        provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    data, mime, _ = sample("image")
    media_id = place_file(sandbox, line, data, mime)
    # A 5xx, a 503 and a connection cut before any answer: three attempts fail, the fourth works.
    for kind in ("5xx", "503", "drop"):
        sandbox.state.rules.append(_rule(kind, line.key))
    conversation, message_id = await customer_sends(app, line, {"type": "image", "provider_media_id": media_id})
    message = await settled(client, t, conversation, message_id)
    assert message["attachments"][0]["status"] == "ready"
    r = await client.get(message["attachments"][0]["url"], headers=t.headers)
    assert r.content == data
    failed = [c for c in provider_requests(sandbox) if c[2] != 200]
    assert len(failed) >= 2  # (the cut connection answers nothing the sandbox can log)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_after_the_retries_the_panel_says_the_file_could_not_be_had(
        provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    data, mime, _ = sample("audio")
    media_id = place_file(sandbox, line, data, mime)
    sandbox.state.rules.append(_rule("5xx", line.key, times=100))
    conversation, message_id = await customer_sends(app, line, {"type": "audio", "voice": True,
                                                                "provider_media_id": media_id})
    message = await settled(client, t, conversation, message_id)
    got = message["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_unavailable"
    assert "url" not in got
    attempts = len([c for c in provider_requests(sandbox) if c[2] >= 500])
    assert attempts == media_worker.max_attempts  # one look-up or download per attempt, then no more
    events = await updated_events(client, t, message_id)
    assert events[-1]["attachments"][0]["status"] == "failed"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_expired_media_fails_at_once_with_its_reason(
        provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    data, mime, _ = sample("image")
    media_id = place_file(sandbox, line, data, mime)
    with sandbox.state.lock:
        del sandbox.state.media[media_id]  # the provider dropped it (Meta: after about seven days)
    conversation, message_id = await customer_sends(app, line, {"type": "image", "provider_media_id": media_id})
    message = await settled(client, t, conversation, message_id)
    got = message["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_expired"
    assert "expired" in got["error"]
    assert len(provider_requests(sandbox)) == 1  # no point asking again


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_file_that_is_not_what_it_claims_is_refused(
        provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    pdf, _, _ = sample("document")
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    # A "photo" that is a PDF, and a "PDF" that is a web page.
    photo = place_file(sandbox, line, pdf, "image/jpeg")
    document = place_file(sandbox, line, html, "application/pdf", "factura.pdf")
    conversation, message_id = await customer_sends(
        app, line, {"type": "image", "mime_type": "image/jpeg", "provider_media_id": photo},
        {"type": "document", "mime_type": "application/pdf", "filename": "factura.pdf", "provider_media_id": document})
    message = await settled(client, t, conversation, message_id)
    assert [(a["status"], a["error_code"]) for a in message["attachments"]] == [
        ("failed", "media_wrong_type"), ("failed", "media_wrong_type")]
    assert "not image content" in message["attachments"][0]["error"]
    assert "claims to be application/pdf" in message["attachments"][1]["error"]
    assert await app.state.store.list(f"media/{t.id}") == []  # nothing kept


async def test_an_unknown_document_is_kept_as_a_download(app: Any, client: httpx2.AsyncClient, make_tenant: Any,
                                                          connect: Any, sandbox: SandboxServer,
                                                          media_worker: MediaWorker) -> None:
    """What no claim and no magic number says is kept, as a plain download that never runs."""
    t = await make_tenant("media")
    line = await connect(t, "whatsapp_cloud")
    blob = bytes([0, 1, 2, 3, 250, 251]) * 100
    text = "nombre,cantidad\nCafé de olla,3\n".encode()
    unknown = place_file(sandbox, line, blob, "application/octet-stream", "datos.dat")
    sheet = place_file(sandbox, line, text, "text/csv", "pedido.csv")
    conversation, message_id = await customer_sends(
        app, line, {"type": "document", "filename": "datos.dat", "provider_media_id": unknown},
        {"type": "document", "filename": "pedido.csv", "provider_media_id": sheet}, kind="document")
    message = await settled(client, t, conversation, message_id)
    first, second = message["attachments"]
    assert first["status"] == "ready" and first["url"].endswith(".bin")
    r = await client.get(first["url"], headers=t.headers)
    assert r.headers["content-type"] == "application/octet-stream" and r.content == blob
    assert r.headers["content-disposition"].startswith("attachment")
    assert second["status"] == "ready" and second["url"].endswith(".csv") and second["filename"] == "pedido.csv"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_file_larger_than_whatsapp_allows_is_refused(
        provider: str, app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any,
        sandbox: SandboxServer, media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, provider)
    webp, _, _ = sample("sticker")
    big = webp + b"\x00" * (500 * 1024)  # a sticker over WhatsApp's 500 KB
    media_id = place_file(sandbox, line, big, "image/webp")
    conversation, message_id = await customer_sends(app, line, {"type": "image", "sticker": True,
                                                                "provider_media_id": media_id})
    message = await settled(client, t, conversation, message_id)
    got = message["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_too_large"
    assert "500 KB" in got["error"]


async def test_refused_credentials_are_retried_then_said(app: Any, client: httpx2.AsyncClient, make_tenant: Any,
                                                         connect: Any, sandbox: SandboxServer,
                                                         media_worker: MediaWorker) -> None:
    t = await make_tenant("media")
    line = await connect(t, "whatsapp_cloud")
    data, mime, _ = sample("image")
    media_id = place_file(sandbox, line, data, mime)
    sandbox.state.channel(line.key).access_token = "EAAG-revoked-" + uuid.uuid4().hex  # the owner rotated it
    conversation, message_id = await customer_sends(app, line, {"type": "image", "provider_media_id": media_id})
    message = await settled(client, t, conversation, message_id)
    got = message["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_credentials_refused"
    assert len(provider_requests(sandbox)) == media_worker.max_attempts


async def test_ycloud_media_is_fetched_from_the_configured_api_only(
        app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any, sandbox: SandboxServer,
        media_worker: MediaWorker) -> None:
    """A webhook's link is not followed as given: the API key goes only to TERTULIA_YCLOUD_API_URL."""
    t = await make_tenant("media")
    line = await connect(t, "ycloud")
    data, mime, _ = sample("image")
    media_id = place_file(sandbox, line, data, mime)
    link = f"https://collector.example/v2/whatsapp/media/download/{media_id}"
    conversation, message_id = await customer_sends(app, line, {"type": "image", "provider_media_id": link})
    message = await settled(client, t, conversation, message_id)
    assert message["attachments"][0]["status"] == "ready"
    assert provider_requests(sandbox) == [("GET", f"/v2/whatsapp/media/download/{media_id}", 200)]


async def test_a_fetch_whose_worker_died_is_taken_over_after_its_lease(
        app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any, sandbox: SandboxServer,
        media_worker: MediaWorker, db: Database) -> None:
    t = await make_tenant("media")
    line = await connect(t, "whatsapp_cloud")
    data, mime, _ = sample("image")
    media_id = place_file(sandbox, line, data, mime)
    concurrency, media_worker.concurrency = media_worker.concurrency, 0  # the app's worker takes nothing
    try:
        conversation, message_id = await customer_sends(app, line, {"type": "image", "provider_media_id": media_id})
        # Another worker claims it for a moment and dies without a word.
        async with db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            claims = await repo.claim_media_fetches(session, utcnow(), utcnow() + timedelta(seconds=0.5), 10)
        assert [c.message_id for c in claims] == [message_id]
    finally:
        media_worker.concurrency = concurrency
        media_worker.notify()
    message = await settled(client, t, conversation, message_id)
    assert message["attachments"][0]["status"] == "ready"
    assert hashlib.sha256((await client.get(message["attachments"][0]["url"], headers=t.headers)).content
                          ).hexdigest() == hashlib.sha256(data).hexdigest()


async def test_files_of_another_tenant_stay_hidden(app: Any, client: httpx2.AsyncClient, make_tenant: Any,
                                                   connect: Any, sandbox: SandboxServer,
                                                   media_worker: MediaWorker) -> None:
    t, other = await make_tenant("media"), await make_tenant("media")
    line = await connect(t, "whatsapp_cloud")
    data, mime, _ = sample("image")
    conversation, message_id = await customer_sends(
        app, line, {"type": "image", "provider_media_id": place_file(sandbox, line, data, mime)})
    url = (await settled(client, t, conversation, message_id))["attachments"][0]["url"]
    assert (await client.get(url, headers=t.headers)).status_code == 200
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(url)).status_code in (401, 404)


def _rule(kind: str, channel_key: str, *, times: int = 1) -> FailureRule:
    """The provider fails this channel's media requests `times` times (sandbox failure kinds)."""
    return FailureRule(kind, times, "media", channel_key)
