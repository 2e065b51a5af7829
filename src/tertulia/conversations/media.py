"""Attachment files: `GET /media/{tenant_id}/{path}`, kept in the file store under
`media/<tenant_id>/<path>` (kit/storage.py).

Only a member (or API token) of that tenant may read them; for anyone else, and for any name that
cannot be a stored file, the answer is the same 404 as for a missing file, so a caller learns
nothing about other tenants. Range requests (how `<video>` and `<audio>` seek) and revalidation are
served by kit/file_responses.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tertulia.kit.errors import NotFound
from tertulia.kit.file_responses import AppFileStore, stored_file_response
from tertulia.kit.storage import InvalidKey
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(tags=["media"])


def media_key(tenant_id: uuid.UUID, name: str) -> str:
    """The store key of one of a tenant's attachment files."""
    return f"media/{tenant_id}/{name}"


def media_url(tenant_id: uuid.UUID, name: str) -> str:
    """The url messages carry for one of a tenant's attachment files."""
    return f"/media/{tenant_id}/{name}"


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}},
    206: {"description": "the byte range asked for with `Range`"},
    304: {"description": "the caller's copy (`If-None-Match`) is current"},
    404: {"description": "no such file"},
    416: {"description": "the range starts beyond the end of the file"},
}


# HEAD is served but not documented apart: one route for both gave them one OpenAPI operation id.
@router.get("/media/{tenant_id}/{path:path}", response_class=Response, responses=FILE_RESPONSES)
@router.head("/media/{tenant_id}/{path:path}", response_class=Response, include_in_schema=False)
async def get_media(tenant_id: uuid.UUID, path: str, request: Request, principal: CurrentPrincipal,
                    store: AppFileStore) -> Response:
    """An attachment file of the caller's tenant (images, audio, video with range requests,
    documents with their file name)."""
    stored = None
    if tenant_id == principal.tenant_id:
        try:
            stored = await store.stat(media_key(tenant_id, path))
        except InvalidKey:
            pass
    if stored is None:
        raise NotFound("no such file", code="media_not_found")
    return await stored_file_response(request, store, stored)

