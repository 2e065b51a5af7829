"""The `api` channel's check: its outbound URL (through the egress fence) and its signing secret."""

from __future__ import annotations

from tertulia.channels.checks import Checks
from tertulia.channels.credentials import ApiChannelCredentials, credentials_of
from tertulia.channels.models import Channel
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import UrlNotAllowed, check_url


async def check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    if not channel.outbound_url:
        checks.add("outbound_url", True, "outbound_url_none")
        return
    try:
        await check_url(channel.outbound_url, what="the outbound URL")
        checks.add("outbound_url", True, "outbound_url_ok")
    except UrlNotAllowed as exc:
        checks.add("outbound_url", False, "outbound_url_refused", reason=exc.message)
    try:
        secret = credentials_of(channel, box, ApiChannelCredentials).outbound_secret
    except ValueError:
        secret = None
    checks.add("outbound_secret", bool(secret), "outbound_secret_ok" if secret else "outbound_secret_missing")
