"""WhatsApp Cloud API webhooks (Meta): the verification GET, the `X-Hub-Signature-256` check, and
the body read into the intake's items (channels/events.py). Wire format: docs/channels.md.

`message_body` reads WhatsApp's message objects (text, media, location, contacts, interactive and
button replies, unsupported...); YCloud carries the same objects and reads them through it too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from tertulia.channels.events import (
    Account,
    By,
    Edit,
    Item,
    Reaction,
    Revoke,
    SetAside,
    Status,
    TemplateReview,
    Unreadable,
    as_dict,
    as_list,
    clean_text,
    describe_error,
    epoch_time,
    whatsapp_error_text,
)
from tertulia.conversations.schemas import MAX_TEXT, Attachment, InboundContact, InboundMessage, MessageKind
from tertulia.conversations.statuses import StatusReport
from tertulia.kit.db import utcnow
from tertulia.kit.errors import Forbidden, NotAuthenticated

SIGNATURE_HEADER = "x-hub-signature-256"
STATUSES = ("sent", "delivered", "read", "played", "failed")


# --- authentication -------------------------------------------------------------------------------

def check_subscription(params: Mapping[str, str], verify_token: str | None) -> str:
    """Meta's verification GET: the challenge to answer, when the mode and token are right."""
    token = params.get("hub.verify_token", "")
    if (params.get("hub.mode") != "subscribe" or not verify_token
            or not hmac.compare_digest(token.encode(), verify_token.encode())):
        raise Forbidden("the verify token does not match this channel's", code="verification_failed")
    return params.get("hub.challenge", "")


