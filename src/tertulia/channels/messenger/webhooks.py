"""Messenger and Instagram webhooks (Meta's Messenger Platform): the body read into the intake's
items (channels/events.py). Verification and `X-Hub-Signature-256` are WhatsApp Cloud's, the same
Meta scheme. Wire format and decisions: docs/channels.md, "Messenger and Instagram".

`{"object": "page" | "instagram", "entry": [{"id": <page or IG account id>, "time": <ms>,
"messaging" | "standby": [event...]}]}`; an event is `{sender{id}, recipient{id}, timestamp (ms),
message | delivery | read | reaction | postback ...}`. `standby`: the thread belongs to another app
(a handover): its messages are stored, never answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tertulia.channels.events import (
    Account,
    Item,
    Reaction,
    ReadUpTo,
    Revoke,
    SetAside,
    Status,
    Unreadable,
    as_dict,
    as_list,
    clean_text,
    describe_error,
)
from tertulia.channels.sending import our_message_id
from tertulia.conversations.schemas import MAX_TEXT, Attachment, InboundContact, InboundMessage, MessageKind
from tertulia.conversations.statuses import StatusReport
from tertulia.kit.db import utcnow

OBJECT = {"facebook": "page", "instagram": "instagram"}
# Attachment types that are files we copy: (our message kind, the attachment's type).
FILES: dict[str, tuple[MessageKind, Any]] = {
    "image": ("image", "image"), "video": ("video", "video"), "audio": ("audio", "audio"),
    "file": ("document", "document")}
# Instagram's shared content: a link, not a file of the conversation.
SHARES = ("share", "reel", "ig_reel", "post", "ig_post")
MAX_URL = 512  # Attachment.provider_media_id


def ms_time(value: Any) -> datetime:
    """Messenger's timestamps: epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or not str(value).isdigit():
        raise ValueError(f"timestamp {value!r} is not epoch milliseconds")
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def reader(kind: str) -> Any:
    """The body reader of a Messenger (`facebook`) or Instagram channel."""

    def read(payload: Any, account: Account) -> list[Item]:
        return read_body(kind, payload, account)

    return read


def read_body(kind: str, payload: Any, account: Account) -> list[Item]:
    expected = OBJECT[kind]
    if not isinstance(payload, dict) or payload.get("object") != expected:
        return [Unreadable(f"not a {expected!r} webhook (object "
                           f"{payload.get('object') if isinstance(payload, dict) else None!r})")]
    items: list[Item] = []
    for e, entry in enumerate(as_list(payload.get("entry"))):
        entry = as_dict(entry)
        if str(entry.get("id")) != account.account_id:
            items.append(SetAside(f"entry[{e}]: for account {entry.get('id')}, not this channel's", rejected=True))
            continue
        for field_name in ("messaging", "standby"):
            for n, event in enumerate(as_list(entry.get(field_name))):
                where = f"entry[{e}].{field_name}[{n}]"
                try:
                    items.extend(_event(as_dict(event), account, standby=field_name == "standby"))
                except (KeyError, TypeError, ValueError) as exc:
                    items.append(Unreadable(f"{where}: {describe_error(exc)}"))
        for n, change in enumerate(as_list(entry.get("changes"))):
            items.append(SetAside(f"entry[{e}].changes[{n}]: field {as_dict(change).get('field')!r} is not handled",
                                  rejected=False))
    return items


def _event(event: dict[str, Any], account: Account, *, standby: bool) -> list[Item]:
    sender = str(as_dict(event.get("sender")).get("id") or "")
    recipient = str(as_dict(event.get("recipient")).get("id") or "")
    at = ms_time(event["timestamp"]) if event.get("timestamp") is not None else utcnow()
    if "message" in event:
        message = as_dict(event["message"])
        if message.get("is_echo"):
            return [_echo(message, recipient, at, account)]
        if message.get("is_deleted"):  # the customer unsent it
            return [Revoke(target=str(message["mid"]), at=at, by="contact")]
        return [_inbound(message, sender, at, standby=standby)]
    if "delivery" in event:
        delivery = as_dict(event["delivery"])
        watermark = ms_time(delivery["watermark"]) if delivery.get("watermark") else at
        mids = [str(m) for m in as_list(delivery.get("mids"))]
        return [Status(StatusReport(m, "delivered", watermark)) for m in mids] or [
            ReadUpTo(sender, "delivered", watermark)]
    if "read" in event:
        read = as_dict(event["read"])
        if read.get("mid"):  # Instagram: the message read (and so every one before it)
            return [ReadUpTo(sender, "read", at, mid=str(read["mid"]))]
        return [ReadUpTo(sender, "read", ms_time(read["watermark"]) if read.get("watermark") else at)]
    if "reaction" in event:
        reaction = as_dict(event["reaction"])
        emoji = clean_text(reaction.get("emoji")) if reaction.get("action") != "unreact" else ""
        return [Reaction(target=str(reaction["mid"]), emoji=emoji, by="contact", at=at)]
    if "postback" in event:  # a button of ours pressed: what it says is the customer's message
        postback = as_dict(event["postback"])
        title = clean_text(postback.get("title")) or clean_text(postback.get("payload"))
        mid = str(postback.get("mid") or f"postback-{sender}-{int(at.timestamp() * 1000)}")
        return [_message(mid, sender, at, "button", title, [], {"reply": {"type": "postback", **postback}},
                         None, standby=standby)]
    known = next((k for k in event if k not in ("sender", "recipient", "timestamp")), None)
    return [SetAside(f"event {known!r} is not handled", rejected=False)]


