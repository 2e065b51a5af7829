"""What a provider's API answers when a send (or a look-up) does not go through, classified by what
Tertulia does about it, with a reason a person understands (docs/channels.md, "How Tertulia
sends"). The WhatsApp Cloud and YCloud clients raise `ProviderFailure`; the delivery worker acts on
its `action`; the inbox shows its `reason`.

The reasons are for the business's people (the panel shows them on the message): Spanish, the
product's language, with what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

# retry: a passing problem (rate limits, 5xx, the network): try again later, up to a limit.
# recipient: the pair rate limit: this recipient only, later.
# fail: the message cannot go as it is (closed window, invalid recipient, policy): `failed`.
# pause: the channel's credentials or account are refused: its deliveries wait until fixed.
Action = Literal["retry", "recipient", "fail", "pause"]

# Our own messages as the providers carry them back (YCloud's `externalId`, Meta's
# `biz_opaque_callback_data`): the statuses and echoes of a send can be told apart from others'.
OUR_REFERENCE = re.compile(r"^tertulia-(\d{1,19})$")


def our_reference(message_id: int) -> str:
    return f"tertulia-{message_id}"


def our_message_id(reference: str | None) -> int | None:
    """The message id in one of our references, or None when it is not ours."""
    found = OUR_REFERENCE.match(reference or "")
    return int(found.group(1)) if found else None


# Meta's error codes (WhatsApp Cloud, and YCloud's `whatsappApiError`): what Tertulia does, and
# what a person reads.
WINDOW_CLOSED = ("Han pasado más de 24 horas desde el último mensaje del cliente: WhatsApp solo permite "
                 "escribirle con una plantilla aprobada. Envía una plantilla para retomar la conversación.")
RATE_LIMITED = "WhatsApp limitó los envíos por un momento; Tertulia lo reintenta sola."
META_CODES: dict[int, tuple[Action, str]] = {
    4: ("retry", "La aplicación de Meta llegó a su límite de llamadas; Tertulia lo reintenta sola."),
    80007: ("retry", RATE_LIMITED),
    130429: ("retry", RATE_LIMITED),
    131056: ("recipient", "Demasiados mensajes seguidos a este cliente; Tertulia lo reintenta en unos segundos."),
    131047: ("fail", WINDOW_CLOSED),
    131026: ("fail", "WhatsApp no pudo entregar el mensaje: el número no usa WhatsApp o su aplicación no puede "
                     "recibirlo."),
    131021: ("fail", "El destinatario es el mismo número que envía."),
    131048: ("fail", "WhatsApp frenó los envíos de este número por posible spam: espera antes de volver a "
                     "escribir y revisa la calidad del número en Meta."),
    131049: ("fail", "WhatsApp no entregó este mensaje para cuidar la experiencia del cliente (límite de "
                     "mensajes de marketing por persona)."),
    131031: ("pause", "Meta bloqueó la cuenta de WhatsApp Business: revisa su estado en el administrador de "
                      "WhatsApp de Meta."),
    131042: ("pause", "Hay un problema con el método de pago de la cuenta de WhatsApp Business: revísalo en Meta."),
    368: ("fail", "Meta bloqueó el envío por incumplir sus políticas."),
    132000: ("fail", "Los parámetros no coinciden con los que espera la plantilla."),
    132001: ("fail", "La plantilla no existe en ese idioma o aún no está aprobada: sincroniza las plantillas."),
    132005: ("fail", "El texto de la plantilla con sus parámetros es demasiado largo."),
    132007: ("fail", "El contenido de la plantilla incumple las políticas de WhatsApp."),
    132015: ("fail", "La plantilla está en pausa por su baja calidad."),
    132016: ("fail", "La plantilla está desactivada por su baja calidad."),
    190: ("pause", "El token de acceso de WhatsApp caducó o no es válido: genera uno nuevo en Meta (Usuarios "
                   "del sistema) y guárdalo en el canal."),
    131000: ("retry", "WhatsApp tuvo un fallo pasajero; Tertulia lo reintenta sola."),
    131016: ("retry", "El servicio de WhatsApp no está disponible por un momento; Tertulia lo reintenta sola."),
    2: ("retry", "El servicio de WhatsApp no está disponible por un momento; Tertulia lo reintenta sola."),
    1: ("retry", "WhatsApp tuvo un fallo pasajero; Tertulia lo reintenta sola."),
}
AUTH_REASON = {
    "whatsapp_cloud": META_CODES[190][1],
    "ycloud": "La clave de API de YCloud no es válida o fue revocada: crea una nueva en YCloud (Developers → "
              "API Keys) y guárdala en el canal.",
}


@dataclass
class ProviderFailure(Exception):
    """A send or look-up the provider refused, or could not be asked."""

    action: Action
    reason: str  # for a person
    code: str | None = None  # the provider's: "131047", "190", "UNAUTHORIZED", "http_503", "network"
    detail: str = ""  # the provider's own words (logs, the delivery's last error)
    retry_after: float | None = None  # seconds the provider asked us to wait

    def __str__(self) -> str:
        return f"{self.code or 'error'}: {self.detail or self.reason}"


def reason_for_code(code: str | int | None) -> str | None:
    """A person's words for a Meta error code (also those arriving later in a `failed` status)."""
    try:
        known = META_CODES.get(int(code)) if code is not None else None
    except (TypeError, ValueError):
        return None
    return known[1] if known else None


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(3600.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def _body(response: httpx2.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def http_failure(status: int, provider: str, detail: str = "", retry_after: float | None = None) -> ProviderFailure:
    """A failure known only by its HTTP status."""
    if status == 429:
        return ProviderFailure("retry", f"{provider} pidió bajar el ritmo de envíos; Tertulia lo reintenta sola.",
                               "http_429", detail, retry_after)
    if status >= 500:
        return ProviderFailure("retry", f"{provider} tuvo un fallo pasajero; Tertulia lo reintenta sola.",
                               f"http_{status}", detail, retry_after)
    return ProviderFailure("fail", f"{provider} rechazó el mensaje ({status}){': ' + detail if detail else ''}.",
                           f"http_{status}", detail)


def meta_failure(status: int, error: dict[str, Any] | None, *, retry_after: float | None = None,
                 provider: str = "WhatsApp") -> ProviderFailure:
    """A Graph API error (`{"error": {"code", "message", "error_subcode"?, "error_data"?}}`)."""
    error = error or {}
    try:
        code: int | None = int(str(error.get("code")))  # YCloud's whatsappApiError carries it as a string
    except ValueError:
        code = None
    detail = str(error.get("message") or "")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    if details:
        detail = f"{detail} ({details})" if detail else str(details)
    if code is not None and code in META_CODES:
        action, reason = META_CODES[code]
        return ProviderFailure(action, reason, str(code), detail, retry_after)
    if status == 401:
        return ProviderFailure("pause", AUTH_REASON["whatsapp_cloud"], str(code or 190), detail)
    if status == 429 or status >= 500:
        failure = http_failure(status, provider, detail, retry_after)
        failure.code = str(code) if code is not None else failure.code
        return failure
    reason = f"{provider} rechazó el mensaje: {detail}" if detail else f"{provider} rechazó el mensaje."
    return ProviderFailure("fail", reason, str(code) if code is not None else f"http_{status}", detail)


def graph_failure(response: httpx2.Response) -> ProviderFailure:
    error = _body(response).get("error")
    return meta_failure(response.status_code, error if isinstance(error, dict) else None,
                        retry_after=_retry_after(response))


# The Messenger Platform's codes (Messenger and Instagram sends): (code, subcode or None) -> what
# Tertulia does. Rate limits are 613 there; the closed window is (#10) with subcode 2018278.
PAGE_WINDOW_CLOSED = ("Han pasado más de 24 horas desde el último mensaje del cliente: Meta no permite escribirle. "
                      "Si una persona del equipo responde, activa en el canal la etiqueta «agente humano» (hasta 7 "
                      "días).")
PAGE_CODES: dict[tuple[int, int | None], tuple[Action, str]] = {
    (10, 2018278): ("fail", PAGE_WINDOW_CLOSED),
    (10, 2018065): ("fail", "Meta no permite este mensaje fuera de la ventana de 24 horas."),
    (100, 2018001): ("fail", "Meta no encuentra a este cliente: puede haber bloqueado la página o borrado su "
                             "cuenta."),
    (551, None): ("fail", "Esta persona no está disponible ahora mismo en Messenger."),
    (613, None): ("retry", "Meta limitó los envíos por un momento; Tertulia lo reintenta sola."),
    (4, None): ("retry", "La aplicación de Meta llegó a su límite de llamadas; Tertulia lo reintenta sola."),
    (190, None): ("pause", "El token de acceso de la página caducó o no es válido: genera uno nuevo en Meta y "
                           "guárdalo en el canal."),
    (200, None): ("pause", "El token no tiene permiso para enviar mensajes desde esta cuenta (pages_messaging o "
                           "instagram_manage_messages): revísalo en Meta."),
    (2, None): ("retry", "Meta no está disponible por un momento; Tertulia lo reintenta sola."),
    (1, None): ("retry", "Meta tuvo un fallo pasajero; Tertulia lo reintenta sola."),
}


def page_failure(response: httpx2.Response, provider: str = "Meta") -> ProviderFailure:
    """A Messenger Platform error (`{"error": {"code", "error_subcode"?, "message"}}`)."""
    error = _body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code, subcode = error.get("code"), error.get("error_subcode")
    code = code if isinstance(code, int) else None
    subcode = subcode if isinstance(subcode, int) else None
    detail = str(error.get("message") or "")
    known = PAGE_CODES.get((code or 0, subcode)) or PAGE_CODES.get((code or 0, None))
    retry_after = _retry_after(response)
    if known is not None:
        action, reason = known
        return ProviderFailure(action, reason, f"{code}/{subcode}" if subcode else str(code), detail, retry_after)
    if response.status_code == 401:
        return ProviderFailure("pause", PAGE_CODES[(190, None)][1], str(code or 190), detail)
    failure = http_failure(response.status_code, provider, detail, retry_after)
    failure.code = str(code) if code is not None else failure.code
    return failure


# YCloud's own error codes (`{"error": {"status", "code", "message", "whatsappApiError"?}}`).
YCLOUD_CODES: dict[str, tuple[Action, str]] = {
    "UNAUTHORIZED": ("pause", AUTH_REASON["ycloud"]),
    "BALANCE_INSUFFICIENT": ("pause", "El saldo de la cuenta de YCloud se agotó: recárgalo en YCloud y pulsa "
                                      "«Comprobar» en el canal."),
    "TOO_MANY_REQUESTS": ("retry", "YCloud pidió bajar el ritmo de envíos; Tertulia lo reintenta sola."),
    "ACCOUNT_RATE_LIMITED": ("retry", "YCloud pidió bajar el ritmo de envíos; Tertulia lo reintenta sola."),
}


def ycloud_failure(response: httpx2.Response) -> ProviderFailure:
    error = _body(response).get("error")
    error = error if isinstance(error, dict) else {}
    retry_after = _retry_after(response)
    meta = error.get("whatsappApiError")
    if isinstance(meta, dict):  # WhatsApp refused a direct send: Meta's code decides
        return meta_failure(response.status_code, meta, retry_after=retry_after)
    code = str(error.get("code") or "")
    detail = str(error.get("message") or "")
    if code in YCLOUD_CODES:
        action, reason = YCLOUD_CODES[code]
        return ProviderFailure(action, reason, code, detail, retry_after)
    if response.status_code == 401:
        return ProviderFailure("pause", AUTH_REASON["ycloud"], code or "UNAUTHORIZED", detail)
    failure = http_failure(response.status_code, "YCloud", detail, retry_after)
    failure.code = code or failure.code
    return failure


def network_failure(provider: str, exc: Exception) -> ProviderFailure:
    return ProviderFailure("retry", f"No se pudo contactar con {provider}; Tertulia lo reintenta sola.", "network",
                           f"{type(exc).__name__}: {exc}")


async def call(client: httpx2.AsyncClient, method: str, url: str, *, provider: str,
               failure: Callable[[httpx2.Response], ProviderFailure], **kwargs: Any) -> httpx2.Response:
    """One request to a provider: its answer, or a ProviderFailure (the network, or the refusal
    as `failure` classifies it)."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx2.TransportError as exc:
        raise network_failure(provider, exc) from exc
    if response.status_code >= 300:
        raise failure(response)
    return response


def json_object(response: httpx2.Response, provider: str) -> dict[str, Any]:
    """A provider's JSON answer (an object); one that is not JSON is a passing failure."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderFailure("retry", f"{provider} respondió algo que no se entiende; Tertulia lo reintenta sola.",
                              "bad_answer", response.text[:200]) from exc
    return body if isinstance(body, dict) else {}
