"""`POST /api/chat/uploads` over a real server: session and CSRF, the size limit while the body
streams (nothing stored), types by their bytes, names that try to leave the folder."""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from typing import Any

import httpx2
from docx import Document

from tertulia.config import Settings
from tertulia.kit.storage import FileStore
from tertulia.webchat.uploads import READ_CHUNK
from tests.helpers import open_spools
from tests.realtime.conftest import LiveServer
from tests.reports.claims import CANONICAL_HEADERS, xlsx_bytes
from tests.webchat.conftest import Member, upload


def _docx() -> bytes:
    out = io.BytesIO()
    document = Document()
    document.add_paragraph("hola")
    document.save(out)
    return out.getvalue()


def _zip(member: str, extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, "<x/>")
        if extra:
            archive.writestr("xl/media/image1.bin", extra)
    return out.getvalue()


async def _stored(app: Any, member: Member) -> list[str]:
    store: FileStore = app.state.store
    return sorted(f.key.rsplit("/", 1)[-1] for f in await store.list(f"uploads/{member.tenant.id}"))


async def test_allowed_files_are_stored_under_a_name_of_our_own(live_server: LiveServer, member: Member,
                                                                 app: Any) -> None:
    files = {
        "casos.xlsx": xlsx_bytes(CANONICAL_HEADERS, []),
        "macros.xlsm": xlsx_bytes(CANONICAL_HEADERS, []),
        "casos.csv": "CLIENTE;SERVICIO;FECHA\nACME;L-1;01/09/2025\n".encode("cp1252"),
        "notas.txt": "Reclamos de septiembre: revisión".encode(),
        "datos.json": b'{"puntos": []}',
        "informe.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "carta.docx": _docx(),
    }
    for name, data in files.items():
        response = await upload(live_server, member, name, data)
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert body["status"] == "ok" and body["name"] == name and body["size"] == len(data)
        assert body["path"].startswith("chat_") and body["path"].endswith("_" + name)
    assert len(await _stored(app, member)) == len(files)
    # The client's folders and odd characters never reach the stored name.
    response = await upload(live_server, member, "../../etc/pass wd.csv", b"a;b\n1;2\n")
    assert response.status_code == 200
    assert response.json()["path"].endswith("_pass_wd.csv") and "/" not in response.json()["path"]


async def test_the_content_must_be_what_the_name_says(live_server: LiveServer, member: Member, app: Any) -> None:
    cases = {
        "programa.exe": b"MZ\x90\x00",
        "casos.xlsx": b"CLIENTE;SERVICIO\nnot a workbook",
        "carta.docx": _zip("xl/workbook.xml"),  # a workbook named .docx
        "casos.xlsm": _zip("word/document.xml"),
        "informe.pdf": b"just text, no PDF",
        "casos.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "datos.json": b"{not json",
        "notas.txt": b"hola\x00mundo",
        "vacio.csv": b"",
    }
    for name, data in cases.items():
        response = await upload(live_server, member, name, data)
        assert response.status_code == 415, (name, response.status_code, response.text)
        assert response.json()["error"]["code"] == "unsupported_media_type"
    assert await _stored(app, member) == []


async def test_too_large_is_refused_while_streaming_and_nothing_is_kept(
        live_server: LiveServer, member: Member, settings: Settings, app: Any) -> None:
    settings.chat_upload_max_bytes = 256 * 1024
    try:
        # A raw connection announcing 25 MB and sending 1 MB of it: the answer comes before the
        # rest is sent, so the server refused while the body was still streaming in.
        boundary = "frontera"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"grande.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\n").encode()
        host, port = live_server.host.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write((f"POST /api/chat/uploads HTTP/1.1\r\nHost: {live_server.host}\r\n"
                      f"Cookie: {member.cookie}\r\nX-CSRF-Token: {member.csrf}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {25 * 1024 * 1024}\r\n\r\n").encode() + head)
        for _ in range(16):
            writer.write(b"a;b\n" * 16384)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
        # Just over the limit in a normal request: 413 too; at the limit: stored.
        over = await upload(live_server, member, "justo.txt", b"x" * (256 * 1024 + 1))
        assert over.status_code == 413
        assert await _stored(app, member) == []
        assert (await upload(live_server, member, "justo.txt", b"x" * (256 * 1024))).status_code == 200
    finally:
        settings.chat_upload_max_bytes = 15 * 1024 * 1024


