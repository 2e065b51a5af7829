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
        checks.add("outbound_url", True, "Sin URL de salida: los mensajes quedan como enviados y tu integración los "
                                         "lee por la API.")
        return
    try:
        await check_url(channel.outbound_url, what="the outbound URL")
        checks.add("outbound_url", True, "La URL de salida está permitida.")
    except UrlNotAllowed as exc:
        checks.add("outbound_url", False, f"La URL de salida no está permitida: {exc.message}")
    try:
        secret = credentials_of(channel, box, ApiChannelCredentials).outbound_secret
    except ValueError:
        secret = None
    checks.add("outbound_secret", bool(secret), "Los envíos van firmados con el secreto del canal." if secret else (
        "Falta el secreto con que se firman los envíos: guárdalo en credentials.outbound_secret."))

