"""What a channel check (`POST /admin/channels/{id}/check`, channels/check.py) is made of: each
provider's check (`channels/<provider>/check.py`) asks its provider with the channel's own
credentials and adds, look-up by look-up, what works and what to fix, in words a business owner
understands.

Each item says it by a stable `code` with its `params` (the panel says it in the user's language
from them, as it says errors by their code: web/src/lib/checkText.ts), and in Spanish, the
product's language, as `detail` (from TEXTS) for any other client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from tertulia.channels.credentials import C, credentials_of
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox

QUALITY = {"GREEN": "alta", "YELLOW": "media", "RED": "baja", "UNKNOWN": "sin datos aún"}

# Every code a check says, in Spanish; the panel's dictionaries hold the same codes (check.<code>).
TEXTS: dict[str, str] = {
    "credentials_ok": "Las credenciales están completas.",
    "credentials_missing_whatsapp_cloud": "Faltan credenciales o no tienen la forma esperada: indica el Phone number "
                                          "ID, el WhatsApp Business Account ID, el token de acceso y el App secret.",
    "credentials_missing_ycloud": "Faltan credenciales o no tienen la forma esperada: indica la clave de API de "
                                  "YCloud, el número (con +), el WABA ID y el secreto del webhook.",
    "credentials_missing_facebook": "Faltan credenciales o no tienen la forma esperada: indica el ID de la página, el "
                                    "token de acceso de la página y el App secret.",
    "credentials_missing_instagram": "Faltan credenciales o no tienen la forma esperada: indica el ID de la cuenta de "
                                     "Instagram, el token de acceso y el App secret.",
    "provider_unreachable": "No se pudo contactar con {provider}: inténtalo de nuevo en un momento.",
    "provider_retry": "{provider} no respondió bien ahora mismo ({provider_code}): inténtalo de nuevo en un "
                      "momento.",
    "provider_refused": "{reason}",
    "cloud_number_ok": "El número {number} ({name}) responde; calidad: {quality}.",
    "cloud_number_not_found": "Meta no encuentra el número con id {id} o el token no tiene permiso sobre él: revisa el "
                              "«Phone number ID» y los permisos del token (whatsapp_business_messaging).",
    "cloud_account_ok": "La cuenta de WhatsApp Business «{name}» responde.",
    "cloud_account_not_found": "Meta no encuentra la cuenta de WhatsApp Business {id} o el token no tiene permiso "
                               "sobre ella: revisa el «WhatsApp Business Account ID» y los permisos del token "
                               "(whatsapp_business_management).",
    "number_in_account": "El número pertenece a esa cuenta.",
    "number_not_in_account": "El número no pertenece a la cuenta de WhatsApp Business indicada: revisa los dos "
                             "identificadores.",
    "ycloud_number_ok": "El número {number} ({name}) está conectado en YCloud; calidad: {quality}.",
    "ycloud_number_not_found": "YCloud no encuentra el número {number} en la cuenta de WhatsApp {waba}: revisa el "
                               "número (en formato internacional, con +) y el WABA ID.",
    "ycloud_account_ok": "La cuenta de WhatsApp Business «{name}» está en YCloud.",
    "ycloud_account_not_found": "YCloud no encuentra la cuenta de WhatsApp Business {id}: revisa el WABA ID.",
    "page_ok": "La página «{name}» responde con este token.",
    "page_not_found": "Meta no encuentra la página {id} o el token no tiene permiso sobre ella: revisa el "
                      "identificador y los permisos del token (pages_messaging).",
    "instagram_ok": "La cuenta de Instagram «{name}» responde con este token.",
    "instagram_not_found": "Meta no encuentra la cuenta de Instagram {id} o el token no tiene permiso sobre ella: "
                           "revisa el identificador y los permisos del token (instagram_manage_messages).",
    "outbound_url_none": "Sin URL de salida: los mensajes quedan como enviados y tu integración los lee por la API.",
    "outbound_url_ok": "La URL de salida está permitida.",
    "outbound_url_refused": "La URL de salida no está permitida: {reason}",
    "outbound_secret_ok": "Los envíos van firmados con el secreto del canal.",
    "outbound_secret_missing": "Falta el secreto con que se firman los envíos: guárdalo en "
                               "credentials.outbound_secret.",
    "nothing_to_check": "Este canal no usa credenciales de un proveedor: no hay nada que comprobar.",
}


class CheckItem(BaseModel):
    name: str = Field(description="what was checked: credentials, phone_number, business_account...")
    ok: bool
    code: str = Field(description="what it says, by a stable code (the panel says it in the user's language)")
    params: dict[str, str] = Field(default_factory=dict, description="the specifics the code's words name: a "
                                   "number, an account's name, a quality (GREEN, YELLOW, RED, UNKNOWN), the "
                                   "provider's error code (`provider_code`) and its reason for a person (`reason`)...")
    detail: str = Field(description="what works, or what is wrong and what to do (for a person, in Spanish)")


def check_text(code: str, params: dict[str, str]) -> str:
    """The code's Spanish words with its specifics (a missing name or quality said as such)."""
    shown = {**params, "name": params.get("name") or "sin nombre verificado",
             "quality": QUALITY.get(params.get("quality", "UNKNOWN").upper(), params.get("quality", ""))}
    return TEXTS[code].format(**shown)


