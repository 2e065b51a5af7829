"""Attachment files: served to the tenant that owns them, with the right type, ranges and names,
from whichever store holds them (every test runs on the local directory and on an S3 bucket)."""

from __future__ import annotations

import os
from typing import Any

import httpx2

from tertulia.conversations.media import media_key
from tertulia.kit.storage import READ_CHUNK, FileStore


async def test_member_gets_file_with_type_and_ranges(client: httpx2.AsyncClient, make_tenant: Any,
                                                     app_store: FileStore) -> None:
    t = await make_tenant("media")
    audio = bytes(range(256)) * 40
    await app_store.put(media_key(t.id, "voz/nota.wav"), audio)
    url = f"/media/{t.id}/voz/nota.wav"
    r = await client.get(url, headers=t.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    assert r.content == audio
    assert r.headers["accept-ranges"] == "bytes"
    assert "content-disposition" not in r.headers  # plays inline

    # A player seeking asks for a byte range and gets exactly that slice.
    for asked, (start, end) in (("bytes=100-299", (100, 300)), ("bytes=10000-", (10000, len(audio))),
                                ("bytes=-50", (len(audio) - 50, len(audio))), ("bytes=0-999999", (0, len(audio))),
                                ("bytes=-999999", (0, len(audio)))):
        r = await client.get(url, headers={**t.headers, "Range": asked})
        assert r.status_code == 206, asked
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(audio)}", asked
        assert r.content == audio[start:end] and r.headers["content-length"] == str(end - start), asked

    # Past the end: 416 with the size, so the player knows where the file ends.
    for asked in (f"bytes={len(audio)}-", f"bytes={len(audio) + 10}-{len(audio) + 20}", "bytes=-0"):
        r = await client.get(url, headers={**t.headers, "Range": asked})
        assert r.status_code == 416, asked
        assert r.headers["content-range"] == f"bytes */{len(audio)}"
        assert r.json()["error"]["code"] == "range_not_satisfiable"

    # Several ranges, another unit or a range backwards: the whole file, as a server may answer.
    for asked in ("bytes=0-1,5-6", "items=0-1", "bytes=20-10", "bytes=a-b"):
        r = await client.get(url, headers={**t.headers, "Range": asked})
        assert r.status_code == 200 and r.content == audio, asked

    head = await client.head(url, headers=t.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(audio)) and head.content == b""
    head = await client.head(url, headers={**t.headers, "Range": "bytes=0-99"})
    assert head.status_code == 206 and head.headers["content-length"] == "100"


