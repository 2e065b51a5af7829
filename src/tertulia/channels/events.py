"""What a provider's webhook body holds, as its module (`channels/<provider>/webhooks.py`) reads it
and the intake (`channels/intake.py`) acts on it. Plain data, no I/O: a parser turns one body into
a list of items, one per thing that happened; an item it cannot read becomes `Unreadable` with the
reason, so one bad field never hides the rest of the body.

- `InboundMessage` (conversations/schemas.py): a customer's message, or an echo of one the business
  wrote from its phone (`echo=True`): handed to the inbound writer.
- `Reaction`, `Edit`, `Revoke`: applied to the message they name (conversations/updates.py).
- `Status`: a delivery status of one of our messages (conversations/statuses.py).
- `TemplateReview`: a template's new review status.
- `SetAside`: a part of the body not acted on: another account's (`rejected`) or one we do not handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tertulia.conversations.schemas import InboundMessage
from tertulia.conversations.statuses import StatusReport

By = Literal["contact", "business"]


@dataclass(frozen=True, slots=True)
class Account:
    """Whose webhooks a channel takes: its provider account (WhatsApp Cloud: the phone number id;
    YCloud: the business number) and, for template reviews, its WhatsApp Business Account."""

    account_id: str
    waba_id: str | None
    app_id: str | None = None  # Messenger/Instagram: our Meta app (its echoes are our own sends)


@dataclass(frozen=True, slots=True)
class Reaction:
    target: str  # the provider's id of the message reacted to
    emoji: str  # empty: the reaction was removed
    by: By
    at: datetime


@dataclass(frozen=True, slots=True)
class Edit:
    target: str
    content: str
    at: datetime
    by: By


@dataclass(frozen=True, slots=True)
class Revoke:
    target: str
    at: datetime
    by: By


@dataclass(frozen=True, slots=True)
class Status:
    report: StatusReport
    # Other ids the provider gives the same message (YCloud: its own id beside the wamid); the
    # message is found under whichever of them the send stored.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadUpTo:
    """Messenger's `delivery`/`read` watermarks (and Instagram's `read` of a message): every message
    we sent the customer up to `at` (or up to the message `mid`) reached that status."""

    customer: str  # the customer's id on the channel (PSID, IGSID)
    status: Literal["delivered", "read"]
    at: datetime
    mid: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateReview:
    name: str
    language: str | None  # None: every language of the name
    status: str
    reason: str | None
    provider_template_id: str | None


@dataclass(frozen=True, slots=True)
class SetAside:
    reason: str
    rejected: bool  # another account's: never stored under this channel's tenant


@dataclass(frozen=True, slots=True)
class Unreadable:
    error: str


Item = InboundMessage | Reaction | Edit | Revoke | Status | ReadUpTo | TemplateReview | SetAside | Unreadable


def epoch_time(value: object) -> datetime:
    """Meta's timestamps: epoch seconds, as a string or a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"timestamp {value!r} is not epoch seconds")
    return datetime.fromtimestamp(int(value), UTC)


def rfc3339_time(value: object) -> datetime:
    """YCloud's timestamps: RFC 3339 (`2023-02-22T12:00:00.000Z`)."""
    if not isinstance(value, str):
        raise ValueError(f"time {value!r} is not RFC 3339")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no offset")
    return parsed.astimezone(UTC)


# What a person can do about a failed WhatsApp send, by Meta's error code (YCloud carries the same
# codes, and a few of its own). Anything else shows the provider's own title and code.
WHATSAPP_ERRORS: dict[str, str] = {
    "131047": "More than 24 hours since the customer wrote: send a template",
    "470": "More than 24 hours since the customer wrote: send a template",
    "131026": "This number cannot receive WhatsApp messages",
    "131049": "WhatsApp did not deliver this marketing message to keep engagement healthy: try again later",
    "131050": "The customer stopped marketing messages from this business",
    "131048": "Too many of this number's messages were reported as spam: sending is limited for now",
    "131056": "Too many messages to this customer in a short time: try again in a moment",
    "130429": "WhatsApp's sending rate for this number was reached: try again in a moment",
    "131042": "The WhatsApp account has a payment problem: check its payment method",
    "131031": "The WhatsApp account is locked: check it in Meta's Business Manager",
    "368": "The WhatsApp account is restricted for policy reasons",
    "131021": "A message cannot be sent to the business's own number",
    "131030": "This number is not in the test account's allowed recipients",
    "131051": "WhatsApp does not support this kind of message",
    "131052": "WhatsApp could not download the file",
    "131053": "WhatsApp could not upload the file: check its type and size",
    "132000": "The template's parameters do not match it: check how many it takes",
    "132001": "The template does not exist in this language",
    "132015": "The template is paused for low quality",
    "132016": "The template is disabled for low quality",
    "131000": "WhatsApp could not send it (a problem on their side): try again",
    "190": "The access token expired or was revoked: update the channel's credentials",
    "BALANCE_INSUFFICIENT": "The YCloud balance is too low to send: top it up",
}


def whatsapp_error_text(code: str | None, title: str | None) -> str:
    """What went wrong, in words a person acts on."""
    known = WHATSAPP_ERRORS.get(code or "")
    if known:
        return known
    said = (title or "").strip() or "WhatsApp could not deliver the message"
    return f"{said} (code {code})" if code else said


# --- reading bodies -------------------------------------------------------------------------------

def describe_error(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"[:500]


def clean_text(value: Any) -> str:
    """A string from the body (PostgreSQL text holds no NUL)."""
    return str(value).replace("\x00", "").strip() if value is not None else ""


def as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value
