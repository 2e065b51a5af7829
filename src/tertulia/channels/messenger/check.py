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
        checks.add("credentials", False, "Faltan credenciales o no tienen la forma esperada: indica " + (
            "el ID de la cuenta de Instagram, el token de acceso y el App secret." if instagram
            else "el ID de la página, el token de acceso de la página y el App secret."))
        return
    checks.add("credentials", True, "Las credenciales están completas.")
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = PageApi(client, settings.meta_graph_url, channel.kind, creds)
        what = "La cuenta de Instagram" if instagram else "La página"
        await checks.ask(
            "account" if instagram else "page", api.account,
            lambda a: f"{what} «{a.get('username') or a.get('name') or creds.page_id}» responde con este token.",
            f"Meta no encuentra {'la cuenta de Instagram' if instagram else 'la página'} {creds.page_id} o el token "
            "no tiene permiso sobre ella: revisa el identificador y los permisos del token ("
            f"{'instagram_manage_messages' if instagram else 'pages_messaging'}).", "Meta")
