"""The WhatsApp Cloud API channel's check: the phone number, the WhatsApp Business account, and
that the number belongs to it."""

from __future__ import annotations

from tertulia.channels.checks import Checks, quality, read_credentials
from tertulia.channels.credentials import WhatsAppCloudCredentials
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure
from tertulia.channels.whatsapp_cloud.api import CloudApi
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import trusted_client


async def check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    creds = read_credentials(checks, channel, box, WhatsAppCloudCredentials)
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = CloudApi(client, settings.meta_graph_url, creds)
        number = await checks.ask(
            "phone_number", api.phone_number,
            lambda a: ("cloud_number_ok", {"number": str(a.get("display_phone_number") or creds.phone_number_id),
                                           "name": str(a.get("verified_name") or ""),
                                           "quality": quality(a.get("quality_rating"))}),
            ("cloud_number_not_found", {"id": creds.phone_number_id}), "Meta")
        if checks.refused is not None:
            return
        account = await checks.ask(
            "business_account", api.business_account,
            lambda a: ("cloud_account_ok", {"name": str(a.get("name") or creds.waba_id)}),
            ("cloud_account_not_found", {"id": creds.waba_id}), "Meta")
        if number is None or account is None:
            return
        try:
            numbers = await api.phone_numbers()
        except ProviderFailure:
            return
        belongs = any(str(n.get("id")) == creds.phone_number_id for n in numbers)
        checks.add("number_in_account", belongs, "number_in_account" if belongs else "number_not_in_account")
