"""How a message leaves on Messenger or Instagram (the delivery worker's sender for both kinds).

`POST /{page-id}/messages` with `recipient.id` (the customer's PSID or IGSID), `messaging_type:
RESPONSE` within 24 hours of the customer's last message, or, for a person's message up to 7 days
when the channel enables it, `MESSAGE_TAG` with `tag: HUMAN_AGENT` (never for the AI). Outside
that the message fails as `window_closed` without calling Meta. Text, or one file: one of ours is
uploaded in the same request (`filedata`: Meta cannot reach a self-hosted server's files), a
public URL goes as `payload.url`. Our reference (`tertulia-<message id>`) travels as
`message.metadata`, which Meta repeats in the send's echo: with the app id, how our own echoes
are told from a person's.
"""

from __future__ import annotations

from typing import Any

from tertulia.channels.messenger.api import PageApi, page_credentials
from tertulia.channels.sending import PAGE_WINDOW_CLOSED, ProviderFailure, our_reference
from tertulia.conversations.window import HUMAN_AGENT_OPTION, page_messaging
from tertulia.delivery.senders import Outgoing, ProviderSender, missing_credentials, stored_file

# Our attachment types as the Send API's.
ATTACHMENT_TYPES = {"image": "image", "video": "video", "audio": "audio", "voice": "audio", "document": "file"}
MAX_TEXT = 2000  # the Send API's limit for message.text
MEDIA_LIMIT = 25 * 2**20  # Messenger's limit for an uploaded asset (images: 8 MB when Meta fetches a URL)


class PageSender(ProviderSender):
    """Messenger and Instagram: one sender for both, through the page the channel belongs to."""

    def api(self, out: Outgoing) -> PageApi:
        try:
            credentials = page_credentials(out.channel, self.box)
        except ValueError as exc:
            raise missing_credentials(out.channel) from exc
        return PageApi(self.client, self.settings.meta_graph_url, out.channel.kind, credentials)

    async def send(self, out: Outgoing) -> str | None:
        if not out.claimed.recipient:
            raise ProviderFailure("fail", "La conversación no tiene a quién enviar: el contacto no tiene identidad "
                                          "en este canal.", "no_recipient")
        human = out.message.author == "human"
        tagged = bool((out.channel.options or {}).get(HUMAN_AGENT_OPTION))
        how = page_messaging(out.last_inbound_at, human=human, human_agent_tag=tagged)
        if how is None:
            raise ProviderFailure("fail", PAGE_WINDOW_CLOSED, "window_closed")
        body: dict[str, Any] = {"recipient": {"id": out.claimed.recipient}}
        if how == "HUMAN_AGENT":
            body.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        else:
            body["messaging_type"] = "RESPONSE"
        api = self.api(out)
        message, file = await self._message(out)
        reference = our_reference(out.message.id)
        if "attachment" in message and out.message.content:  # no captions there: the text goes first
            await api.send({**body, "message": {"text": out.message.content[:MAX_TEXT], "metadata": reference}})
        return await api.send({**body, "message": {**message, "metadata": reference}}, file)

    async def _message(self, out: Outgoing) -> tuple[dict[str, Any], tuple[str, bytes, str] | None]:
        msg = out.message
        if not msg.attachments:
            if len(msg.content) > MAX_TEXT:
                raise ProviderFailure("fail", f"Meta admite hasta {MAX_TEXT} caracteres por mensaje: divídelo.",
                                      "text_too_long")
            return {"text": msg.content}, None
        attachment = msg.attachments[0]
        wire = ATTACHMENT_TYPES.get(str(attachment.get("type")))
        if wire is None:
            raise ProviderFailure("fail", "Meta no admite este tipo de archivo.", "attachment_type")
        url = str(attachment.get("url") or "")
        if url.startswith(("https://", "http://")):
            return {"attachment": {"type": wire, "payload": {"url": url, "is_reusable": False}}}, None
        if not url.startswith("/"):
            raise ProviderFailure("fail", "El archivo adjunto no está en Tertulia ni en una dirección pública.",
                                  "attachment_not_found")
        data, mime, name = await stored_file(self.store, msg.tenant_id, url, "document")
        if len(data) > MEDIA_LIMIT:
            raise ProviderFailure("fail", f"El archivo pesa {len(data) / 2**20:.1f} MB y Meta admite hasta 25 MB.",
                                  "attachment_too_large")
        return ({"attachment": {"type": wire, "payload": {"is_reusable": False}}},
                (str(attachment.get("filename") or name), data, str(attachment.get("mime_type") or mime)))

    async def typing(self, out: Outgoing) -> None:
        if out.claimed.recipient:
            await self.api(out).typing(out.claimed.recipient)
