"""The webhook bodies the providers send, built from the sandbox's state. Pure functions: no I/O.

WhatsApp Cloud: `{"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field",
"value"}]}]}`. YCloud: `{"id", "type", "apiVersion", "createTime", <payload key>}`. Messenger and
Instagram: `{"object": "page"|"instagram", "entry": [{"id", "time", "messaging"|"standby": [...]}]}`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tertulia.sandbox.state import Channel, Customer, MediaObject, SentMessage, new_id

# Meta's documented error of each code a status webhook can carry.
META_ERRORS: dict[str, tuple[str, str]] = {
    "131047": ("Re-engagement message",
               "Message failed to send because more than 24 hours have passed since the customer last replied "
               "to this number."),
    "131026": ("Message undeliverable",
               "Message failed to send because the recipient's phone number is not on WhatsApp or it could not "
               "receive this message."),
    "131049": ("This message was not delivered to maintain healthy ecosystem engagement.",
               "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."),
    "131056": ("(Business Account, Consumer Account) pair rate limit hit",
               "Message failed to send because there were too many messages sent from this phone number to the "
               "same phone number in a short period of time."),
    "130429": ("Rate limit hit", "Cloud API message throughput has been reached."),
    "131048": ("Spam rate limit hit",
               "Message failed to send because there are restrictions on how many messages can be sent from this "
               "phone number."),
}


def iso(ts: float) -> str:
    """YCloud's timestamps: RFC 3339 in UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def meta_error_object(code: str) -> dict[str, Any]:
    title, details = META_ERRORS.get(code, ("Something went wrong", "Unknown error"))
    return {"code": int(code), "title": title, "message": title, "error_data": {"details": details},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}


# -- WhatsApp message objects (Meta's shape; YCloud carries the same type objects) ------------------
def media_object(media: MediaObject, *, caption: str | None = None, filename: str | None = None,
                 voice: bool | None = None, link: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"mime_type": media.mime_type, "sha256": media.sha256_b64, "id": media.id}
    if link is not None:
        obj["link"] = link
    if caption:
        obj["caption"] = caption
    if filename:
        obj["filename"] = filename
    if voice is not None:
        obj["voice"] = voice
    return obj


def whatsapp_content(spec: dict[str, Any], media: MediaObject | None, media_link: str | None = None
                     ) -> tuple[str, dict[str, Any], str]:
    """(type, {type: object, ...extra top-level keys}, readable text) of a customer's message."""
    kind = spec["type"]
    text = spec.get("text") or ""
    if kind == "text":
        return "text", {"text": {"body": text}}, text
    if kind in ("image", "video", "audio", "voice", "document", "sticker"):
        assert media is not None
        wire = "audio" if kind == "voice" else kind
        obj = media_object(media, caption=spec.get("caption") if wire in ("image", "video", "document") else None,
                           filename=(spec.get("filename") or media.filename) if wire == "document" else None,
                           voice=(kind == "voice") if wire == "audio" else None, link=media_link)
        if wire == "sticker":
            obj["animated"] = False
        return wire, {wire: obj}, spec.get("caption") or f"[{kind}]"
    if kind == "location":
        loc: dict[str, Any] = {"latitude": spec["latitude"], "longitude": spec["longitude"]}
        for src, dst in (("location_name", "name"), ("address", "address"), ("url", "url")):
            if spec.get(src):
                loc[dst] = spec[src]
        return "location", {"location": loc}, spec.get("location_name") or f"{loc['latitude']},{loc['longitude']}"
    if kind == "contacts":
        contacts = spec.get("contacts") or [{"name": "Ana Pérez", "phone": "+34 600 000 001"}]
        wire_contacts = []
        for c in contacts:
            digits = "".join(ch for ch in str(c.get("phone", "")) if ch.isdigit())
            first, _, last = str(c.get("name", "")).partition(" ")
            wire_contacts.append({"name": {"formatted_name": c.get("name", ""), "first_name": first,
                                           **({"last_name": last} if last else {})},
                                  "phones": [{"phone": c.get("phone", ""), "wa_id": digits, "type": "CELL"}]})
        return "contacts", {"contacts": wire_contacts}, ", ".join(str(c.get("name", "")) for c in contacts)
    if kind == "button_reply":
        reply = {"id": spec.get("reply_id") or "btn-1", "title": spec.get("reply_title") or text or "Sí"}
        return "interactive", {"interactive": {"type": "button_reply", "button_reply": reply}}, reply["title"]
    if kind == "list_reply":
        reply = {"id": spec.get("reply_id") or "row-1", "title": spec.get("reply_title") or text or "Opción 1"}
        if spec.get("description"):
            reply["description"] = spec["description"]
        return "interactive", {"interactive": {"type": "list_reply", "list_reply": reply}}, reply["title"]
    if kind == "button":
        title = spec.get("reply_title") or text or "Confirmar"
        return "button", {"button": {"payload": spec.get("payload") or title, "text": title}}, title
    if kind == "reaction":
        emoji = spec.get("emoji", "👍")
        return "reaction", {"reaction": {"message_id": spec["target"], "emoji": emoji}}, emoji
    if kind == "edit":
        return "edit", {"edit": {"original_message_id": spec["target"],
                                 "message": {"type": "text", "text": {"body": text}}}}, text
    if kind == "revoke":
        return "revoke", {"revoke": {"original_message_id": spec["target"]}}, ""
    if kind == "unsupported":
        return "unsupported", {"errors": [{"code": 131051, "title": "Message type unknown",
                                           "message": "Message type unknown",
                                           "error_data": {"details": "Message type is currently not supported."}}],
                               "unsupported": {"type": spec.get("text") or "poll"}}, ""
    raise ValueError(f"unknown message type {kind!r}")


