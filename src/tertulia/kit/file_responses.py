"""A stored file as an HTTP response: streamed from the store, one byte range at a time when asked
(how `<video>` and `<audio>` seek), revalidated by ETag, and never able to run script in the panel.
"""

from __future__ import annotations

import re
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response, StreamingResponse

from tertulia.kit.errors import TertuliaError
from tertulia.kit.storage import FileStore, StoredFile

# Types a browser may render inline. Anything else (HTML, SVG, scripts, unknown) is sent as a
# download, so a file a customer sent can never run script in the panel's origin.
INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
    "audio/wav", "audio/x-wav", "audio/mpeg", "audio/ogg", "audio/webm", "audio/aac", "audio/mp4",
    "video/webm", "video/mp4", "video/ogg", "application/pdf", "text/plain",
})
_RANGE = re.compile(r"bytes=\s*(\d*)\s*-\s*(\d*)\s*")


def get_file_store(request: Request) -> FileStore:
    store: FileStore = request.app.state.store
    return store


AppFileStore = Annotated[FileStore, Depends(get_file_store)]


class RangeNotSatisfiable(TertuliaError):
    status_code, code = 416, "range_not_satisfiable"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes `[start, end)` one `Range` header asks for, or None to send the whole file (no
    header, several ranges, another unit: a server may answer those with the whole file)."""
    match = _RANGE.fullmatch(header or "")
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last n bytes (none of an empty file, nor the last 0)
        start, end = max(0, size - int(last)), size
    elif last and int(last) < int(first):
        return None  # not a valid range: ignored, as the standard says
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= end:
        raise RangeNotSatisfiable(f"the file has {size} bytes", headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _matches(header: str, etag: str | None) -> bool:
    # If-None-Match compares weakly: W/"x" and "x" are the same version.
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or (etag is not None and etag.removeprefix("W/") in tags)


async def stored_file_response(request: Request, store: FileStore, stored: StoredFile, *,
                               filename: str | None = None) -> Response:
    """The file for a GET or HEAD: 200, 206 for a range, 304 when the caller's copy is current.
    A download is named `filename`, by default the last part of its key."""
    filename = filename or stored.key.rsplit("/", 1)[-1]
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600",
               "X-Content-Type-Options": "nosniff", "Last-Modified": format_datetime(stored.modified, usegmt=True)}
    if stored.etag:
        headers["ETag"] = stored.etag
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, stored.etag):
        return Response(status_code=304, headers=headers)

    inline = stored.content_type in INLINE_TYPES
    # Media plays in place; documents and downloads carry their name (quoted when it needs it).
    if not inline or not stored.content_type.startswith(("image/", "audio/", "video/")):
        quoted = quote(filename)
        disposition = "inline" if inline else "attachment"
        headers["Content-Disposition"] = (f'{disposition}; filename="{filename}"' if quoted == filename
                                          else f"{disposition}; filename*=utf-8''{quoted}")

    # If-Range: a range of the version the caller holds, else the whole (changed) file.
    if_range = request.headers.get("if-range")
    wanted = None if if_range and if_range not in (stored.etag, headers["Last-Modified"]) \
        else byte_range(request.headers.get("range"), stored.size)
    start, end = wanted or (0, stored.size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=stored.content_type)
    return StreamingResponse(store.read(stored.key, start, end), status_code=status, headers=headers,
                             media_type=stored.content_type)
