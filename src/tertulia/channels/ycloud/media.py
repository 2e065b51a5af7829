"""A file a customer sent through YCloud, downloaded from YCloud (docs/channels.md, "YCloud").

YCloud's inbound media object carries the media `id` and a `link`,
`https://api.ycloud.com/v2/whatsapp/media/download/{id}`, fetched with the channel's `X-API-Key`.
The link is never followed as given: a webhook body is signed with a secret the tenant holds, so a
tenant could write any address there and have the API key sent to it. The file is fetched from
the operator's `TERTULIA_YCLOUD_API_URL` at `/whatsapp/media/download/{id}`, the id taken from the
link when that is what the webhook gave.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit

import httpx2

from tertulia.channels.credentials import YCloudCredentials
from tertulia.channels.media import MediaUnavailable, ProviderFile, downloaded, expired, refused, unavailable
from tertulia.config import Settings

DOWNLOAD_PATH = "/whatsapp/media/download/"
MEDIA_ID = re.compile(r"^[0-9A-Za-z_.=-]{1,256}$")


def media_id_of(reference: str) -> str | None:
    """The media id of a webhook's media reference: the id itself, or its download link."""
    if reference.startswith(("https://", "http://")):
        path = urlsplit(reference).path
        if DOWNLOAD_PATH not in path:
            return None
        reference = path.rsplit(DOWNLOAD_PATH, 1)[1]
    return reference if MEDIA_ID.fullmatch(reference) else None


@asynccontextmanager
async def open_media(client: httpx2.AsyncClient, settings: Settings, credentials: YCloudCredentials,
                     reference: str) -> AsyncIterator[ProviderFile]:
    """The file behind a webhook's media id (or link), streaming; MediaUnavailable when YCloud will
    not give it."""
    media_id = media_id_of(reference)
    if media_id is None:
        raise expired("not a YCloud media id or download link")
    url = f"{settings.ycloud_api_url.rstrip('/')}{DOWNLOAD_PATH}{quote(media_id, safe='')}"
    async with downloaded(client, url, "YCloud", _failure, {"X-API-Key": credentials.api_key}) as file:
        yield file


def _failure(status: int) -> MediaUnavailable:
    if status in (401, 403):
        return refused(f"YCloud answered {status}: the channel's API key was refused")
    if status == 404:
        return expired("YCloud answered 404: the media is unknown or expired")
    return unavailable(f"YCloud answered {status}")