def _echo(message: dict[str, Any], customer: str, at: datetime, account: Account) -> Item:
    """A message the page sent. Ours (our app's, or carrying our reference) was stored by the send;
    any other is a person writing from Meta Business Suite or the Instagram app."""
    app_id = str(message.get("app_id") or "")
    if (account.app_id and app_id == account.app_id) or our_message_id(clean_text(message.get("metadata"))):
        return SetAside(f"echo of our own send {message.get('mid')}", rejected=False)
    content, kind, attachments, extra = _body(message)
    return InboundMessage(
        external_message_id=str(message["mid"]), contact=InboundContact(external_id=customer),
        content=content[:MAX_TEXT * 4], attachments=attachments, timestamp=at, kind=kind, extra=extra or None,
        reply_to=_reply_to(message), echo=True)


def _inbound(message: dict[str, Any], sender: str, at: datetime, *, standby: bool) -> Item:
    content, kind, attachments, extra = _body(message)
    return _message(str(message["mid"]), sender, at, kind, content, attachments, extra, _reply_to(message),
                    standby=standby)


def _message(mid: str, sender: str, at: datetime, kind: MessageKind, content: str, attachments: list[Attachment],
             extra: dict[str, Any], reply_to: str | None, *, standby: bool) -> InboundMessage:
    if not sender:
        raise ValueError("the message has no sender id")
    if standby:  # another app owns the thread: kept for the team, never answered by ours
        extra = {**extra, "standby": True}
    return InboundMessage(external_message_id=mid, contact=InboundContact(external_id=sender),
                          content=content[:MAX_TEXT * 4], attachments=attachments, timestamp=at, kind=kind,
                          extra=extra or None, reply_to=reply_to)


def _reply_to(message: dict[str, Any]) -> str | None:
    reply = as_dict(message.get("reply_to"))
    return str(reply["mid"]) if reply.get("mid") else None


def _body(message: dict[str, Any]) -> tuple[str, MessageKind, list[Attachment], dict[str, Any]]:
    """(content, kind, attachments, extra) of a Messenger/Instagram message object."""
    text = clean_text(message.get("text"))
    kind: MessageKind = "text"
    attachments: list[Attachment] = []
    extra: dict[str, Any] = {}
    lines = [text] if text else []
    quick = as_dict(message.get("quick_reply"))
    if quick:
        kind = "button"
        extra["reply"] = {"type": "quick_reply", "payload": quick.get("payload"), "text": text}
    story = as_dict(as_dict(message.get("reply_to")).get("story"))
    if story:
        extra["story"] = {"type": "reply", "id": story.get("id"), "url": story.get("url")}
        lines.append(f"↩️ Replied to your story: {clean_text(story.get('url'))}".rstrip(": "))
    for attachment in as_list(message.get("attachments")):
        attachment = as_dict(attachment)
        wire = str(attachment.get("type") or "")
        payload = as_dict(attachment.get("payload"))
        url = clean_text(payload.get("url"))
        if wire in FILES and url.startswith(("https://", "http://")) and len(url) <= MAX_URL:
            ours, attachment_type = FILES[wire]
            kind = ours if kind == "text" else kind
            attachments.append(Attachment(type=attachment_type, provider_media_id=url,
                                          sticker=True if payload.get("sticker_id") else None))
        elif wire == "story_mention":
            extra["story"] = {"type": "mention", "url": url or None}
            lines.append(f"📣 Mentioned you in their story: {url}".rstrip(": "))
        elif wire in SHARES:
            title = clean_text(payload.get("title"))
            extra.setdefault("shares", []).append({"type": wire, "url": url or None, "title": title or None})
            lines.append(f"🔗 Shared {title or 'a post'}: {url}".rstrip(": "))
        else:  # fallback, template, a file without a usable url...
            extra.setdefault("unsupported", {"type": wire or None})
            lines.append(f"⚠️ Something Tertulia cannot show arrived ({wire or 'unknown'}): see it in the app")
            kind = "unsupported" if kind == "text" and not text else kind
    return "\n".join(lines), kind, attachments, extra
