"""The Messenger and Instagram channels' check: the page (or Instagram account) answers with the
channel's token."""

from __future__ import annotations

from tertulia.channels.checks import Checks
from tertulia.channels.messenger.api import PageApi, page_credentials
from tertulia.channels.models import Channel
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import trusted_client


async def check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    instagram = channel.kind == "instagram"
    try:
        creds = page_credentials(channel, box)
    except ValueError:
        checks.add("credentials", False, f"credentials_missing_{channel.kind}")
        return
    checks.add("credentials", True, "credentials_ok")
    what = "instagram" if instagram else "page"
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = PageApi(client, settings.meta_graph_url, channel.kind, creds)
        await checks.ask(
            "account" if instagram else "page", api.account,
            lambda a: (f"{what}_ok", {"name": str(a.get("username") or a.get("name") or creds.page_id)}),
            (f"{what}_not_found", {"id": creds.page_id}), "Meta")