def check_signature(app_secret: str, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, compared in constant
    time over the raw bytes (Meta escapes `/` and non-ASCII: a re-serialised body never matches)."""
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        raise NotAuthenticated("the webhook has no X-Hub-Signature-256", code="invalid_signature")
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise NotAuthenticated("the webhook's signature does not match the channel's app secret",
                               code="invalid_signature")


def dedupe_key(body: bytes, payload: Any) -> str:
    """Meta gives no event id; it redelivers the same bytes, so their hash recognises a redelivery."""
    return hashlib.sha256(body).hexdigest()


# --- the body -------------------------------------------------------------------------------------

def read(payload: Any, account: Account) -> list[Item]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return [Unreadable("not a WhatsApp Business Account webhook (object "
                           f"{payload.get('object') if isinstance(payload, dict) else None!r})")]
    items: list[Item] = []
    for e, entry in enumerate(as_list(payload.get("entry"))):
        for c, change in enumerate(as_list(as_dict(entry).get("changes"))):
            where = f"entry[{e}].changes[{c}]"
            try:
                items.extend(_change(as_dict(entry), as_dict(change), account, where))
            except (KeyError, TypeError, ValueError) as exc:
                items.append(Unreadable(f"{where}: {describe_error(exc)}"))
    return items


def _change(entry: dict[str, Any], change: dict[str, Any], account: Account, where: str) -> list[Item]:
    field_name = change.get("field")
    value = as_dict(change.get("value"))
    if field_name == "message_template_status_update":
        if str(entry.get("id")) != account.waba_id:
            return [SetAside(f"{where}: a template review of account {entry.get('id')}, not this channel's",
                             rejected=True)]
        reason = value.get("reason")
        return [TemplateReview(name=str(value["message_template_name"]),
                               language=value.get("message_template_language") or None,
                               status=str(value["event"]).upper(),
                               reason=None if reason in (None, "", "NONE") else str(reason),
                               provider_template_id=str(value["message_template_id"])
                               if value.get("message_template_id") is not None else None)]
    if field_name not in ("messages", "smb_message_echoes"):
        return [SetAside(f"{where}: field {field_name!r} is not handled", rejected=False)]
    number = as_dict(value.get("metadata")).get("phone_number_id")
    if str(number) != account.account_id:
        return [SetAside(f"{where}: for phone number id {number}, not this channel's", rejected=True)]
    items: list[Item] = []
    contacts = [as_dict(c) for c in as_list(value.get("contacts"))]
    for n, msg in enumerate(as_list(value.get("messages"))):
        items.append(_guarded(f"{where}.messages[{n}]", partial(_inbound, contacts=contacts), msg))
    for n, msg in enumerate(as_list(value.get("message_echoes"))):
        items.append(_guarded(f"{where}.message_echoes[{n}]", _echo, msg))
    for n, status in enumerate(as_list(value.get("statuses"))):
        items.append(_guarded(f"{where}.statuses[{n}]", _status, status))
    for error in as_list(value.get("errors")):
        error = as_dict(error)
        items.append(SetAside(f"{where}: WhatsApp reported {error.get('title') or error.get('message')} "
                              f"(code {error.get('code')})", rejected=False))
    return items


def _guarded(where: str, read_item: Callable[[dict[str, Any]], Item], obj: Any) -> Item:
    """One message, echo or status: a bad field fails it alone."""
    try:
        return read_item(as_dict(obj))
    except (KeyError, TypeError, ValueError) as exc:
        return Unreadable(f"{where}: {describe_error(exc)}")


def _inbound(msg: dict[str, Any], contacts: list[dict[str, Any]]) -> Item:
    wa_id, user_id = msg.get("from"), msg.get("from_user_id")
    profile = next((c for c in contacts if (wa_id and c.get("wa_id") == wa_id)
                    or (user_id and c.get("user_id") == user_id)), contacts[0] if len(contacts) == 1 else {})
    contact = whatsapp_contact(wa_id or profile.get("wa_id"), user_id or profile.get("user_id"),
                               as_dict(profile.get("profile")).get("name"))
    return message_item(msg, contact, at=epoch_time(msg["timestamp"]) if msg.get("timestamp") else None,
                        by="contact")


def _echo(msg: dict[str, Any]) -> Item:
    contact = whatsapp_contact(msg.get("to"), msg.get("to_user_id"), None)
    return message_item(msg, contact, at=epoch_time(msg["timestamp"]) if msg.get("timestamp") else None,
                        by="business")


def _status(status: dict[str, Any]) -> Item:
    state = status.get("status")
    if state not in STATUSES:
        return SetAside(f"status {state!r} of {status.get('id')} is not handled", rejected=False)
    at = epoch_time(status["timestamp"]) if status.get("timestamp") else utcnow()
    code = error = None
    if state == "failed":
        first = as_dict(next(iter(as_list(status.get("errors"))), {}))
        code = str(first["code"]) if first.get("code") is not None else None
        error = whatsapp_error_text(code, first.get("title") or first.get("message"))
    return Status(StatusReport(str(status["id"]), str(state), at, code, error))


# --- WhatsApp's message objects (also YCloud's) -----------------------------------------------------

def whatsapp_contact(phone: Any, user_id: Any, name: Any) -> InboundContact:
    """The person: keyed on the phone (wa_id) when given, else on the business-scoped user id; the
    other one, when both are given, is an alias of the same person."""
    ids = [str(i) for i in (phone, user_id) if i]
    if not ids:
        raise ValueError("the customer has neither a phone number nor a user id")
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    return InboundContact(external_id=ids[0], aliases=ids[1:], name=clean_text(name)[:200] or None,
                          phone=f"+{digits}" if digits else None)


@dataclass
class Body:
    kind: MessageKind
    content: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# WhatsApp's media types: (our message kind, the attachment's type).
AttachmentType = Literal["image", "video", "audio", "document"]
MEDIA: dict[str, tuple[MessageKind, AttachmentType]] = {
    "image": ("image", "image"), "video": ("video", "video"), "audio": ("audio", "audio"),
    "document": ("document", "document"), "sticker": ("sticker", "image")}


def message_item(msg: dict[str, Any], contact: InboundContact, *, at: Any, by: By) -> Item:
    """A message object (an inbound one, or an echo of the business's): a reaction, edit or revoke
    of another message, or a message of its own."""
    kind = msg.get("type")
    at_or_now = at or utcnow()
    if kind == "reaction":
        reaction = as_dict(msg.get("reaction"))
        return Reaction(target=str(reaction["message_id"]), emoji=clean_text(reaction.get("emoji")), by=by,
                        at=at_or_now)
    if kind == "edit":
        edit = as_dict(msg.get("edit"))
        return Edit(target=str(edit["original_message_id"]), content=message_body(as_dict(edit.get("message"))).content,
                    at=at_or_now, by=by)
    if kind == "revoke":
        return Revoke(target=str(as_dict(msg.get("revoke"))["original_message_id"]), at=at_or_now, by=by)
    body = message_body(msg)
    context = as_dict(msg.get("context"))
    if context.get("forwarded") or context.get("frequently_forwarded"):
        body.extra["forwarded"] = "frequently" if context.get("frequently_forwarded") else True
    if msg.get("referral"):
        body.extra["referral"] = as_dict(msg.get("referral"))
    return InboundMessage(
        external_message_id=str(msg["id"]), contact=contact, content=body.content[:MAX_TEXT * 4],
        attachments=body.attachments, timestamp=at, kind=body.kind, extra=body.extra or None,
        reply_to=str(context["id"]) if context.get("id") else None, echo=by == "business")


def message_body(msg: dict[str, Any]) -> Body:
    """What a person reads of a WhatsApp message object, and what it carries."""
    kind = msg.get("type")
    obj = as_dict(msg.get(kind)) if isinstance(kind, str) and kind != "contacts" else {}  # contacts: a list
    if kind == "text":
        return Body("text", clean_text(obj.get("body")))
    if kind in MEDIA:
        ours, attachment_type = MEDIA[str(kind)]
        voice = kind == "audio" and obj.get("voice") is True
        if not obj.get("id"):
            raise ValueError(f"the {kind} has no media id")
        attachment = Attachment(type=attachment_type, provider_media_id=str(obj["id"]),
                                mime_type=clean_text(obj.get("mime_type"))[:127] or None,
                                filename=clean_text(obj.get("filename"))[:255] or None,
                                voice=True if voice else None, sticker=True if kind == "sticker" else None)
        return Body("voice" if voice else ours, clean_text(obj.get("caption")), [attachment])
    if kind == "location":
        return _location(obj)
    if kind == "contacts":
        shared = [as_dict(c) for c in as_list(msg.get("contacts"))]
        return Body("contacts", "\n".join(_shared_contact(c) for c in shared), extra={"contacts": shared})
    if kind == "interactive":
        reply_type = obj.get("type")
        reply = as_dict(obj.get(reply_type)) if isinstance(reply_type, str) else {}
        if reply_type in ("button_reply", "list_reply"):
            title = clean_text(reply.get("title"))
            return Body("interactive", title, extra={"reply": {"type": reply_type, **reply}})
        if reply_type == "nfm_reply":  # a WhatsApp Flow's answer
            said = clean_text(reply.get("body")) or clean_text(reply.get("name")) or "Form answered"
            return Body("interactive", said, extra={"reply": {"type": reply_type, **reply}})
    if kind == "button":  # a template's quick-reply button
        return Body("button", clean_text(obj.get("text")) or clean_text(obj.get("payload")),
                    extra={"reply": {"type": "button", "payload": obj.get("payload"), "text": obj.get("text")}})
    return _unsupported(msg, kind)


def _location(obj: dict[str, Any]) -> Body:
    lat, lon = float(obj["latitude"]), float(obj["longitude"])
    parts = [p for p in (clean_text(obj.get("name")), clean_text(obj.get("address"))) if p]
    link = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}"
    location = {"latitude": lat, "longitude": lon, **{k: obj[k] for k in ("name", "address", "url") if obj.get(k)}}
    return Body("location", "📍 " + " · ".join([*parts, link]), extra={"location": location})


def _shared_contact(contact: dict[str, Any]) -> str:
    name = clean_text(as_dict(contact.get("name")).get("formatted_name")) or "?"
    phones = [clean_text(as_dict(p).get("phone")) for p in as_list(contact.get("phones")) if as_dict(p).get("phone")]
    return f"👤 {name}" + (f" ({', '.join(phones)})" if phones else "")


def _unsupported(msg: dict[str, Any], kind: Any) -> Body:
    """Something WhatsApp could not pass on, or a kind we do not read: a note saying what arrived."""
    what = as_dict(msg.get("unsupported")).get("type") or (kind if kind != "unsupported" else None)
    if kind == "system":
        system = as_dict(msg.get("system"))
        if clean_text(system.get("body")):
            return Body("unsupported", f"ℹ️ {clean_text(system.get('body'))}",
                        extra={"unsupported": {**system, "type": "system", "system_type": system.get("type")}})
    errors = [as_dict(e) for e in as_list(msg.get("errors"))]
    extra: dict[str, Any] = {"unsupported": {"type": what}}
    if errors:
        extra["unsupported"]["errors"] = errors
    note = f"⚠️ A WhatsApp message Tertulia cannot show arrived{f' ({what})' if what else ''}: see it on the phone"
    return Body("unsupported", note, extra=extra)