def referral_object(spec: dict[str, Any] | bool) -> dict[str, Any]:
    given = spec if isinstance(spec, dict) else {}
    return {"source_url": given.get("source_url", "https://fb.me/sandbox-ad"),
            "source_id": given.get("source_id", "120200000000000001"),
            "source_type": given.get("source_type", "ad"),
            "headline": given.get("headline", "Oferta de temporada"),
            "body": given.get("body", "Escríbenos por WhatsApp"),
            "media_type": given.get("media_type", "image"),
            "image_url": given.get("image_url", "https://example.invalid/ad.png"),
            "ctwa_clid": given.get("ctwa_clid", new_id("ARA", 16))}


# -- WhatsApp Cloud envelopes ------------------------------------------------------------------------
def _cloud_envelope(channel: Channel, field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": channel.waba_id or "", "changes": [{"value": value, "field": field}]}]}


def _metadata(channel: Channel) -> dict[str, Any]:
    return {"display_phone_number": channel.display_phone_number, "phone_number_id": channel.key}


def cloud_contact(customer: Customer) -> dict[str, Any]:
    contact: dict[str, Any] = {"profile": {"name": customer.name}, "wa_id": customer.id}
    if customer.user_id:
        contact["user_id"] = customer.user_id
    return contact


def cloud_message(customer: Customer, message_id: str, ts: float, kind: str, content: dict[str, Any],
                  *, context: dict[str, Any] | None = None, referral: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    msg: dict[str, Any] = {"from": customer.id, "id": message_id, "timestamp": str(int(ts)), "type": kind}
    if customer.user_id:
        msg["from_user_id"] = customer.user_id
    if context:
        msg["context"] = context
    if referral:
        msg["referral"] = referral
    msg.update(content)
    return msg


def cloud_messages(channel: Channel, customer: Customer, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return _cloud_envelope(channel, "messages", {"messaging_product": "whatsapp", "metadata": _metadata(channel),
                                                 "contacts": [cloud_contact(customer)], "messages": messages})


def cloud_status(sent: SentMessage, status: str, ts: float, error_code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sent.message_id, "status": status, "timestamp": str(int(ts)),
                           "recipient_id": sent.recipient}
    if sent.biz_opaque_callback_data:
        out["biz_opaque_callback_data"] = sent.biz_opaque_callback_data
    if status in ("sent", "delivered", "read"):
        category = "marketing" if sent.type == "template" else "service"
        out["pricing"] = {"billable": sent.type == "template", "pricing_model": "PMP", "category": category,
                          "type": "regular" if sent.type == "template" else "free_customer_service"}
    if status == "failed":
        out["errors"] = [meta_error_object(error_code or "131026")]
    return out


def cloud_statuses(channel: Channel, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return _cloud_envelope(channel, "messages", {"messaging_product": "whatsapp", "metadata": _metadata(channel),
                                                 "statuses": statuses})


def cloud_echo(channel: Channel, echo: SentMessage, content: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"from": channel.display_phone_number, "to": echo.recipient, "id": echo.message_id,
                            "timestamp": str(int(echo.at)), "type": echo.type, **content}
    return _cloud_envelope(channel, "smb_message_echoes", {"messaging_product": "whatsapp",
                                                           "metadata": _metadata(channel),
                                                           "message_echoes": [item]})


def cloud_template_status(channel: Channel, template: dict[str, Any], event: str, reason: str | None
                          ) -> dict[str, Any]:
    return _cloud_envelope(channel, "message_template_status_update", {
        "event": event, "message_template_id": int(template["id"]), "message_template_name": template["name"],
        "message_template_language": template["language"], "reason": reason or "NONE"})


# -- YCloud ------------------------------------------------------------------------------------------
def ycloud_event(event_type: str, payload_key: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt_", 10), "type": event_type, "apiVersion": "v2", "createTime": iso(time.time()),
            payload_key: payload}


def ycloud_inbound(channel: Channel, customer: Customer, ycloud_id: str, wamid: str, ts: float, kind: str,
                   content: dict[str, Any], *, context: dict[str, Any] | None = None,
                   referral: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": ycloud_id, "wamid": wamid, "wabaId": channel.waba_id, "from": customer.id,
                           "customerProfile": {"name": customer.name}, "to": channel.key, "sendTime": iso(ts),
                           "type": kind, **content}
    if customer.user_id:
        msg["fromUserId"] = customer.user_id
    if context:
        msg["context"] = context
    if referral:
        msg["referral"] = referral
    return ycloud_event("whatsapp.inbound_message.received", "whatsappInboundMessage", msg)


def ycloud_message(channel: Channel, sent: SentMessage, status: str | None = None) -> dict[str, Any]:
    """YCloud's message object (the send response and the `whatsappMessage` of its webhooks). A
    queued send has no wamid until YCloud has handed it to WhatsApp."""
    req = sent.request
    out: dict[str, Any] = {"id": sent.ycloud_id, "wabaId": channel.waba_id, "from": channel.key,
                           "to": sent.recipient, "type": sent.type, "status": status or sent.status,
                           "createTime": iso(sent.at), "updateTime": iso(time.time()), "bizType": "whatsapp"}
    if sent.type in req:
        out[sent.type] = req[sent.type]
    if sent.endpoint != "queued" or (status or sent.status) != "accepted":
        out["wamid"] = sent.message_id
    if sent.external_id:
        out["externalId"] = sent.external_id
    if sent.context_id:
        out["context"] = {"message_id": sent.context_id}
    times = {s: t for s, t in sent.statuses}
    for st, key in (("sent", "sendTime"), ("delivered", "deliverTime"), ("read", "readTime")):
        if st in times:
            out[key] = iso(times[st])
    if (status or sent.status) == "failed" and sent.error:
        out["errorCode"] = str(sent.error.get("code"))
        out["errorMessage"] = sent.error.get("message")
        out["whatsappApiError"] = {"message": f"(#{sent.error.get('code')}) {sent.error.get('title')}",
                                   "type": "OAuthException", "code": str(sent.error.get("code")),
                                   "error_data": sent.error.get("error_data", {}),
                                   "fbtrace_id": new_id("A", 8)}
    if (status or sent.status) in ("sent", "delivered", "read"):
        out["pricingCategory"] = "marketing" if sent.type == "template" else "service"
        out["totalPrice"] = 0.0625 if sent.type == "template" else 0.0
        out["currency"] = "USD"
    return out


def ycloud_message_updated(channel: Channel, sent: SentMessage, status: str) -> dict[str, Any]:
    return ycloud_event("whatsapp.message.updated", "whatsappMessage", ycloud_message(channel, sent, status))


def ycloud_echo(channel: Channel, echo: SentMessage) -> dict[str, Any]:
    return ycloud_event("whatsapp.smb.message.echoes", "whatsappMessage", ycloud_message(channel, echo, "sent"))


# -- Messenger / Instagram ---------------------------------------------------------------------------
def page_envelope(channel: Channel, events: list[dict[str, Any]], *, standby: bool = False) -> dict[str, Any]:
    return {"object": "instagram" if channel.kind == "instagram" else "page",
            "entry": [{"id": channel.key, "time": int(time.time() * 1000),
                       "standby" if standby else "messaging": events}]}


def page_event(channel: Channel, customer_id: str, ts: float, *, from_page: bool = False, **body: Any
               ) -> dict[str, Any]:
    sender, recipient = (channel.key, customer_id) if from_page else (customer_id, channel.key)
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": int(ts * 1000), **body}


def page_message(spec: dict[str, Any], mid: str, attachment_url: str | None) -> tuple[str, dict[str, Any], str]:
    """(type, `message` object, readable text) of a Messenger/Instagram user's message."""
    kind = spec["type"]
    text = spec.get("text") or ""
    message: dict[str, Any] = {"mid": mid}
    if spec.get("context"):
        message["reply_to"] = {"mid": spec["context"]}
    if kind == "text":
        message["text"] = text
    elif kind == "quick_reply":
        message["text"] = text or spec.get("reply_title") or "Sí"
        message["quick_reply"] = {"payload": spec.get("payload") or message["text"]}
        text = message["text"]
    elif kind in ("image", "video", "audio", "file", "document", "voice", "sticker"):
        wire = {"document": "file", "voice": "audio", "sticker": "image"}.get(kind, kind)
        message["attachments"] = [{"type": wire, "payload": {"url": attachment_url}}]
        if text:
            message["text"] = text
        text = text or f"[{kind}]"
    elif kind == "story_mention":
        message["attachments"] = [{"type": "story_mention", "payload": {"url": attachment_url}}]
        text = "[mención en historia]"
    elif kind == "story_reply":
        message["text"] = text
        message["reply_to"] = {"story": {"url": attachment_url, "id": spec.get("story_id") or new_id("", 8)}}
    elif kind == "share":
        message["attachments"] = [{"type": "share", "payload": {"url": spec.get("url")
                                                                or "https://www.instagram.com/p/sandbox/"}}]
        text = text or "[publicación compartida]"
    elif kind == "unsupported":
        message["attachments"] = [{"type": "fallback", "payload": {"url": None, "title": "unsupported"}}]
    elif kind == "revoke":
        message = {"mid": spec["target"], "is_deleted": True}
    else:
        raise ValueError(f"message type {kind!r} is not available on {spec.get('_kind', 'this channel')}")
    return kind, message, text


def page_echo(channel: Channel, sent: SentMessage) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": sent.message_id, "is_echo": True}
    if channel.app_id:  # a message the page wrote in Meta's own apps may come with none
        message["app_id"] = int(channel.app_id)
    sent_message = sent.request.get("message")
    if isinstance(sent_message, dict) and sent_message.get("metadata"):  # the Send API's, repeated
        message["metadata"] = sent_message["metadata"]
    if sent.type == "text":
        message["text"] = sent.text
    else:
        message["attachments"] = [{"type": sent.type, "payload": {"url": sent.request.get("url")}}]
    return page_event(channel, sent.recipient, sent.at, from_page=True, message=message)


def page_delivery(channel: Channel, customer_id: str, mids: list[str], watermark: float) -> dict[str, Any]:
    return page_event(channel, customer_id, watermark, delivery={"mids": mids, "watermark": int(watermark * 1000)})


def page_read(channel: Channel, customer_id: str, watermark: float, mid: str | None) -> dict[str, Any]:
    read: dict[str, Any] = {"mid": mid} if channel.kind == "instagram" else {"watermark": int(watermark * 1000)}
    return page_event(channel, customer_id, watermark, read=read)


def page_reaction(channel: Channel, customer_id: str, ts: float, mid: str, emoji: str) -> dict[str, Any]:
    reaction: dict[str, Any] = {"mid": mid, "action": "unreact" if not emoji else "react"}
    if emoji:
        reaction.update({"reaction": "other", "emoji": emoji})
    return page_event(channel, customer_id, ts, reaction=reaction)
