"""`POST /admin/channels/{id}/check`: asks the provider, with the channel's own credentials, whether
they work, and says what works and what does not in words a business owner understands.

WhatsApp Cloud: the phone number, the WhatsApp Business account, and that the number belongs to
it. YCloud: the number in the account (which proves the API key), and the account. `api`: its
outbound URL and signing secret. A check that proves the credentials brings a channel that needed
attention back (its paused deliveries go); one the provider refuses marks it as needing attention.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tertulia.channels import service as channels
from tertulia.channels.credentials import (
    ApiChannelCredentials,
    C,
    WhatsAppCloudCredentials,
    YCloudCredentials,
    credentials_of,
)
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure
from tertulia.channels.whatsapp_cloud.api import CloudApi
from tertulia.channels.ycloud.api import YCloudApi
from tertulia.delivery import service as delivery
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import UrlNotAllowed, check_url, trusted_client
from tertulia.kit.errors import Invalid
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["channels"], route_class=JsonBodyRoute)

QUALITY = {"GREEN": "alta", "YELLOW": "media", "RED": "baja", "UNKNOWN": "sin datos aún"}


class CheckItem(BaseModel):
    name: str = Field(description="what was checked: credentials, phone_number, business_account...")
    ok: bool
    detail: str = Field(description="what works, or what is wrong and what to do (for a person)")


class ChannelCheck(BaseModel):
    ok: bool = Field(description="every check passed")
    checks: list[CheckItem]
    status: str = Field(description="the channel's status after the check: ok | attention")


class _Checks:
    def __init__(self) -> None:
        self.items: list[CheckItem] = []
        self.refused: ProviderFailure | None = None  # the provider refused the credentials

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.items.append(CheckItem(name=name, ok=ok, detail=detail))
        return ok

    async def ask(self, name: str, call: Callable[[], Awaitable[dict[str, Any]]],
                  ok: Callable[[dict[str, Any]], str], missing: str, provider: str) -> dict[str, Any] | None:
        """One look-up: its answer (and a passed check), or None (and a failed one)."""
        try:
            answer = await call()
        except ProviderFailure as failure:
            if failure.action == "pause":
                self.refused = failure
                self.add(name, False, failure.reason)
            elif failure.code == "network":
                self.add(name, False, f"No se pudo contactar con {provider}: inténtalo de nuevo en un momento.")
            elif failure.action == "retry":
                self.add(name, False, f"{provider} no respondió bien ahora mismo ({failure.code}): inténtalo de "
                                      "nuevo en un momento.")
            else:
                self.add(name, False, missing)
            return None
        self.add(name, True, ok(answer))
        return answer


def _credentials(checks: _Checks, channel: Channel, box: SecretBox, model: type[C], what: str) -> C | None:
    """The channel's credentials, or None after a failed `credentials` check saying what to give."""
    try:
        creds = credentials_of(channel, box, model)
    except ValueError:
        checks.add("credentials", False, f"Faltan credenciales o no tienen la forma esperada: indica {what}.")
        return None
    checks.add("credentials", True, "Las credenciales están completas.")
    return creds


def _quality(value: Any) -> str:
    return QUALITY.get(str(value or "UNKNOWN").upper(), str(value))


async def _check_cloud(channel: Channel, box: SecretBox, graph_url: str, checks: _Checks) -> None:
    creds = _credentials(checks, channel, box, WhatsAppCloudCredentials, "el Phone number ID, el WhatsApp Business "
                         "Account ID, el token de acceso y el App secret")
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = CloudApi(client, graph_url, creds)
        number = await checks.ask(
            "phone_number", api.phone_number,
            lambda a: (f"El número {a.get('display_phone_number') or creds.phone_number_id} "
                       f"({a.get('verified_name') or 'sin nombre verificado'}) responde; calidad: "
                       f"{_quality(a.get('quality_rating'))}."),
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


async def _check_ycloud(channel: Channel, box: SecretBox, ycloud_url: str, checks: _Checks) -> None:
    creds = _credentials(checks, channel, box, YCloudCredentials, "la clave de API de YCloud, el número (con +), el "
                         "WABA ID y el secreto del webhook")
    if creds is None:
        return
    async with trusted_client(timeout=15, total_timeout=30) as client:
        api = YCloudApi(client, ycloud_url, creds)
        await checks.ask(
            "phone_number", api.phone_number,
            lambda a: (f"El número {a.get('displayPhoneNumber') or creds.phone_number} "
                       f"({a.get('verifiedName') or 'sin nombre verificado'}) está conectado en YCloud; calidad: "
                       f"{_quality(a.get('qualityRating'))}."),
            f"YCloud no encuentra el número {creds.phone_number} en la cuenta de WhatsApp {creds.waba_id}: revisa el "
            "número (en formato internacional, con +) y el WABA ID.", "YCloud")
        if checks.refused is not None:
            return
        await checks.ask(
            "business_account", api.business_account,
            lambda a: f"La cuenta de WhatsApp Business «{a.get('name') or creds.waba_id}» está en YCloud.",
            f"YCloud no encuentra la cuenta de WhatsApp Business {creds.waba_id}: revisa el WABA ID.", "YCloud")


async def _check_api(channel: Channel, box: SecretBox, checks: _Checks) -> None:
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


@router.post("/channels/{channel_id}/check", response_model=ChannelCheck)
async def check_channel(channel_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession,
                        request: Request) -> ChannelCheck:
    """Try the channel's credentials against its provider and say, check by check, what works and
    what to fix."""
    channel = await channels.require_channel(db, principal.tenant_id, channel_id)
    if channel.kind in ("facebook", "instagram"):
        raise Invalid("this kind of channel cannot be checked yet", code="check_not_available")
    settings = request.app.state.settings
    box = request.app.state.secret_box
    checks = _Checks()
    db.expunge(channel)
    await db.rollback()  # no transaction (SQLite's writer) held while the provider answers
    if channel.kind == "whatsapp_cloud":
        await _check_cloud(channel, box, settings.meta_graph_url, checks)
    elif channel.kind == "ycloud":
        await _check_ycloud(channel, box, settings.ycloud_api_url, checks)
    elif channel.kind == "api":
        await _check_api(channel, box, checks)
    else:
        checks.add("channel", True, "Este canal no usa credenciales de un proveedor: no hay nada que comprobar.")
    ok = all(item.ok for item in checks.items)
    current = await channels.require_channel(db, principal.tenant_id, channel_id)
    if checks.refused is not None:
        current.status, current.status_reason = "attention", checks.refused.reason
    elif ok and current.status == "attention":
        await delivery.resume_channel(db, current)
    return ChannelCheck(ok=ok, checks=checks.items, status=current.status)
