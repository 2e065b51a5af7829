"""`POST /admin/media`: files attached in the composer, told by their bytes, limited per kind as
WhatsApp limits them, then sent by `media_id`."""

from __future__ import annotations

import hashlib
import tracemalloc
from typing import Any

import httpx2
import pytest

from tertulia.config import Settings
from tertulia.conversations.media import media_key
from tertulia.kit.storage import FileStore
from tertulia.sandbox.samples import sample
from tests.helpers import MULTIPART_TYPE, multipart_stream, open_spools, post_inbound

MB = 1024 * 1024


async def upload(client: httpx2.AsyncClient, t: Any, name: str, data: bytes, mime: str) -> httpx2.Response:
    return await client.post("/admin/media", headers=t.headers, files={"file": (name, data, mime)})


@pytest.mark.parametrize(("kind", "name"), [("image", "foto.png"), ("document", "menu.pdf"), ("audio", "nota.ogg"),
                                            ("video", "video.mp4")])
async def test_a_file_is_stored_by_its_kind_and_sent_by_its_id(client: httpx2.AsyncClient, make_tenant: Any,
                                                               kind: str, name: str) -> None:
    t = await make_tenant("upload")
    data, mime, _ = sample(kind)
    r = await upload(client, t, name, data, mime)
    assert r.status_code == 201, r.text
    media = r.json()
    assert (media["type"], media["size"], media["filename"]) == (kind, len(data), name)
    assert media["url"] == f"/media/{t.id}/{media['id']}"
    served = await client.get(media["url"], headers=t.headers)
    assert served.status_code == 200 and served.content == data

    conv = (await post_inbound(client, t, "¿Me mandas el archivo?")).json()["conversation_id"]
    r = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={
        "message": "" if kind == "audio" else "Aquí está", "attachments": [
            {"type": media["type"], "media_id": media["id"], "filename": media["filename"]}]})
    assert r.status_code == 202, r.text
    [attachment] = r.json()["message"]["attachments"]
    assert (attachment["type"], attachment["url"], attachment["size"]) == (kind, media["url"], len(data))
    assert r.json()["message"]["kind"] == kind


async def test_the_content_decides_not_the_name(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant("upload-kind")
    png, _, _ = sample("image")
    r = await upload(client, t, "factura.pdf", png, "application/pdf")
    assert r.status_code == 201 and r.json()["type"] == "image" and r.json()["id"].endswith(".png")
    for name, data, mime in (("foto.jpg", b"MZ\x90\x00" + b"\x00" * 200, "image/jpeg"),  # a Windows program
                             ("sticker.webp", sample("sticker")[0], "image/webp"),  # WhatsApp sends no WebP image
                             ("vacio.txt", b"", "text/plain")):
        r = await upload(client, t, name, data, mime)
        assert r.status_code == 415, (name, r.text)
        assert r.json()["error"]["code"] == "unsupported_media_type"


async def test_whatsapps_limit_of_each_kind_applies(client: httpx2.AsyncClient, make_tenant: Any,
                                                    settings: Settings) -> None:
    t = await make_tenant("upload-size")
    png, _, _ = sample("image")
    r = await upload(client, t, "grande.png", png + b"\x00" * (5 * MB), "image/png")
    assert r.status_code == 413 and r.json()["error"]["code"] == "media_too_large"
    assert open_spools(settings) == []  # refused after it was spooled to disk: the spool is gone
    pdf, _, _ = sample("document")
    r = await upload(client, t, "grande.pdf", pdf + b"\x00" * (6 * MB), "application/pdf")  # documents: 100 MB
    assert r.status_code == 201 and r.json()["type"] == "document"


async def test_bad_requests_are_4xx_with_reasons(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t, other = await make_tenant("upload-bad"), await make_tenant("upload-other")
    r = await client.post("/admin/media", headers=t.headers, files={"picture": ("a.png", b"x", "image/png")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_file"
    r = await client.post("/admin/media", files={"file": ("a.png", b"x", "image/png")})
    assert r.status_code == 401
    media = (await upload(client, other, "foto.png", sample("image")[0], "image/png")).json()
    conv = (await post_inbound(client, t, "hola")).json()["conversation_id"]
    for attachment in ({"type": "image", "media_id": media["id"]},  # another tenant's file
                       {"type": "image", "media_id": "0" * 32 + ".png"}):
        r = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={"attachments": [attachment]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "attachment_not_found", r.text
    for attachment in ({"type": "image"}, {"type": "image", "media_id": "../../etc/passwd"},
                       {"type": "image", "media_id": media["id"], "url": "https://example.com/a.png"}):
        r = await client.post(f"/admin/chats/{conv}/messages", headers=t.headers, json={"attachments": [attachment]})
        assert r.status_code == 422, r.text


async def test_a_large_document_streams_through_a_few_megabytes_of_memory(
        client: httpx2.AsyncClient, make_tenant: Any, app: Any, settings: Settings) -> None:
    """60 MB sent in 64 KiB pieces, as a network delivers them: the Python heap's peak while the
    request runs stays at a few parts of the file (13.6 MB measured: the store's parts in flight and
    the spool's pieces), where holding the file peaked at its size (60.1 MB); the file is stored whole."""
    t = await make_tenant("upload-large")
    size = 60 * MB
    piece = b"".join(b"linea %05d de un documento largo\n" % n for n in range(2000))[:64 * 1024]
    sent = hashlib.sha256()
    tracemalloc.start()
    try:
        r = await client.post("/admin/media", headers={**t.headers, **MULTIPART_TYPE},
                              content=multipart_stream("informe.txt", size, piece, sent))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 201, r.text
    assert (r.json()["type"], r.json()["size"]) == ("document", size)
    assert peak < 20 * MB, f"{peak / MB:.1f} MB of Python memory at the peak for a {size // MB} MB upload"
    store: FileStore = app.state.store
    stored = hashlib.sha256()
    async for chunk in store.read(media_key(t.id, r.json()["id"])):
        stored.update(chunk)
    assert stored.hexdigest() == sent.hexdigest()
    assert open_spools(settings) == []
