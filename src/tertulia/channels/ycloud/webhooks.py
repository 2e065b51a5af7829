"""YCloud webhooks: the `YCloud-Signature` check and the event read into the intake's items
(channels/events.py). An event is `{"id", "type", "apiVersion", "createTime", <payload>}`; its
messages carry WhatsApp's own message objects, read by the WhatsApp Cloud module. Wire format:
docs/channels.md."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from tertulia.channels.events import (
    Account,
    Item,
    SetAside,
    Status,
    TemplateReview,
    Unreadable,
    as_dict,
    describe_error,
    rfc3339_time,
    whatsapp_error_text,
)
from tertulia.channels.whatsapp_cloud.webhooks import STATUSES, message_item, whatsapp_contact
from tertulia.conversations.statuses import StatusReport
from tertulia.kit.db import utcnow
from tertulia.kit.errors import NotAuthenticated

SIGNATURE_HEADER = "ycloud-signature"
# How old (or how far ahead) a signature's time may be: a captured delivery replayed later fails.
TOLERANCE_SECONDS = 300
# Which time of a YCloud message says when it reached each status.
STATUS_TIMES = {"sent": "sendTime", "delivered": "deliverTime", "read": "readTime"}


def check_signature(signing_secret: str, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """`YCloud-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, within
    five minutes of our clock; several `s` may be given (a secret being rolled)."""
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        raise NotAuthenticated("the webhook has no YCloud-Signature", code="invalid_signature")
    parts = [p.strip().partition("=") for p in given.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    signatures = [value.lower() for key, _, value in parts if key == "s"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise NotAuthenticated("the YCloud-Signature header is not t=...,s=...", code="invalid_signature")
    if abs(now - int(timestamps[0])) > TOLERANCE_SECONDS:
        raise NotAuthenticated("the webhook's signature is older than five minutes (or ahead of our clock)",
                               code="invalid_signature")
    expected = hmac.new(signing_secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(s.encode(), expected.encode()) for s in signatures):
        raise NotAuthenticated("the webhook's signature does not match the channel's signing secret",
                               code="invalid_signature")


def dedupe_key(body: bytes, payload: Any) -> str:
    """The event's own id (YCloud signs every retry anew, so the bytes of a redelivery differ)."""
    event_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= 128:
        return event_id
    return hashlib.sha256(body).hexdigest()


def read(payload: Any, account: Account) -> list[Item]:
    if not isinstance(payload, dict):
        return [Unreadable("not a YCloud event (the body is not an object)")]
    kind = payload.get("type")
    try:
        if kind == "whatsapp.inbound_message.received":
            return _inbound(as_dict(payload.get("whatsappInboundMessage")), account)
        if kind == "whatsapp.message.updated":
            return _updated(as_dict(payload.get("whatsappMessage")), account, payload.get("createTime"))
        if kind == "whatsapp.smb.message.echoes":
            return _echo(as_dict(payload.get("whatsappMessage")), account)
        if kind == "whatsapp.template.reviewed":
            return _template(as_dict(payload.get("whatsappTemplate")), account)
    except (KeyError, TypeError, ValueError) as exc:
        return [Unreadable(f"{kind}: {describe_error(exc)}")]
    return [SetAside(f"event type {kind!r} is not handled", rejected=False)]


def _ours(number: Any, account: Account) -> bool:
    """The business number names this channel (compared by its digits: `+` or not)."""
    return _digits(number) != "" and _digits(number) == _digits(account.account_id)


def _inbound(msg: dict[str, Any], account: Account) -> list[Item]:
    if not _ours(msg.get("to"), account):
        return [SetAside(f"a message to {msg.get('to')}, not this channel's number", rejected=True)]
    contact = whatsapp_contact(msg.get("from"), msg.get("fromUserId"), as_dict(msg.get("customerProfile")).get("name"))
    return [message_item(_with_wamid(msg), contact, at=_time(msg.get("sendTime")), by="contact")]


def _echo(msg: dict[str, Any], account: Account) -> list[Item]:
    if not _ours(msg.get("from"), account):
        return [SetAside(f"an echo from {msg.get('from')}, not this channel's number", rejected=True)]
    contact = whatsapp_contact(msg.get("to"), msg.get("toUserId"), None)
    return [message_item(_with_wamid(msg), contact, at=_time(msg.get("sendTime") or msg.get("createTime")),
                         by="business")]


def _updated(msg: dict[str, Any], account: Account, event_time: Any) -> list[Item]:
    if not _ours(msg.get("from"), account):
        return [SetAside(f"a status of a message from {msg.get('from')}, not this channel's number", rejected=True)]
    state = msg.get("status")
    if state == "accepted":  # taken into YCloud's queue: nothing has reached WhatsApp yet
        return []
    if state not in STATUSES:
        return [SetAside(f"status {state!r} is not handled", rejected=False)]
    ids = [str(i) for i in (msg.get("wamid"), msg.get("id")) if i]
    if not ids:
        raise KeyError("wamid")
    at = _time(msg.get(STATUS_TIMES.get(str(state), "")) or msg.get("updateTime") or event_time) or utcnow()
    code = error = None
    if state == "failed":
        api_error = as_dict(msg.get("whatsappApiError"))
        code = str(msg.get("errorCode") or api_error.get("code") or "") or None
        error = whatsapp_error_text(code, msg.get("errorMessage") or api_error.get("message"))
    return [Status(StatusReport(ids[0], str(state), at, code, error), aliases=tuple(ids[1:]))]


def _template(template: dict[str, Any], account: Account) -> list[Item]:
    if str(template.get("wabaId")) != account.waba_id:
        return [SetAside(f"a template review of account {template.get('wabaId')}, not this channel's", rejected=True)]
    reason = template.get("reason")
    return [TemplateReview(name=str(template["name"]), language=template.get("language") or None,
                           status=str(template["status"]).upper(),
                           reason=None if reason in (None, "", "NONE") else str(reason),
                           provider_template_id=str(template["officialTemplateId"])
                           if template.get("officialTemplateId") else None)]


def _with_wamid(msg: dict[str, Any]) -> dict[str, Any]:
    """WhatsApp's id (replies and reactions name messages by it), else YCloud's own."""
    return {**msg, "id": msg.get("wamid") or msg["id"]}


def _time(value: Any) -> Any:
    return rfc3339_time(value) if value else None


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())