async def test_revalidation_with_etag(client: httpx2.AsyncClient, make_tenant: Any, app_store: FileStore) -> None:
    t = await make_tenant("media")
    await app_store.put(media_key(t.id, "foto.png"), b"\x89PNG version 1")
    url = f"/media/{t.id}/foto.png"
    first = await client.get(url, headers=t.headers)
    etag = first.headers["etag"]
    assert first.headers["last-modified"].endswith(" GMT")
    r = await client.get(url, headers={**t.headers, "If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert (await client.get(url, headers={**t.headers, "If-None-Match": f'W/{etag}, "other"'})).status_code == 304

    # The file changes: the old tag no longer matches, and a range of the old version is not mixed in.
    await app_store.put(media_key(t.id, "foto.png"), b"\x89PNG version 2, longer")
    r = await client.get(url, headers={**t.headers, "If-None-Match": etag})
    assert r.status_code == 200 and r.content == b"\x89PNG version 2, longer"
    r = await client.get(url, headers={**t.headers, "Range": "bytes=5-", "If-Range": etag})
    assert r.status_code == 200 and r.content == b"\x89PNG version 2, longer"
    r = await client.get(url, headers={**t.headers, "Range": "bytes=5-", "If-Range": r.headers["etag"]})
    assert r.status_code == 206 and r.content == b"version 2, longer"


async def test_large_files_stream(client: httpx2.AsyncClient, make_tenant: Any, app_store: FileStore) -> None:
    t = await make_tenant("media")
    video = os.urandom(2 * READ_CHUNK + 12345)
    await app_store.put(media_key(t.id, "barra.webm"), video)
    async with client.stream("GET", f"/media/{t.id}/barra.webm", headers=t.headers) as r:
        assert r.status_code == 200 and r.headers["content-length"] == str(len(video))
        received = b"".join([chunk async for chunk in r.aiter_raw()])
    assert received == video
    r = await client.get(f"/media/{t.id}/barra.webm", headers={**t.headers, "Range": f"bytes={READ_CHUNK - 1}-"})
    assert r.status_code == 206 and r.content == video[READ_CHUNK - 1:]


async def test_documents_carry_their_name_and_unsafe_types_download(
        client: httpx2.AsyncClient, make_tenant: Any, app_store: FileStore) -> None:
    t = await make_tenant("media")
    await app_store.put(media_key(t.id, "Carta de precios.pdf"), b"%PDF-1.4\n%%EOF\n")
    await app_store.put(media_key(t.id, "dibujo.svg"),
                        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    await app_store.put(media_key(t.id, "pagina.html"), b"<script>alert(1)</script>")
    await app_store.put(media_key(t.id, "leeme.txt"), b"hola")
    r = await client.get(f"/media/{t.id}/Carta de precios.pdf", headers=t.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == "inline; filename*=utf-8''Carta%20de%20precios.pdf"
    r = await client.get(f"/media/{t.id}/leeme.txt", headers=t.headers)
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == 'inline; filename="leeme.txt"'

    # An SVG or a page could run script in the panel's origin: they are only ever offered as downloads.
    for name in ("dibujo.svg", "pagina.html"):
        r = await client.get(f"/media/{t.id}/{name}", headers=t.headers)
        assert r.status_code == 200
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_other_tenants_and_bad_names_get_404(client: httpx2.AsyncClient, make_tenant: Any,
                                                  app_store: FileStore) -> None:
    a = await make_tenant("media")
    b = await make_tenant("media")
    await app_store.put(media_key(a.id, "foto.png"), b"\x89PNG\r\n\x1a\n")
    await app_store.put(media_key(b.id, "propia.png"), b"\x89PNG\r\n\x1a\n")
    await app_store.put(media_key(a.id, "n" * 240), b"longest name")
    url = f"/media/{a.id}/foto.png"
    assert (await client.get(url, headers=a.headers)).status_code == 200
    for r in (await client.get(url, headers=b.headers), await client.head(url, headers=b.headers)):
        assert r.status_code == 404
    assert (await client.get(url, headers=b.headers)).json()["error"]["code"] == "media_not_found"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(f"/media/{a.id}/{'n' * 240}", headers=a.headers)).status_code == 200

    # Names that try to climb out of the tenant's folder, into another tenant's, to hidden files,
    # or that no store can hold: the same answer as a missing file.
    for bad in (f"/media/{a.id}/../{b.id}/propia.png", f"/media/{a.id}/%2e%2e/{b.id}/propia.png",
                f"/media/{a.id}/..%2F{b.id}%2Fpropia.png", f"/media/{a.id}/.secret", f"/media/{a.id}/",
                f"/media/{a.id}/no-such-file.png", f"/media/{a.id}/foto.png/x", f"/media/{a.id}//foto.png",
                f"/media/{a.id}/{'n' * 256}.png", f"/media/{a.id}/{'ñ' * 300}.png", f"/media/{a.id}/a%00.png",
                f"/media/{a.id}/a%5C..%5Cfoto.png", f"/media/{b.id}/propia.png"):
        r = await client.get(bad, headers=a.headers)
        assert r.status_code == 404, bad
        assert r.json()["error"]["code"] in ("media_not_found", "not_found"), bad
    assert (await client.get("/media/not-a-uuid/foto.png", headers=a.headers)).status_code in (404, 422)
