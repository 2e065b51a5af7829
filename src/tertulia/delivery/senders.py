"""How one outbound message leaves, per channel kind: the request each provider takes, built from
the message (and its delivery's payload), and the call that sends it.

- WhatsApp (Cloud API and YCloud): text with link previews off, one file (uploaded through the
  provider's media API when it is one of ours: the providers cannot reach a self-hosted server's
  files, and an upload is checked at once; a public URL goes as a link), a reply's
  `context.message_id`, a template. Our reference (`tertulia-<message id>`) travels as Meta's
  `biz_opaque_callback_data` and YCloud's `externalId`.
- `api`: the message as JSON POSTed to the channel's outbound URL (tenant-chosen: the egress
  fence), signed `X-Tertulia-Signature: sha256=<hex HMAC-SHA256(outbound secret, body)>`.
  Without a URL the integrator reads messages through the API: `sent` at once.
- `web`: the widget reads the conversation itself: `sent` at once.
- Messenger and Instagram: channels/messenger/sender.py.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx2

from tertulia.channels.credentials import (
    ApiChannelCredentials,
    WhatsAppCloudCredentials,
    YCloudCredentials,
    credentials_of,
)
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure, http_failure, network_failure, our_reference
from tertulia.channels.whatsapp_cloud.api import CloudApi
from tertulia.channels.ycloud.api import YCloudApi
from tertulia.config import Settings
from tertulia.conversations.models import Message
from tertulia.delivery.repository import ClaimedDelivery
from tertulia.kit.crypto import SecretBox
from tertulia.kit.egress import EgressError
from tertulia.kit.storage import FileStore, content_type_of

# WhatsApp's size limits per media type (bytes).
MEDIA_LIMITS = {"image": 5 * 2**20, "video": 16 * 2**20, "audio": 16 * 2**20, "document": 100 * 2**20,
                "sticker": 512 * 2**10}
CAPTIONED = ("image", "video", "document")
Upload = Callable[[bytes, str, str], Awaitable[str]]


@dataclass
class Outgoing:
    """A claimed delivery with what sending it needs, read in one statement."""

    claimed: ClaimedDelivery
    channel: Channel
    message: Message
    typing_for: str | None  # the customer's last message (provider id): where "typing…" is shown
    last_inbound_at: datetime | None = None  # when the customer last wrote (the windows count from it)


@dataclass(frozen=True, slots=True)
class SenderTools:
    """What a provider's sender is built with (channels/providers.py): the delivery worker's clients
    (`trusted` for the operator's provider URLs, `fenced` for URLs a tenant chose), settings, the
    key to the channels' credentials, the file store."""

    trusted: httpx2.AsyncClient
    fenced: httpx2.AsyncClient
    settings: Settings
    box: SecretBox
    store: FileStore


class Sender(Protocol):
    def paced(self, out: Outgoing) -> bool: ...  # counts against the channel's rate
    def spacing(self, settings: Settings) -> float: ...
    async def send(self, out: Outgoing) -> str | None: ...  # the provider's message id, when there is one
    async def typing(self, out: Outgoing) -> None: ...


def missing_credentials(channel: Channel) -> ProviderFailure:
    return ProviderFailure("pause", f"Faltan credenciales del canal «{channel.name}»: complétalas en sus ajustes.",
                           "credentials_missing")


# --- WhatsApp ------------------------------------------------------------------------------------

def address(recipient: str | None, *, e164: bool) -> dict[str, str]:
    """`to` (the phone: digits for Meta, E.164 for YCloud) or `recipient` (a business-scoped user id)."""
    if not recipient:
        raise ProviderFailure("fail", "La conversación no tiene a quién enviar: el contacto no tiene identidad en "
                                      "este canal.", "no_recipient")
    digits = recipient.removeprefix("+")
    if digits.isdigit():
        return {"to": f"+{digits}" if e164 else digits}
    return {"recipient": recipient}


async def stored_file(store: FileStore, tenant_id: Any, url: str, media_type: str) -> tuple[bytes, str, str]:
    """(bytes, MIME type, file name) of one of the tenant's files, checked against WhatsApp's limits."""
    key = url.lstrip("/")
    name = key.rsplit("/", 1)[-1]
    if not key.startswith(f"media/{tenant_id}/"):
        raise ProviderFailure("fail", "El archivo adjunto no es de esta cuenta.", "attachment_not_found")
    try:
        found = await store.stat(key)
    except ValueError:
        found = None
    if found is None:
        raise ProviderFailure("fail", "El archivo adjunto ya no existe.", "attachment_not_found")
    limit = MEDIA_LIMITS.get(media_type, MEDIA_LIMITS["document"])
    if found.size > limit:
        raise ProviderFailure("fail", f"El archivo pesa {found.size / 2**20:.1f} MB y WhatsApp admite hasta "
                                      f"{limit / 2**20:.0f} MB para este tipo.", "attachment_too_large")
    data = b"".join([chunk async for chunk in store.read(key, 0, found.size)])
    return data, content_type_of(name), name


async def _media_ref(store: FileStore, tenant_id: Any, url: str, media_type: str, upload: Upload,
                     mime_type: str | None = None, filename: str | None = None) -> dict[str, str]:
    if url.startswith("/"):
        data, mime, name = await stored_file(store, tenant_id, url, media_type)
        return {"id": await upload(data, mime_type or mime, filename or name)}
    if url.startswith(("https://", "http://")):
        return {"link": url}
    raise ProviderFailure("fail", "El archivo adjunto no está en Tertulia ni en una dirección pública.",
                          "attachment_not_found")


async def _template_with_media(template: dict[str, Any], store: FileStore, tenant_id: Any,
                               upload: Upload) -> dict[str, Any]:
    """Meta's template object, a header file of ours uploaded (its `link` becomes an `id`)."""
    template = copy.deepcopy(template)
    for component in template.get("components") or []:
        for parameter in component.get("parameters") or []:
            kind = parameter.get("type")
            media = parameter.get(kind) if kind in ("image", "video", "document") else None
            if isinstance(media, dict) and str(media.get("link", "")).startswith("/"):
                ref = await _media_ref(store, tenant_id, media.pop("link"), kind, upload,
                                       filename=media.get("filename"))
                media.update(ref)
    return template


async def whatsapp_message(out: Outgoing, store: FileStore, upload: Upload, *, e164: bool) -> dict[str, Any]:
    """The message object both WhatsApp providers take (Meta's shape), addressed (`e164`: the
    phone as +digits, YCloud's way; Meta takes the digits)."""
    msg = out.message
    body: dict[str, Any] = address(out.claimed.recipient, e164=e164)
    payload = out.claimed.payload or {}
    if msg.kind == "template" and isinstance(payload.get("template"), dict):
        body["type"] = "template"
        body["template"] = await _template_with_media(payload["template"], store, msg.tenant_id, upload)
    elif msg.attachments:
        attachment = msg.attachments[0]
        media_type = {"voice": "audio"}.get(str(attachment.get("type")), str(attachment.get("type")))
        if attachment.get("sticker"):
            media_type = "sticker"
        if media_type not in MEDIA_LIMITS:
            raise ProviderFailure("fail", "WhatsApp no admite este tipo de archivo.", "attachment_type")
        media = await _media_ref(store, msg.tenant_id, str(attachment.get("url") or ""), media_type, upload,
                                 attachment.get("mime_type"), attachment.get("filename"))
        if msg.content and media_type in CAPTIONED:
            media["caption"] = msg.content
        if media_type == "document":
            media["filename"] = str(attachment.get("filename") or "documento")
        body["type"] = media_type
        body[media_type] = media
    else:
        body["type"] = "text"
        body["text"] = {"body": msg.content, "preview_url": False}
    if msg.reply_to_provider_id:
        body["context"] = {"message_id": msg.reply_to_provider_id}
    return body


class ProviderSender:
    """What the senders of the providers at the operator's URLs share (WhatsApp's two, Meta's pages):
    the trusted client, settings, the credentials' key and the file store; every send counts
    against the channel's rate."""

    def __init__(self, tools: SenderTools) -> None:
        self.client = tools.trusted
        self.settings = tools.settings
        self.box = tools.box
        self.store = tools.store

    def paced(self, out: Outgoing) -> bool:
        return True

    def spacing(self, settings: Settings) -> float:
        return 0.0  # no pair rate limit, as WhatsApp's; the channel's rate still holds


class WhatsAppSender(ProviderSender):
    """What both WhatsApp providers share: Meta's message objects, the pair spacing; each provider's
    subclass says how its API is reached and where our reference travels."""

    def spacing(self, settings: Settings) -> float:
        return settings.delivery_spacing

    def api(self, channel: Channel) -> CloudApi | YCloudApi:
        raise NotImplementedError

    async def send(self, out: Outgoing) -> str | None:
        raise NotImplementedError

    async def typing(self, out: Outgoing) -> None:
        if out.typing_for:
            await self.api(out.channel).typing(out.typing_for)


class CloudSender(WhatsAppSender):
    """WhatsApp Cloud API: our reference travels as `biz_opaque_callback_data`."""

    def api(self, channel: Channel) -> CloudApi:
        try:
            return CloudApi(self.client, self.settings.meta_graph_url,
                            credentials_of(channel, self.box, WhatsAppCloudCredentials))
        except ValueError as exc:
            raise missing_credentials(channel) from exc

    async def send(self, out: Outgoing) -> str | None:
        api = self.api(out.channel)
        message = await whatsapp_message(out, self.store, api.upload, e164=False)
        message["biz_opaque_callback_data"] = our_reference(out.message.id)
        return await api.send(message)


class YCloudSender(WhatsAppSender):
    """YCloud: our reference travels as `externalId`."""

    def api(self, channel: Channel) -> YCloudApi:
        try:
            return YCloudApi(self.client, self.settings.ycloud_api_url,
                             credentials_of(channel, self.box, YCloudCredentials))
        except ValueError as exc:
            raise missing_credentials(channel) from exc

    async def send(self, out: Outgoing) -> str | None:
        api = self.api(out.channel)
        message = await whatsapp_message(out, self.store, api.upload, e164=True)
        return await api.send(message, our_reference(out.message.id))


# --- the generic `api` channel --------------------------------------------------------------------

def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def api_body(out: Outgoing, base_url: str) -> bytes:
    msg = out.message
    attachments = [{**a, "url": f"{base_url.rstrip('/')}{a['url']}" if str(a.get("url", "")).startswith("/")
                    else a.get("url")} for a in msg.attachments or []]
    return json.dumps({
        "event": "message.outbound", "channel_id": str(out.channel.id), "conversation_id": str(msg.conversation_id),
        "recipient": {"external_id": out.claimed.recipient},
        "message": {"id": msg.id, "author": msg.author, "kind": msg.kind or "text", "content": msg.content,
                    "attachments": attachments, "extra": msg.extra, "reply_to_id": msg.reply_to_id,
                    "correlation_id": msg.correlation_id, "created_at": msg.created_at.isoformat()},
    }, ensure_ascii=False, separators=(",", ":")).encode()


class ApiChannelSender:
    """The generic `api` channel: a signed POST to the URL its owner chose, through the fence."""

    def __init__(self, tools: SenderTools) -> None:
        self.client = tools.fenced
        self.settings = tools.settings
        self.box = tools.box

    def paced(self, out: Outgoing) -> bool:
        return bool(out.channel.outbound_url)  # without a URL nothing leaves

    def spacing(self, settings: Settings) -> float:
        return 0.0

    async def send(self, out: Outgoing) -> str | None:
        url = out.channel.outbound_url
        if not url:
            return None
        try:
            secret = credentials_of(out.channel, self.box, ApiChannelCredentials).outbound_secret
        except ValueError:
            secret = None
        if not secret:
            raise ProviderFailure("pause", "El canal tiene URL de salida pero no su secreto de firma "
                                           "(credentials.outbound_secret): guárdalo en el canal.", "secret_missing")
        body = api_body(out, self.settings.base_url)
        headers = {"content-type": "application/json", "x-tertulia-signature": signature(secret, body),
                   "x-tertulia-message-id": str(out.message.id), "x-tertulia-attempt": str(out.claimed.attempts)}
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except EgressError as exc:
            raise ProviderFailure("fail", f"La URL de salida no está permitida: {exc}", "url_not_allowed",
                                  str(exc)) from exc
        except httpx2.TransportError as exc:
            raise network_failure("el servidor del integrador", exc) from exc
        if response.status_code in (401, 403):
            raise ProviderFailure("pause", f"El servidor del integrador rechazó la firma ({response.status_code}): "
                                           "revisa el secreto de salida del canal.", f"http_{response.status_code}")
        if response.status_code >= 300:
            retry_after = response.headers.get("retry-after", "")
            raise http_failure(response.status_code, "El servidor del integrador", response.text[:200],
                               float(retry_after) if retry_after.isdigit() else None)
        try:
            answer = response.json()
        except ValueError:
            return None
        given = answer.get("id") or answer.get("message_id") if isinstance(answer, dict) else None
        return str(given)[:200] if isinstance(given, str | int) and str(given) else None

    async def typing(self, out: Outgoing) -> None:
        return None


# --- channels without a provider call --------------------------------------------------------------

class LocalSender:
    """`web`: the widget reads the conversation itself."""

    def __init__(self, tools: SenderTools | None = None) -> None:
        pass

    def paced(self, out: Outgoing) -> bool:
        return False

    def spacing(self, settings: Settings) -> float:
        return 0.0

    async def send(self, out: Outgoing) -> str | None:
        return None

    async def typing(self, out: Outgoing) -> None:
        return None


class NotYetSender(LocalSender):
    """Messenger and Instagram: their sends are not built yet."""

    async def send(self, out: Outgoing) -> str | None:
        raise ProviderFailure("fail", "Tertulia todavía no envía mensajes por Messenger ni Instagram.",
                              "not_supported")
