"""Attachment files kept on this server: `GET /media/{tenant_id}/{path}`.

Files live under `data_dir/media/<tenant_id>/`. Only a member (or API token) of that tenant may read
them; for anyone else, and for any path that would leave the tenant's folder, the answer is the same
404 as for a missing file, so a caller learns nothing about other tenants. Range requests (needed
by `<video>` and `<audio>` to seek) are handled by Starlette's FileResponse.
"""

from __future__ import annotations

import mimetypes
import uuid
from pathlib import Path, PurePosixPath

from fastapi import APIRouter
from fastapi.responses import FileResponse

from tertulia.kit.errors import NotFound
from tertulia.kit.web import AppSettings
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(tags=["media"])

# Types a browser may render inline. Anything else (HTML, SVG, scripts, unknown) is sent as a
# download, so a file a customer sent can never run script in the panel's origin.
INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
    "audio/wav", "audio/x-wav", "audio/mpeg", "audio/ogg", "audio/webm", "audio/aac", "audio/mp4",
    "video/webm", "video/mp4", "video/ogg", "application/pdf", "text/plain",
})
EXTRA_TYPES = {".webm": "video/webm", ".wav": "audio/wav", ".opus": "audio/ogg", ".m4a": "audio/mp4"}


def media_root(data_dir: Path, tenant_id: uuid.UUID) -> Path:
    """The folder holding one tenant's attachment files."""
    return data_dir / "media" / str(tenant_id)


def media_url(tenant_id: uuid.UUID, relative: str) -> str:
    """The url messages carry for a file stored under the tenant's media folder."""
    return f"/media/{tenant_id}/{relative}"


def content_type_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _resolve(root: Path, relative: str) -> Path | None:
    parts = PurePosixPath(relative).parts
    # Reject anything but plain names: no "..", no absolute paths, no hidden files.
    if not parts or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        return None
    root = root.resolve()
    target = root.joinpath(*parts).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target


# HEAD is served but not documented apart: one route for both gave them one OpenAPI operation id.
@router.get("/media/{tenant_id}/{path:path}", response_class=FileResponse,
            responses={404: {"description": "no such file"}})
@router.head("/media/{tenant_id}/{path:path}", response_class=FileResponse, include_in_schema=False)
async def get_media(tenant_id: uuid.UUID, path: str, principal: CurrentPrincipal,
                    settings: AppSettings) -> FileResponse:
    """An attachment file of the caller's tenant (images, audio, video with range requests,
    documents with their file name)."""
    target = None
    if tenant_id == principal.tenant_id:
        target = _resolve(media_root(settings.data_dir, tenant_id), path)
    if target is None:
        raise NotFound("no such file", code="media_not_found")
    media_type = content_type_of(target)
    inline = media_type in INLINE_TYPES
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    needs_name = not inline or not media_type.startswith(("image/", "audio/", "video/"))
    return FileResponse(
        target, media_type=media_type, headers=headers,
        filename=target.name if needs_name else None,
        content_disposition_type="inline" if inline else "attachment",
    )