class ChannelCheck(BaseModel):
    ok: bool = Field(description="every check passed")
    checks: list[CheckItem]
    status: str = Field(description="the channel's status after the check: ok | attention")


class Checks:
    def __init__(self) -> None:
        self.items: list[CheckItem] = []
        self.refused: ProviderFailure | None = None  # the provider refused the credentials

    def add(self, name: str, ok: bool, code: str, /, **params: str) -> bool:
        # Positional-only: a param may be called `name` or `code` (an account's name, a provider's code).
        self.items.append(CheckItem(name=name, ok=ok, code=code, params=params, detail=check_text(code, params)))
        return ok

    async def ask(self, name: str, call: Callable[[], Awaitable[dict[str, Any]]],
                  ok: Callable[[dict[str, Any]], tuple[str, dict[str, str]]], missing: tuple[str, dict[str, str]],
                  provider: str) -> dict[str, Any] | None:
        """One look-up: its answer (and a passed check), or None (and a failed one). `ok` and
        `missing` are the code and params said when it works and when the provider does not know it."""
        try:
            answer = await call()
        except ProviderFailure as failure:
            if failure.action == "pause":
                self.refused = failure
                # The reason is the provider's error said for a person (in Spanish); the panel says
                # other languages by the provider's code, as it does for a failed delivery.
                self.add(name, False, "provider_refused", provider_code=failure.code or "", reason=failure.reason)
            elif failure.code == "network":
                self.add(name, False, "provider_unreachable", provider=provider)
            elif failure.action == "retry":
                self.add(name, False, "provider_retry", provider=provider, provider_code=failure.code or "")
            else:
                self.add(name, False, missing[0], **missing[1])
            return None
        code, params = ok(answer)
        self.add(name, True, code, **params)
        return answer


def read_credentials(checks: Checks, channel: Channel, box: SecretBox, model: type[C]) -> C | None:
    """The channel's credentials, or None after a failed `credentials` check saying what to give."""
    try:
        creds = credentials_of(channel, box, model)
    except ValueError:
        checks.add("credentials", False, f"credentials_missing_{channel.kind}")
        return None
    checks.add("credentials", True, "credentials_ok")
    return creds


def quality(value: Any) -> str:
    """The provider's quality rating as a code (GREEN, YELLOW, RED, UNKNOWN)."""
    return str(value or "UNKNOWN").upper()


async def nothing_to_check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    """Channels without a provider's credentials (`web`)."""
    checks.add("channel", True, "nothing_to_check")
