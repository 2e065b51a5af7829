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
    creds = read_credentials(checks, channel, box, YCloudCredentials, "la clave de API de YCloud, el número (con +), "
                             "el WABA ID y el secreto del webhook")
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = YCloudApi(client, settings.ycloud_api_url, creds)
        await checks.ask(
            "phone_number", api.phone_number,
            lambda a: (f"El número {a.get('displayPhoneNumber') or creds.phone_number} "
                       f"({a.get('verifiedName') or 'sin nombre verificado'}) está conectado en YCloud; calidad: "
                       f"{quality(a.get('qualityRating'))}."),
            f"YCloud no encuentra el número {creds.phone_number} en la cuenta de WhatsApp {creds.waba_id}: revisa el "
            "número (en formato internacional, con +) y el WABA ID.", "YCloud")
        if checks.refused is not None:
            return
        await checks.ask(
            "business_account", api.business_account,
            lambda a: f"La cuenta de WhatsApp Business «{a.get('name') or creds.waba_id}» está en YCloud.",
            f"YCloud no encuentra la cuenta de WhatsApp Business {creds.waba_id}: revisa el WABA ID.", "YCloud")
