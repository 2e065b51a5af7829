"""A file a customer sent on Messenger or Instagram, downloaded from Meta's CDN (docs/channels.md,
"Messenger and Instagram").

The webhook carries the file as a URL (`payload.url`, a signed CDN link anyone holding it can
fetch, no token). The webhook is signed with a secret the tenant holds, so a tenant could point
that URL anywhere: it is followed only when its host is Meta's (`fbcdn.net`, `fbsbx.com`,
`cdninstagram.com`, `facebook.com`, `instagram.com` and their subdomains) or the operator's
`TERTULIA_META_GRAPH_URL` host (the sandbox), and never with a credential.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx2

from tertulia.channels.media import MediaUnavailable, ProviderFile, downloaded, expired, unavailable
from tertulia.config import Settings

META_HOSTS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com", "instagram.com")


def is_meta_url(url: str, settings: Settings) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    graph = urlsplit(settings.meta_graph_url)
    if (parts.scheme, parts.netloc) == (graph.scheme, graph.netloc):
        return True
    host = parts.hostname.lower().rstrip(".")
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in META_HOSTS)


@asynccontextmanager
async def open_media(client: httpx2.AsyncClient, settings: Settings, credentials: Any,
                     url: str) -> AsyncIterator[ProviderFile]:
    """The file behind a webhook's attachment URL, streaming; MediaUnavailable when it cannot be had."""
    if not is_meta_url(url, settings):
        raise expired("the attachment's URL is not Meta's: it is not followed")
    async with downloaded(client, url, "Meta", _failure) as file:
        yield file


def _failure(status: int) -> MediaUnavailable:
    if status in (403, 404, 410):  # the link's signature expired, or the file is gone
        return expired(f"Meta's attachment URL answered {status}: the file is no longer there")
    return unavailable(f"Meta's attachment URL answered {status}")
