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
    creds = read_credentials(checks, channel, box, WhatsAppCloudCredentials, "el Phone number ID, el WhatsApp "
                             "Business Account ID, el token de acceso y el App secret")
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = CloudApi(client, settings.meta_graph_url, creds)
        number = await checks.ask(
            "phone_number", api.phone_number,
            lambda a: (f"El número {a.get('display_phone_number') or creds.phone_number_id} "
                       f"({a.get('verified_name') or 'sin nombre verificado'}) responde; calidad: "
                       f"{quality(a.get('quality_rating'))}."),
            f"Meta no encuentra el número con id {creds.phone_number_id} o el token no tiene permiso sobre él: "
            "revisa el «Phone number ID» y los permisos del token (whatsapp_business_messaging).", "Meta")
        if checks.refused is not None:
            return
        account = await checks.ask(
            "business_account", api.business_account,
            lambda a: f"La cuenta de WhatsApp Business «{a.get('name') or creds.waba_id}» responde.",
            f"Meta no encuentra la cuenta de WhatsApp Business {creds.waba_id} o el token no tiene permiso sobre "
            "ella: revisa el «WhatsApp Business Account ID» y los permisos del token (whatsapp_business_management).",
            "Meta")
        if number is None or account is None:
            return
        try:
            numbers = await api.phone_numbers()
        except ProviderFailure:
            return
        belongs = any(str(n.get("id")) == creds.phone_number_id for n in numbers)
        checks.add("number_in_account", belongs, "El número pertenece a esa cuenta." if belongs else (
            "El número no pertenece a la cuenta de WhatsApp Business indicada: revisa los dos identificadores."))
