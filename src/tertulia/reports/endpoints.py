"""Generated reports: `GET /reports/{tenant_id}/{path}`, kept in the file store under
`<REPORTS_DIR>/<tenant_id>/<path>`, served only to members (and API tokens) of that tenant; anyone
else, and any name that cannot be a stored file, gets the same 404 as a missing file.

A report's map page (`*.html`, written by reports/maps.py) is shown in place, under a policy that
lets it run only this server's scripts (Leaflet and map.js at `/static/leaflet/`) and load images
from here and from the configured tile server. Every other file is a download.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from tertulia.config import Settings
from tertulia.conversations.media import FILE_RESPONSES
from tertulia.kit.errors import NotFound
from tertulia.kit.file_responses import AppFileStore, stored_file_response
from tertulia.kit.storage import InvalidKey
from tertulia.reports.tools import report_key
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(tags=["reports"])
STATIC = Path(__file__).resolve().parent / "static"


def map_policy(settings: Settings) -> str:
    tiles = urlsplit(settings.map_tiles_url)
    # A `{s}` subdomain is Leaflet's a/b/c rotation over the tile server's hosts.
    host = tiles.netloc.replace("{s}", "*", 1)
    tile_source = f" {tiles.scheme}://{host}" if tiles.scheme in ("http", "https") and host else ""
    return (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{tile_source}; "
            "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


@router.get("/reports/{tenant_id}/{path:path}", response_class=Response, responses=FILE_RESPONSES)
@router.head("/reports/{tenant_id}/{path:path}", response_class=Response, include_in_schema=False)
async def get_report(tenant_id: uuid.UUID, path: str, request: Request, principal: CurrentPrincipal,
                     store: AppFileStore) -> Response:
    """A report file of the caller's tenant (DOCX, PDF, CSV downloads; the map shown in place)."""
    settings: Settings = request.app.state.settings
    stored = None
    if tenant_id == principal.tenant_id:
        try:
            stored = await store.stat(report_key(settings, tenant_id, path))
        except InvalidKey:
            pass
    if stored is None:
        raise NotFound("no such report", code="report_not_found")
    response = await stored_file_response(request, store, stored)
    if stored.content_type == "text/html":
        response.headers["Content-Disposition"] = "inline"
        response.headers["Content-Security-Policy"] = map_policy(settings)
    return response


@router.get("/static/leaflet/{path:path}", include_in_schema=False)
async def leaflet_file(path: str) -> Response:
    """Leaflet (the npm package's files, shipped in the Python package) and the maps' own script."""
    target = (STATIC / "leaflet" / path).resolve()
    if not target.is_file() or (STATIC / "leaflet").resolve() not in target.parents or target.name == "LICENSE":
        raise NotFound("no such file")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
