"""`POST /api/chat/uploads`: files for the panel chatbot's tools; and `receive_file`, how every upload
route (this one, the composer's `POST /admin/media`, the widget's) takes a file in.

The body is read as it arrives (python-multipart's streaming parser) and refused with 413 as
soon as it passes CHAT_UPLOAD_MAX_BYTES, before anything is stored: nothing partial is ever kept.
The file part is spooled, never held whole: up to SPOOL_IN_MEMORY in memory, past that in an
unnamed temporary file under `<data dir>/tmp` (the disk the operator gave us; /tmp is often RAM),
written from a thread in WRITE_CHUNK pieces. Only its first HEAD_BYTES stay in memory, for the
type checks; the rest is read back in pieces (`ReceivedFile.chunks` into the store, `blocks` for
the content checks), and the temporary file is gone when the `async with` ends, however it ends.
The name must end in an allowed extension and the bytes must be what it says (puremagic for the
binary formats, the zip's own members for .xlsx/.xlsm/.docx, a decodable text without NUL bytes for
.csv/.txt, valid JSON for .json), else 415. The file is stored as
`<UPLOADS_DIR>/<tenant_id>/chat_<epoch>_<random>_<name>`, a name of our own (the client's folders
and odd characters never reach a key), and that last part is the `path` tools take as `file_path`.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
import secrets
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import puremagic
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from tertulia.kit.errors import BadRequest, TertuliaError
from tertulia.kit.storage import FileTooLarge

SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".json", ".pdf", ".docx")
TEXT_SUFFIXES = (".csv", ".txt", ".json")
ZIP_MEMBERS = {".xlsx": "xl/workbook.xml", ".xlsm": "xl/workbook.xml", ".docx": "word/document.xml"}
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file, and small other fields
MAX_NAME = 120
HEAD_BYTES = 64 * 1024  # what the type checks read (puremagic looks no further; family_of reads 8 KiB)
SPOOL_IN_MEMORY = 1024 * 1024  # most files are smaller and never touch the disk
# Writes to the spool and reads from it go through a thread (a disk may block), so in pieces
# large enough that the hops cost little, small enough that memory per upload stays bounded.
WRITE_CHUNK = 1024 * 1024
READ_CHUNK = 1024 * 1024


class UnsupportedType(TertuliaError):
    status_code, code = 415, "unsupported_media_type"


@dataclass
class ReceivedFile:
    """An uploaded file, spooled: its name, size and first bytes; the content is read back in pieces."""

    name: str
    size: int
    head: bytes  # the first HEAD_BYTES (all of it when smaller)
    spool: IO[bytes]

    async def chunks(self) -> AsyncIterator[bytes]:
        """The content in READ_CHUNK pieces, read off the event loop: what `FileStore.put` takes."""
        await asyncio.to_thread(self.spool.seek, 0)
        while chunk := await asyncio.to_thread(self.spool.read, READ_CHUNK):
            yield chunk

    def blocks(self) -> Iterator[bytes]:
        """The same pieces, read here: for checks that run in a thread (`check_content`)."""
        self.spool.seek(0)
        while chunk := self.spool.read(READ_CHUNK):
            yield chunk


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    field: str = ""
    filename: str | None = None


@asynccontextmanager
async def receive_file(request: Request, max_bytes: int,
                       suffixes: tuple[str, ...] | None = SUFFIXES) -> AsyncIterator[ReceivedFile]:
    """The `file` field of the request's multipart body, spooled as it streams in; FileTooLarge past
    `max_bytes`. A name outside `suffixes` is refused at once (None: any name, the caller checks the
    content). The spool is removed when the block ends."""
    spool_dir = Path(request.app.state.settings.data_dir) / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    # Past SPOOL_IN_MEMORY it rolls over to tempfile.TemporaryFile: unlinked as soon as it is made,
    # so even a killed process leaves nothing behind.
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=str(spool_dir)) as spool:
        yield await _receive(request.stream(), request.headers.get("content-type", ""), max_bytes, suffixes, spool)


async def _receive(stream: AsyncIterator[bytes], content_type: str, max_bytes: int,
                   suffixes: tuple[str, ...] | None, spool: IO[bytes]) -> ReceivedFile:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("send the file as multipart/form-data in a field named `file`", code="missing_file")
    state = {"header_field": b"", "header_value": b""}
    part = _Part()
    found: ReceivedFile | None = None
    head = bytearray()
    pending: list[bytes] = []  # received, not yet written to the spool
    pending_size = size = 0
    in_file = False
    refused: TertuliaError | None = None

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        part.headers[state["header_field"].decode("latin-1").lower()] = state["header_value"]
        state["header_field"] = state["header_value"] = b""

    def on_headers_finished() -> None:
        nonlocal in_file, refused
        _, disposition = parse_options_header(part.headers.get("content-disposition", b""))
        part.field = disposition.get(b"name", b"").decode("utf-8", "replace")
        raw_name = disposition.get(b"filename")
        part.filename = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        in_file = part.field == "file" and found is None and refused is None
        if in_file:
            if not part.filename or not part.filename.strip():
                refused = BadRequest("the file has no name", code="missing_file_name")
            elif suffixes is not None and PurePosixPath(clean_name(part.filename)).suffix.lower() not in suffixes:
                refused = UnsupportedType(f"only {', '.join(suffixes)} files can be uploaded")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal size, pending_size
        if in_file and refused is None:
            size += end - start
            if size > max_bytes:
                raise FileTooLarge(f"the file is larger than {max_bytes} bytes")
            piece = data[start:end]
            if len(head) < HEAD_BYTES:
                head.extend(piece[:HEAD_BYTES - len(head)])
            pending.append(piece)
            pending_size += len(piece)

    def on_part_end() -> None:
        nonlocal found, in_file
        if in_file and refused is None:
            found = ReceivedFile(name=part.filename or "", size=size, head=bytes(head), spool=spool)
        in_file = False

    async def flush() -> None:
        nonlocal pending_size
        if pending:
            data = b"".join(pending)
            pending.clear()
            pending_size = 0
            await asyncio.to_thread(spool.write, data)

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > max_bytes + MULTIPART_OVERHEAD:
            raise FileTooLarge(f"the file is larger than {max_bytes} bytes")
        parser.write(chunk)
        if refused is not None:
            raise refused  # stop reading: no point in receiving the rest
        if pending_size >= WRITE_CHUNK:
            await flush()
    parser.finalize()
    if refused is not None:
        raise refused
    if found is None:
        raise BadRequest("send the file in a multipart field named `file`", code="missing_file")
    await flush()
    return found


def clean_name(name: str) -> str:
    """The client's file name without folders, control characters or anything but letters,
    digits, `.`, `-` and `_` (accents kept), at most MAX_NAME characters, extension kept."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1].strip()
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "archivo"
    stem, suffix = PurePosixPath(base).stem, PurePosixPath(base).suffix.lower()
    return stem[:MAX_NAME - len(suffix)] + suffix