async def test_session_and_csrf(live_server: LiveServer, member: Member, settings: Settings, client: Any) -> None:
    async with httpx2.AsyncClient(base_url=live_server.base_url, timeout=10) as anonymous:
        response = await anonymous.post("/api/chat/uploads", files={"file": ("a.txt", b"hola", "text/plain")})
        assert response.status_code == 401
    # An API token is not a panel session.
    response = await client.post("/api/chat/uploads", headers=member.tenant.headers,
                                 files={"file": ("a.txt", b"hola", "text/plain")})
    assert response.status_code == 401
    # TESTING=true skips the CSRF check (the seed's rule); otherwise it is required.
    assert (await upload(live_server, member, "a.txt", b"hola", csrf=False)).status_code == 200
    settings.testing = False
    try:
        refused = await upload(live_server, member, "a.txt", b"hola", csrf=False)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        assert (await upload(live_server, member, "a.txt", b"hola")).status_code == 200
    finally:
        settings.testing = True


async def test_malformed_requests_are_told_what_is_missing(live_server: LiveServer, member: Member) -> None:
    async with httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies, timeout=10) as http:
        no_form = await http.post("/api/chat/uploads", json={"file": "x"})
        assert no_form.status_code == 400 and no_form.json()["error"]["code"] == "missing_file"
        other_field = await http.post("/api/chat/uploads", files={"archivo": ("a.txt", b"hola", "text/plain")})
        assert other_field.status_code == 400 and other_field.json()["error"]["code"] == "missing_file"
        no_name = await http.post("/api/chat/uploads", files={"file": ("", b"hola", "text/plain")})
        assert no_name.status_code in (400, 422)


async def test_large_files_are_checked_piece_by_piece(live_server: LiveServer, member: Member, app: Any,
                                                      settings: Settings) -> None:
    """Files past the in-memory spool are checked from the disk in pieces: a character cut by a
    piece's edge is still text, a NUL or a bad byte far from the start is still found."""
    edge = READ_CHUNK - 1  # "ñ" (2 bytes in UTF-8) straddles the first piece's end
    accepted = {
        "notas.txt": b"a" * edge + "ñandú\n".encode() + b"b" * (2 * READ_CHUNK),
        "casos.csv": ("CLIENTE;CIUDAD\n" + "Muñoz;Cádiz\n" * 200_000).encode("cp1252"),
        "datos.json": b'{"puntos": [' + b"[1.5, 2.5], " * 200_000 + b"[0, 0]]}",
        "libro.xlsx": _zip("xl/workbook.xml", extra=os.urandom(3 * READ_CHUNK)),  # its directory at the end
    }
    for name, data in accepted.items():
        response = await upload(live_server, member, name, data)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["size"] == len(data)
    refused = {
        "notas.txt": b"a" * (3 * READ_CHUNK) + b"\x00",
        "datos.json": b'{"puntos": [' + b"[1.5, 2.5], " * 200_000 + b"[0, 0]",  # never closed
        "mal.json": b'{"a": "' + b"x" * (2 * READ_CHUNK) + b'\xff"}',  # not UTF-8
        "casos.csv": "ñ".encode() * READ_CHUNK + b"\x81\x8d",  # neither UTF-8 nor Windows-1252
    }
    for name, data in refused.items():
        response = await upload(live_server, member, name, data)
        assert response.status_code == 415, (name, response.text)
    assert len(await _stored(app, member)) == len(accepted)
    assert open_spools(settings) == []
