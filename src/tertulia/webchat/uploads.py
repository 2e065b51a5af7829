"""`POST /api/chat/uploads`: files for the panel chatbot's tools.

The body is read as it arrives (python-multipart's streaming parser) and refused with 413 as
soon as it passes CHAT_UPLOAD_MAX_BYTES, before anything is stored: nothing partial is ever kept.
The name must end in an allowed extension and the bytes must be what it says (puremagic for the
binary formats, the zip's own members for .xlsx/.xlsm/.docx, a decodable text without NUL bytes for
.csv/.txt, valid JSON for .json), else 415. The file is stored as
`<UPLOADS_DIR>/<tenant_id>/chat_<epoch>_<random>_<name>`, a name of our own (the client's folders
and odd characters never reach a key), and that last part is the `path` tools take as `file_path`.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import puremagic
from python_multipart.multipart import MultipartParser, parse_options_header

from tertulia.kit.errors import BadRequest, TertuliaError
from tertulia.kit.storage import FileTooLarge

SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".json", ".pdf", ".docx")
TEXT_SUFFIXES = (".csv", ".txt", ".json")
ZIP_MEMBERS = {".xlsx": "xl/workbook.xml", ".xlsm": "xl/workbook.xml", ".docx": "word/document.xml"}
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file, and small other fields
MAX_NAME = 120


class UnsupportedType(TertuliaError):
    status_code, code = 415, "unsupported_media_type"


@dataclass
class ReceivedFile:
    name: str
    data: bytes


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    field: str = ""
    filename: str | None = None


async def receive_file(stream: AsyncIterator[bytes], content_type: str, max_bytes: int,
                       suffixes: tuple[str, ...] | None = SUFFIXES) -> ReceivedFile:
    """The `file` field of a multipart body, read as it streams in; FileTooLarge past `max_bytes`.
    A name outside `suffixes` is refused at once (None: any name, the caller checks the content)."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("send the file as multipart/form-data in a field named `file`", code="missing_file")
    state = {"header_field": b"", "header_value": b""}
    part = _Part()
    found: ReceivedFile | None = None
    chunks: list[bytes] = []
    size = 0
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
        nonlocal size
        if in_file and refused is None:
            size += end - start
            if size > max_bytes:
                raise FileTooLarge(f"the file is larger than {max_bytes} bytes")
            chunks.append(data[start:end])

    def on_part_end() -> None:
        nonlocal found, in_file
        if in_file and refused is None:
            found = ReceivedFile(name=part.filename or "", data=b"".join(chunks))
        in_file = False

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
    parser.finalize()
    if refused is not None:
        raise refused
    if found is None:
        raise BadRequest("send the file in a multipart field named `file`", code="missing_file")
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


def check_content(name: str, data: bytes) -> None:
    """UnsupportedType unless the bytes are what the name's extension says."""
    suffix = PurePosixPath(name).suffix.lower()
    if not data:
        raise UnsupportedType("the file is empty")
    if suffix in ZIP_MEMBERS:
        if not any(m.extension in (".zip", ".xlsx", ".docx") for m in _magic(data)):
            raise UnsupportedType(f"the file is named {suffix} but its content is not")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise UnsupportedType(f"the file is named {suffix} but its content is not") from exc
        if ZIP_MEMBERS[suffix] not in members:
            raise UnsupportedType(f"the file is named {suffix} but its content is not")
    elif suffix == ".pdf":
        if not any(m.extension == ".pdf" for m in _magic(data)):
            raise UnsupportedType("the file is named .pdf but its content is not")
    elif suffix in TEXT_SUFFIXES:
        binary = [m for m in _magic(data) if m.confidence >= 0.5 and m.extension not in TEXT_SUFFIXES]
        if binary or b"\x00" in data:
            raise UnsupportedType(f"the file is named {suffix} but its content is not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if suffix == ".json":
                raise UnsupportedType("the file is named .json but is not UTF-8 JSON") from None
            text = data.decode("cp1252", errors="strict") if _is_cp1252(data) else ""
            if not text:
                raise UnsupportedType(f"the file is named {suffix} but its content is not text") from None
        if suffix == ".json":
            try:
                json.loads(text)
            except ValueError as exc:
                raise UnsupportedType("the file is named .json but its content is not JSON") from exc
    else:
        raise UnsupportedType(f"only {', '.join(SUFFIXES)} files can be uploaded")


def _magic(data: bytes) -> list[puremagic.PureMagicWithConfidence]:
    try:
        return list(puremagic.magic_string(data[:65536] if len(data) > 65536 else data))
    except puremagic.PureError:
        return []


def _is_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True