def stored_name(name: str) -> str:
    return f"chat_{int(time.time())}_{secrets.token_hex(4)}_{clean_name(name)}"


def check_content(received: ReceivedFile) -> None:
    """UnsupportedType unless the bytes are what the name's extension says. Reads the spool: run it
    in a thread."""
    suffix = PurePosixPath(received.name).suffix.lower()
    if not received.size:
        raise UnsupportedType("the file is empty")
    if suffix in ZIP_MEMBERS:
        if not any(m.extension in (".zip", ".xlsx", ".docx") for m in _magic(received.head)):
            raise UnsupportedType(f"the file is named {suffix} but its content is not")
        try:
            received.spool.seek(0)
            with zipfile.ZipFile(received.spool) as archive:  # reads the directory at the end, not the members
                members = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise UnsupportedType(f"the file is named {suffix} but its content is not") from exc
        if ZIP_MEMBERS[suffix] not in members:
            raise UnsupportedType(f"the file is named {suffix} but its content is not")
    elif suffix == ".pdf":
        if not any(m.extension == ".pdf" for m in _magic(received.head)):
            raise UnsupportedType("the file is named .pdf but its content is not")
    elif suffix in TEXT_SUFFIXES:
        binary = [m for m in _magic(received.head) if m.confidence >= 0.5 and m.extension not in TEXT_SUFFIXES]
        if binary:
            raise UnsupportedType(f"the file is named {suffix} but its content is not text")
        _check_text(suffix, received)
    else:
        raise UnsupportedType(f"only {', '.join(SUFFIXES)} files can be uploaded")


def _check_text(suffix: str, received: ReceivedFile) -> None:
    """Text without NUL bytes, UTF-8 or else Windows-1252 (.json: UTF-8 JSON), piece by piece; a JSON
    file is parsed whole (the json module has no incremental parser), within the route's limit."""
    not_text = UnsupportedType(f"the file is named {suffix} but its content is not text")
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    is_utf8 = is_cp1252 = True
    for block in received.blocks():
        if b"\x00" in block:
            raise not_text
        if is_utf8:
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                is_utf8 = False
        if is_cp1252:  # a single-byte code: each piece decodes on its own
            is_cp1252 = _is_cp1252(block)
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if suffix == ".json":
        if not is_utf8:
            raise UnsupportedType("the file is named .json but is not UTF-8 JSON")
        try:
            json.loads(b"".join(received.blocks()).decode("utf-8-sig"))
        except ValueError as exc:
            raise UnsupportedType("the file is named .json but its content is not JSON") from exc
    elif not is_utf8 and not is_cp1252:
        raise not_text


def _magic(head: bytes) -> list[puremagic.PureMagicWithConfidence]:
    try:
        return list(puremagic.magic_string(head))
    except puremagic.PureError:
        return []


def _is_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True
