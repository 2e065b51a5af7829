"""Files customers send on WhatsApp (Cloud API and YCloud) are copied to our store by the media
worker, against the provider sandbox's media endpoints: every kind, the provider's failures and
retries, expired media, files that are not what they claim or are too large, a worker that dies
mid-fetch. What the panel sees is asserted: the attachment's status, url, type, size and reason,
the file served to the tenant, and the `message.updated` event."""

from __future__ import annotations

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
from tests.media.conftest import MediaCase, customer_sends, settled

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


def provider_requests(sandbox: SandboxServer, media_id: str) -> list[tuple[str, str, int]]:
    """What the provider was asked about one file (look-ups and downloads), in order. (The app's
    worker may be retrying other tests' files meanwhile: those are left out.)"""
    with sandbox.state.lock:
        return [(r["method"], r["path"], r["status"]) for r in sandbox.state.requests
                if r["path"].endswith(f"/{media_id}") or r.get("media_id") == media_id]


def fail_media(case: MediaCase, kind: str, *, times: int = 1) -> None:
    """The provider fails this channel's media requests `times` times (a sandbox failure kind)."""
    with case.sandbox.state.lock:
        case.sandbox.state.rules.append(FailureRule(kind, times, "media", case.line.key))


async def updated_events(client: httpx2.AsyncClient, t: Any, message_id: int) -> list[dict[str, Any]]:
    r = await client.get("/admin/events", params={"after": 0}, headers=t.headers)
    assert r.status_code == 200
    return [e["data"] for e in r.json() if e["type"] == "message.updated" and e["data"]["id"] == message_id]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_kind_of_file_is_copied_checked_and_served(kind: str, provider: str, media_case: Any,
                                                               client: httpx2.AsyncClient) -> None:
    case: MediaCase = await media_case(provider)
    attachment, sample_kind, extension, served = KINDS[kind]
    data, mime, filename = sample(sample_kind)
    media_id = case.place(data, mime, filename)
    message = await case.send({**attachment, "provider_media_id": media_id})
    got = message["attachments"][0]
    assert got["status"] == "ready", got
    assert got["url"].startswith(f"/media/{case.tenant.id}/") and got["url"].endswith(f".{extension}")
    assert got["mime_type"] == served and got["size"] == len(data)
    assert "error" not in got and "error_code" not in got
    kept = {k: v for k, v in attachment.items() if k != "mime_type"}
    assert {k: got[k] for k in kept} == kept  # caption, voice, sticker, file name kept; the type is ours

    # The panel plays or downloads it from our store: the same bytes, as the type they are.
    r = await client.get(got["url"], headers=case.tenant.headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == served
    # ...and heard of it live.
    events = await updated_events(client, case.tenant, message["id"])
    assert events and events[-1]["attachments"][0]["status"] == "ready"

    # Fetched as each provider documents it, with the channel's own credentials.
    calls = provider_requests(case.sandbox, media_id)
    if provider == "whatsapp_cloud":
        assert calls == [("GET", f"/{case.sandbox.sandbox.config.graph_version}/{media_id}", 200),
                         ("GET", "/whatsapp_business/attachments/", 200)]
    else:
        assert calls == [("GET", f"/v2/whatsapp/media/download/{media_id}", 200)]


async def test_a_message_with_several_files_gets_each_one(media_case: Any) -> None:
    case: MediaCase = await media_case()
    message = await case.send(
        {"type": "image", "provider_media_id": case.place(sample("image")[0], "image/png")},
        {"type": "document", "filename": "menu.pdf",
         "provider_media_id": case.place(sample("document")[0], "application/pdf", "menu.pdf")})
    assert [(a["status"], a["url"].rsplit(".", 1)[1]) for a in message["attachments"]] == [("ready", "png"),
                                                                                          ("ready", "pdf")]
    assert message["attachments"][1]["filename"] == "menu.pdf"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_provider_failures_are_retried_until_the_file_arrives(provider: str, media_case: Any,
                                                                    client: httpx2.AsyncClient) -> None:
    case: MediaCase = await media_case(provider)
    # A 5xx, a 503 and a connection cut before any answer: three attempts fail, the fourth works.
    for kind in ("5xx", "503", "drop"):
        fail_media(case, kind)
    data, mime, _ = sample("image")
    media_id = case.place(data, mime)
    got = (await case.send({"type": "image", "provider_media_id": media_id}))["attachments"][0]
    assert got["status"] == "ready"
    assert (await client.get(got["url"], headers=case.tenant.headers)).content == data
    failed = [c for c in provider_requests(case.sandbox, media_id) if c[2] != 200]
    assert len(failed) >= 2  # (the cut connection answers nothing the sandbox can log)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_after_the_retries_the_panel_says_the_file_could_not_be_had(
        provider: str, media_case: Any, client: httpx2.AsyncClient, media_worker: MediaWorker) -> None:
    case: MediaCase = await media_case(provider)
    fail_media(case, "5xx", times=100)
    data, mime, _ = sample("audio")
    media_id = case.place(data, mime)
    message = await case.send({"type": "audio", "voice": True, "provider_media_id": media_id}, kind="voice")
    got = message["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_unavailable"
    assert "url" not in got
    attempts = len([c for c in provider_requests(case.sandbox, media_id) if c[2] >= 500])
    assert attempts == media_worker.max_attempts  # one look-up or download per attempt, then no more
    events = await updated_events(client, case.tenant, message["id"])
    assert events[-1]["attachments"][0]["status"] == "failed"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_expired_media_fails_at_once_with_its_reason(provider: str, media_case: Any) -> None:
    case: MediaCase = await media_case(provider)
    data, mime, _ = sample("image")
    media_id = case.place(data, mime)
    with case.sandbox.state.lock:
        del case.sandbox.state.media[media_id]  # the provider dropped it (Meta: after about seven days)
    got = (await case.send({"type": "image", "provider_media_id": media_id}))["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_expired"
    assert "expired" in got["error"]
    assert len(provider_requests(case.sandbox, media_id)) == 1  # no point asking again


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_file_that_is_not_what_it_claims_is_refused(provider: str, media_case: Any, app: Any) -> None:
    case: MediaCase = await media_case(provider)
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    # A "photo" that is a PDF, and a "PDF" that is a web page.
    message = await case.send(
        {"type": "image", "mime_type": "image/jpeg", "provider_media_id": case.place(sample("document")[0], "image/jpeg")},
        {"type": "document", "mime_type": "application/pdf", "filename": "factura.pdf",
         "provider_media_id": case.place(html, "application/pdf", "factura.pdf")})
    assert [(a["status"], a["error_code"]) for a in message["attachments"]] == [
        ("failed", "media_wrong_type"), ("failed", "media_wrong_type")]
    assert "not image content" in message["attachments"][0]["error"]
    assert "claims to be application/pdf" in message["attachments"][1]["error"]
    assert await app.state.store.list(f"media/{case.tenant.id}") == []  # nothing kept


async def test_an_unknown_document_is_kept_as_a_download(media_case: Any, client: httpx2.AsyncClient) -> None:
    """What no claim and no magic number says is kept, as a plain download that never runs."""
    case: MediaCase = await media_case()
    blob = bytes([0, 1, 2, 3, 250, 251]) * 100
    message = await case.send(
        {"type": "document", "filename": "datos.dat",
         "provider_media_id": case.place(blob, "application/octet-stream", "datos.dat")},
        {"type": "document", "filename": "pedido.csv",
         "provider_media_id": case.place("nombre,cantidad\nCafé de olla,3\n".encode(), "text/csv", "pedido.csv")},
        kind="document")
    first, second = message["attachments"]
    assert first["status"] == "ready" and first["url"].endswith(".bin")
    r = await client.get(first["url"], headers=case.tenant.headers)
    assert r.headers["content-type"] == "application/octet-stream" and r.content == blob
    assert r.headers["content-disposition"].startswith("attachment")
    assert second["status"] == "ready" and second["url"].endswith(".csv") and second["filename"] == "pedido.csv"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_file_larger_than_whatsapp_allows_is_refused(provider: str, media_case: Any) -> None:
    case: MediaCase = await media_case(provider)
    big = sample("sticker")[0] + b"\x00" * (500 * 1024)  # a sticker over WhatsApp's 500 KB
    got = await case.send_file(big, "image/webp", {"type": "image", "sticker": True})
    assert got["status"] == "failed" and got["error_code"] == "media_too_large"
    assert "500 KB" in got["error"]


async def test_refused_credentials_are_retried_then_said(media_case: Any, media_worker: MediaWorker) -> None:
    case: MediaCase = await media_case()
    case.sandbox.state.channel(case.line.key).access_token = "EAAG-revoked-" + uuid.uuid4().hex  # the owner rotated it
    data, mime, _ = sample("image")
    media_id = case.place(data, mime)
    got = (await case.send({"type": "image", "provider_media_id": media_id}))["attachments"][0]
    assert got["status"] == "failed" and got["error_code"] == "media_credentials_refused"
    assert len(provider_requests(case.sandbox, media_id)) == media_worker.max_attempts


async def test_ycloud_media_is_fetched_from_the_configured_api_only(media_case: Any) -> None:
    """A webhook's link is not followed as given: the API key goes only to TERTULIA_YCLOUD_API_URL."""
    case: MediaCase = await media_case("ycloud")
    data, mime, _ = sample("image")
    media_id = case.place(data, mime)
    link = f"https://collector.example/v2/whatsapp/media/download/{media_id}"
    assert (await case.send({"type": "image", "provider_media_id": link}))["attachments"][0]["status"] == "ready"
    assert provider_requests(case.sandbox, media_id) == [("GET", f"/v2/whatsapp/media/download/{media_id}", 200)]


async def test_a_fetch_whose_worker_died_is_taken_over_after_its_lease(
        media_case: Any, client: httpx2.AsyncClient, media_worker: MediaWorker, db: Database, app: Any) -> None:
    case: MediaCase = await media_case()
    data, mime, _ = sample("image")
    concurrency, media_worker.concurrency = media_worker.concurrency, 0  # the app's worker takes nothing
    try:
        conversation, message_id = await customer_sends(app, case.line,
                                                        {"type": "image", "provider_media_id": case.place(data, mime)})
        # Another worker claims it for a moment and dies without a word.
        async with db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            claims = await repo.claim_media_fetches(session, utcnow(), utcnow() + timedelta(seconds=0.5), 10)
        assert [c.message_id for c in claims] == [message_id]
    finally:
        media_worker.concurrency = concurrency
        media_worker.notify()
    got = (await settled(client, case.tenant, conversation, message_id))["attachments"][0]
    assert got["status"] == "ready"
    assert (await client.get(got["url"], headers=case.tenant.headers)).content == data


async def test_files_of_another_tenant_stay_hidden(media_case: Any, make_tenant: Any,
                                                   client: httpx2.AsyncClient) -> None:
    case: MediaCase = await media_case()
    other = await make_tenant("media")
    data, mime, _ = sample("image")
    url = (await case.send_file(data, mime, {"type": "image"}))["url"]
    assert (await client.get(url, headers=case.tenant.headers)).status_code == 200
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(url)).status_code in (401, 404)
