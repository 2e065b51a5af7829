"""Attachment files: served to the tenant that owns them, with the right type, ranges and names."""

from __future__ import annotations

from typing import Any

import httpx2

from tertulia.config import Settings
from tertulia.conversations.media import media_root


def _put(settings: Settings, tenant_id: Any, name: str, data: bytes) -> None:
    path = media_root(settings.data_dir, tenant_id) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def test_member_gets_file_with_type_and_ranges(client: httpx2.AsyncClient, make_tenant: Any,
                                                     settings: Settings) -> None:
    t = await make_tenant("media")
    audio = bytes(range(256)) * 40
    _put(settings, t.id, "voz/nota.wav", audio)
    r = await client.get(f"/media/{t.id}/voz/nota.wav", headers=t.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    assert r.content == audio
    assert r.headers["accept-ranges"] == "bytes"
    assert "content-disposition" not in r.headers  # plays inline

    # A player seeking asks for a byte range and gets exactly that slice.
    r = await client.get(f"/media/{t.id}/voz/nota.wav", headers={**t.headers, "Range": "bytes=100-299"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-299/{len(audio)}"
    assert r.content == audio[100:300]

    head = await client.head(f"/media/{t.id}/voz/nota.wav", headers=t.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(audio))


async def test_documents_carry_their_name_and_unsafe_types_download(
        client: httpx2.AsyncClient, make_tenant: Any, settings: Settings) -> None:
    t = await make_tenant("media")
    _put(settings, t.id, "Carta de precios.pdf", b"%PDF-1.4\n%%EOF\n")
    _put(settings, t.id, "dibujo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    r = await client.get(f"/media/{t.id}/Carta de precios.pdf", headers=t.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline;")
    assert "Carta%20de%20precios.pdf" in r.headers["content-disposition"]

    # An SVG could run script in the panel's origin: it is only ever offered as a download.
    r = await client.get(f"/media/{t.id}/dibujo.svg", headers=t.headers)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_other_tenants_and_escaping_paths_get_404(client: httpx2.AsyncClient, make_tenant: Any,
                                                        settings: Settings) -> None:
    a = await make_tenant("media")
    b = await make_tenant("media")
    _put(settings, a.id, "foto.png", b"\x89PNG\r\n\x1a\n")
    _put(settings, b.id, "propia.png", b"\x89PNG\r\n\x1a\n")
    _put(settings, a.id, ".secret", b"not for the web")
    url = f"/media/{a.id}/foto.png"
    assert (await client.get(url, headers=a.headers)).status_code == 200
    r = await client.get(url, headers=b.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "media_not_found"
    assert (await client.get(url)).status_code == 401

    # Paths that try to climb out of the tenant's folder, into another tenant's, or to hidden files.
    for bad in (f"/media/{a.id}/../{b.id}/propia.png", f"/media/{a.id}/%2e%2e/{b.id}/propia.png",
                f"/media/{a.id}/..%2F{b.id}%2Fpropia.png", f"/media/{a.id}/.secret", f"/media/{a.id}/",
                f"/media/{a.id}/no-such-file.png"):
        r = await client.get(bad, headers=a.headers)
        assert r.status_code == 404, bad
    assert (await client.get("/media/not-a-uuid/foto.png", headers=a.headers)).status_code in (404, 422)
