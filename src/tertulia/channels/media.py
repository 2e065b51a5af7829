"""What the media worker (conversations/media_fetch.py) needs from a provider: a file a customer
sent, opened for reading, or the reason it cannot be had. Each provider's `media.py` speaks its
own wire format and answers in these terms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2


@dataclass(frozen=True, slots=True)
class ProviderFile:
    """A file being downloaded. `claimed_type`, `claimed_size`: what the provider says it is (never
    trusted: the worker checks the bytes); `sha256`: the hex digest it gave, when it gives one."""

    chunks: AsyncIterator[bytes]
    claimed_type: str | None = None
    claimed_size: int | None = None
    sha256: str | None = None


class MediaUnavailable(Exception):
    """The provider would not give the file. `code` says why, in words the panel has for it
    (`error.<code>`); `retry`: whether trying again later may help."""

    def __init__(self, message: str, *, code: str, retry: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry = retry


def expired(message: str) -> MediaUnavailable:
    """The provider no longer has the file (WhatsApp keeps a webhook's media about seven days)."""
    return MediaUnavailable(message, code="media_expired", retry=False)


def refused(message: str) -> MediaUnavailable:
    """The provider refused the channel's credentials: retried, since they may be fixed meanwhile."""
    return MediaUnavailable(message, code="media_credentials_refused", retry=True)


def unavailable(message: str) -> MediaUnavailable:
    """The provider or the network failed (5xx, 429, a dropped connection): retried."""
    return MediaUnavailable(message, code="media_unavailable", retry=True)


def claimed_size(value: object) -> int | None:
    """A size as a provider states it: a number, or digits in a string (a header, some JSON)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@asynccontextmanager
async def downloaded(client: httpx2.AsyncClient, url: str, who: str, failure: Callable[[int], MediaUnavailable],
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[ProviderFile]:
    """A provider's file URL fetched streaming, with the type and size its headers claim;
    `failure(status)` for an answer other than 200, `unavailable` when `who` cannot be reached."""
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise failure(response.status_code)
            yield ProviderFile(response.aiter_bytes(), claimed_type=response.headers.get("content-type"),
                               claimed_size=claimed_size(response.headers.get("content-length")))
    except httpx2.HTTPError as exc:  # the network, a dropped connection, a timeout
        raise unavailable(f"{who} could not be reached: {type(exc).__name__}") from exc
