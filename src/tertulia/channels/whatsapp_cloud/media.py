"""A file a customer sent through the WhatsApp Cloud API, downloaded from Meta (docs/channels.md,
"Media").

A webhook names the file by a media id (valid about seven days). `GET {graph}/{media-id}` with the
channel's token answers `{url, mime_type, sha256 (hex), file_size}`; the url (another host,
`lookaside.fbsbx.com`, valid about five minutes) is then fetched with the same token, following
redirects. That url is Meta's answer to an authenticated call to the operator's
`TERTULIA_META_GRAPH_URL`, never something a tenant or a customer writes, so it is fetched on the
trusted client like the Graph API itself (kit/egress.py); only http(s) urls are followed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2

from tertulia.channels.credentials import WhatsAppCloudCredentials
from tertulia.channels.media import MediaUnavailable, ProviderFile, claimed_size, expired, refused, unavailable
from tertulia.config import Settings

MEDIA_ID = re.compile(r"^[0-9A-Za-z_.-]{1,128}$")
TOKEN_CODES = {190, 102, 463}  # Graph: the access token is invalid or expired


def _graph_error(response: httpx2.Response) -> tuple[int | None, int | None, str]:
    """(code, subcode, message) of a Graph error body, as far as it is one."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, None, ""
    if not isinstance(error, dict):
        return None, None, ""
    code, subcode = error.get("code"), error.get("error_subcode")
    return (code if isinstance(code, int) else None, subcode if isinstance(subcode, int) else None,
            str(error.get("message") or "")[:200])


def _lookup_failure(response: httpx2.Response) -> MediaUnavailable:
    code, _subcode, message = _graph_error(response)
    said = f"Meta answered {response.status_code}" + (f" (#{code}) {message}" if code else "")
    if response.status_code == 401 or code in TOKEN_CODES:
        return refused(f"{said}: the channel's access token was refused")
    if response.status_code == 404 or code == 100:  # (#100, subcode 33): no such object (any more)
        return expired(f"{said}: the media id is unknown or expired (Meta keeps a webhook's media about 7 days)")
    return unavailable(said)


def _download_failure(response: httpx2.Response) -> MediaUnavailable:
    if response.status_code in (401, 403):
        return refused(f"Meta's media url answered {response.status_code}: the access token was refused")
    # A 404 here is most likely the url's own expiry (minutes): the next attempt looks the id up again.
    return unavailable(f"Meta's media url answered {response.status_code}")


@asynccontextmanager
async def open_media(client: httpx2.AsyncClient, settings: Settings, credentials: WhatsAppCloudCredentials,
                     media_id: str) -> AsyncIterator[ProviderFile]:
    """The file behind a webhook's media id, streaming; MediaUnavailable when Meta will not give it."""
    if not MEDIA_ID.fullmatch(media_id):
        raise expired("not a WhatsApp media id")
    auth = {"Authorization": f"Bearer {credentials.access_token}"}
    try:
        answer = await client.get(f"{settings.meta_graph_url.rstrip('/')}/{media_id}", headers=auth)
        if answer.status_code != 200:
            raise _lookup_failure(answer)
        try:
            info = answer.json()
        except ValueError:
            info = None
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise unavailable("Meta's media look-up did not answer a url")
        async with client.stream("GET", url, headers=auth) as response:
            if response.status_code != 200:
                raise _download_failure(response)
            sha256 = info.get("sha256")
            yield ProviderFile(response.aiter_bytes(), claimed_type=str(info.get("mime_type") or "") or None,
                               claimed_size=claimed_size(info.get("file_size")),  # (some show it as a string)
                               sha256=sha256.lower() if isinstance(sha256, str) else None)
    except httpx2.HTTPError as exc:  # the network, a dropped connection, a timeout
        raise unavailable(f"Meta could not be reached: {type(exc).__name__}") from exc
