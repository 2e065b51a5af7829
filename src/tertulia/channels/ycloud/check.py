"""The YCloud channel's check: the number in the account (which proves the API key), and the
account."""

from __future__ import annotations

from tertulia.channels.checks import Checks, quality, read_credentials
from tertulia.channels.credentials import YCloudCredentials
from tertulia.channels.models import Channel
from tertulia.channels.ycloud.api import YCloudApi
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import trusted_client


async def check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    creds = read_credentials(checks, channel, box, YCloudCredentials)
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = YCloudApi(client, settings.ycloud_api_url, creds)
        await checks.ask(
            "phone_number", api.phone_number,
            lambda a: ("ycloud_number_ok", {"number": str(a.get("displayPhoneNumber") or creds.phone_number),
                                            "name": str(a.get("verifiedName") or ""),
                                            "quality": quality(a.get("qualityRating"))}),
            ("ycloud_number_not_found", {"number": creds.phone_number, "waba": creds.waba_id}), "YCloud")
        if checks.refused is not None:
            return
        await checks.ask(
            "business_account", api.business_account,
            lambda a: ("ycloud_account_ok", {"name": str(a.get("name") or creds.waba_id)}),
            ("ycloud_account_not_found", {"id": creds.waba_id}), "YCloud")
