"""What the sandbox remembers: registered channels, customers, every message sent to it (in order,
with its time), media, templates, injected failures and the webhook deliveries it made.

The servers run in their own thread (or process) while a test reads this state from another, so
every access goes through one lock; nothing here awaits while holding it.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

ChannelKind = Literal["whatsapp_cloud", "ycloud", "facebook", "instagram"]
CHANNEL_KINDS: tuple[str, ...] = ("whatsapp_cloud", "ycloud", "facebook", "instagram")

# Delivery statuses in the order they move (a status never goes back).
STATUS_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}

# Failure kinds a test can inject. The provider modules turn each into their own wire format.
FAILURE_KINDS = ("429", "130429", "131056", "131048", "131049", "4", "80007", "100", "5xx", "503",
                 "190", "131047", "131026", "drop", "drop_after_send", "404")


class SandboxError(Exception):
    """A bad control request (unknown channel, bad field); the control API answers it with a 400/404."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Channel:
    kind: ChannelKind
    key: str  # phone_number_id (whatsapp_cloud), business number in E.164 (ycloud), page id, IG account id
    webhook_url: str | None = None
    access_token: str | None = None  # Graph API bearer token (WhatsApp, page or Instagram token)
    app_secret: str | None = None  # signs Meta webhooks
    app_id: str = ""  # the Meta app the sandbox pretends Tertulia's sends come from (echo `app_id`)
    waba_id: str | None = None
    display_phone_number: str = ""  # digits, as Meta's metadata carries it
    verified_name: str = "Negocio de prueba"
    api_key: str | None = None  # YCloud X-API-Key
    signing_secret: str | None = None  # YCloud webhook endpoint secret
    verify_token: str | None = None  # what Meta's webhook verification GET sends as hub.verify_token
    name: str = ""  # page / account name
    username: str = ""  # Instagram account username
    auto_status: bool | None = None  # None: the server's default
    echo_api_sends: bool = True  # Messenger/Instagram: echo the API's own sends (message_echoes field)
    created_at: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        """What the control API shows (secrets only as whether they are set)."""
        return {"kind": self.kind, "key": self.key, "webhook_url": self.webhook_url, "waba_id": self.waba_id,
                "display_phone_number": self.display_phone_number, "verified_name": self.verified_name,
                "name": self.name, "username": self.username, "app_id": self.app_id,
                "has_access_token": bool(self.access_token), "has_app_secret": bool(self.app_secret),
                "has_api_key": bool(self.api_key), "has_signing_secret": bool(self.signing_secret),
                "auto_status": self.auto_status}


@dataclass
class Customer:
    channel_key: str
    id: str  # wa_id digits (WhatsApp), E.164 (YCloud), PSID (Messenger), IGSID (Instagram)
    name: str
    user_id: str | None = None  # WhatsApp business-scoped user id (BSUID)
    username: str | None = None  # Instagram username
    last_inbound_at: float | None = None  # when the customer last wrote (opens the 24-hour window)

    def public(self) -> dict[str, Any]:
        return {"channel": self.channel_key, "id": self.id, "name": self.name, "user_id": self.user_id,
                "username": self.username, "last_inbound_at": self.last_inbound_at}


@dataclass
class SentMessage:
    """One message the business sent through the sandbox's API."""

    seq: int
    provider: str  # whatsapp_cloud | ycloud | facebook | instagram
    channel_key: str
    recipient: str
    message_id: str  # wamid (WhatsApp, YCloud once known) or Messenger/Instagram mid
    type: str
    text: str  # what a person would read (body, caption, template name...)
    request: dict[str, Any]  # the JSON body as received
    at: float  # wall clock
    monotonic: float
    endpoint: str = ""
    ycloud_id: str | None = None
    external_id: str | None = None
    context_id: str | None = None
    biz_opaque_callback_data: str | None = None
    status: str = "accepted"
    statuses: list[tuple[str, float]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    echo: bool = False  # written by the business from its own phone (smb echo), not through the API

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "provider": self.provider, "channel": self.channel_key, "recipient": self.recipient,
                "message_id": self.message_id, "ycloud_id": self.ycloud_id, "external_id": self.external_id,
                "type": self.type, "text": self.text, "request": self.request, "at": self.at,
                "monotonic": self.monotonic, "endpoint": self.endpoint, "context_id": self.context_id,
                "biz_opaque_callback_data": self.biz_opaque_callback_data, "status": self.status,
                "statuses": [{"status": s, "at": t} for s, t in self.statuses], "error": self.error,
                "echo": self.echo}


@dataclass
class InboundMessage:
    """One message a customer wrote (through the control API or the phone page)."""

    seq: int
    channel_key: str
    customer_id: str
    message_id: str
    type: str
    text: str
    at: float  # the provider's timestamp (may be backdated by a test)
    payload: dict[str, Any]
    read: bool = False  # the business marked it read

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "channel": self.channel_key, "customer": self.customer_id,
                "message_id": self.message_id, "type": self.type, "text": self.text, "at": self.at,
                "payload": self.payload, "read": self.read}


@dataclass
class MediaObject:
    id: str
    channel_key: str
    data: bytes
    mime_type: str
    filename: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha256_b64(self) -> str:
        # Meta's webhooks carry the hash base64-encoded; its media look-up answers it in hex.
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


@dataclass
class FailureRule:
    kind: str
    remaining: int
    scope: str = "send"  # send | media
    channel_key: str | None = None
    recipient: str | None = None
    mode: str | None = None  # sync | async (None: as the provider documents the code)

    def matches(self, scope: str, channel_key: str, recipient: str | None) -> bool:
        return (self.remaining > 0 and self.scope == scope
                and (self.channel_key is None or self.channel_key == channel_key)
                and (self.recipient is None or self.recipient == recipient))

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, "scope": self.scope, "channel": self.channel_key,
                "recipient": self.recipient, "mode": self.mode}


@dataclass
class FailureRate:
    """A seeded share of sends that fail (the bench's "5 % answered 429/5xx")."""

    rate: float
    kinds: list[str]
    seed: int
    channel_key: str | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self, channel_key: str) -> str | None:
        if self.channel_key is not None and self.channel_key != channel_key:
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.kinds)


@dataclass
class Failure:
    """An injected failure chosen for one request."""

    kind: str
    mode: str | None = None


@dataclass
class DeliveryAttempt:
    at: float
    status: int | None  # HTTP status Tertulia answered, None when the request itself failed
    error: str | None = None
    response: str = ""


@dataclass
class Delivery:
    """One webhook the sandbox POSTed (with its retries)."""

    seq: int
    channel_key: str
    url: str
    event: str  # message | status | echo | template_status | receipt | ...
    body: bytes
    headers: dict[str, str]
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    outcome: str = "pending"  # pending | delivered | failed

    def public(self, with_body: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq, "channel": self.channel_key, "url": self.url, "event": self.event,
            "headers": self.headers, "outcome": self.outcome,
            "attempts": [{"at": a.at, "status": a.status, "error": a.error, "response": a.response}
                         for a in self.attempts]}
        if with_body:
            out["body"] = self.body.decode()
        return out


def new_id(prefix: str = "", nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


def new_wamid() -> str:
    # Real wamids are base64 of an opaque binary; the shape (prefix, alphabet, length) is what matters.
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode().rstrip("=")


def new_numeric_id(digits: int = 16) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


class SandboxState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.channels: dict[str, Channel] = {}
        self.customers: dict[tuple[str, str], Customer] = {}
        self.sent: list[SentMessage] = []
        self.sent_by_id: dict[str, SentMessage] = {}
        self.external_ids: dict[tuple[str, str], SentMessage] = {}  # (YCloud api key, externalId)
        self.inbound: list[InboundMessage] = []
        self.inbound_by_id: dict[str, InboundMessage] = {}
        self.media: dict[str, MediaObject] = {}
        self.templates: dict[str, list[dict[str, Any]]] = {}  # waba id -> templates (Meta's shape)
        self.rules: list[FailureRule] = []
        self.rate: FailureRate | None = None
        self.deliveries: list[Delivery] = []
        self.actions: list[dict[str, Any]] = []  # typing indicators, mark-as-read, sender actions
        self.requests: list[dict[str, Any]] = []  # every provider API request and how it was answered

    def next_seq(self) -> int:
        return next(self._seq)

    # -- channels ---------------------------------------------------------------------------------
    def add_channel(self, channel: Channel) -> Channel:
        with self.lock:
            self.channels[channel.key] = channel
        return channel

    def channel(self, key: str) -> Channel:
        with self.lock:
            found = self.channels.get(key)
        if found is None:
            raise SandboxError(f"no channel registered with key {key!r}", 404)
        return found

    def channels_of(self, kinds: Iterable[str]) -> list[Channel]:
        wanted = set(kinds)
        with self.lock:
            return [c for c in self.channels.values() if c.kind in wanted]

    def channel_by_token(self, token: str, kinds: Iterable[str]) -> Channel | None:
        wanted = set(kinds)
        with self.lock:
            for c in self.channels.values():
                if c.kind in wanted and c.access_token and secrets.compare_digest(c.access_token, token):
                    return c
        return None

    def channel_by_api_key(self, api_key: str) -> list[Channel]:
        with self.lock:
            return [c for c in self.channels.values()
                    if c.kind == "ycloud" and c.api_key and secrets.compare_digest(c.api_key, api_key)]

    # -- customers --------------------------------------------------------------------------------
    def customer(self, channel_key: str, customer_id: str, name: str | None = None, **extra: Any) -> Customer:
        """The customer, created on first use (a name given later updates it)."""
        with self.lock:
            found = self.customers.get((channel_key, customer_id))
            if found is None:
                found = Customer(channel_key, customer_id, name or f"Cliente {customer_id[-4:]}")
                self.customers[(channel_key, customer_id)] = found
            elif name:
                found.name = name
            for k, v in extra.items():
                if v is not None:
                    setattr(found, k, v)
            return found

    def find_customer(self, channel_key: str, customer_id: str) -> Customer | None:
        with self.lock:
            return self.customers.get((channel_key, customer_id))

    def window_open(self, channel_key: str, customer_id: str, seconds: float) -> bool:
        """Whether the customer wrote within the last `seconds` (by the message's own timestamp)."""
        customer = self.find_customer(channel_key, customer_id)
        return bool(customer and customer.last_inbound_at and time.time() - customer.last_inbound_at < seconds)

    # -- messages ---------------------------------------------------------------------------------
    def record_sent(self, message: SentMessage) -> SentMessage:
        with self.lock:
            self.sent.append(message)
            self.sent_by_id[message.message_id] = message
            if message.ycloud_id:
                self.sent_by_id[message.ycloud_id] = message
        return message

    def find_sent(self, message_id: str) -> SentMessage | None:
        with self.lock:
            return self.sent_by_id.get(message_id)

    def set_status(self, message: SentMessage, status: str, error: dict[str, Any] | None = None) -> bool:
        """Move a sent message's status; answers whether it changed. The log keeps every status
        emitted, also one emitted out of order on purpose, but `status` only moves forward."""
        with self.lock:
            message.statuses.append((status, time.time()))
            if error is not None:
                message.error = error
            if STATUS_ORDER.get(status, 0) > STATUS_ORDER.get(message.status, 0):
                message.status = status
                return True
            return False

    def record_inbound(self, message: InboundMessage) -> InboundMessage:
        with self.lock:
            self.inbound.append(message)
            self.inbound_by_id[message.message_id] = message
            found = self.customers.get((message.channel_key, message.customer_id))
            if found is not None and message.type not in ("reaction", "revoke", "edit"):
                found.last_inbound_at = max(found.last_inbound_at or 0.0, message.at)
        return message

    def mark_inbound_read(self, channel_key: str, message_id: str) -> int:
        """Meta marks the given message and every earlier one of the conversation read."""
        with self.lock:
            target = self.inbound_by_id.get(message_id)
            if target is None or target.channel_key != channel_key:
                return 0
            changed = 0
            for m in self.inbound:
                if (m.channel_key == channel_key and m.customer_id == target.customer_id and m.seq <= target.seq
                        and not m.read):
                    m.read = True
                    changed += 1
            return changed

    def sent_log(self, channel_key: str | None = None, recipient: str | None = None) -> list[SentMessage]:
        with self.lock:
            return [m for m in self.sent if (channel_key is None or m.channel_key == channel_key)
                    and (recipient is None or m.recipient == recipient)]

    def template(self, waba_id: str | None, sent: dict[str, Any]) -> dict[str, Any] | None:
        """The account's template a send names (`{"name", "language": {"code"}}`), if it has it."""
        name, language = sent.get("name"), (sent.get("language") or {}).get("code")
        with self.lock:
            return next((t for t in self.templates.get(waba_id or "", [])
                         if t["name"] == name and t["language"] == language), None)

    # -- media ------------------------------------------------------------------------------------
    def add_media(self, channel_key: str, data: bytes, mime_type: str, filename: str | None = None) -> MediaObject:
        media = MediaObject(new_numeric_id(16), channel_key, data, mime_type, filename)
        with self.lock:
            self.media[media.id] = media
        return media

    # -- failures ---------------------------------------------------------------------------------
    def take_failure(self, scope: str, channel_key: str, recipient: str | None = None) -> Failure | None:
        """The injected failure this request gets, if any (scripted rules first, then the rate)."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(scope, channel_key, recipient):
                    rule.remaining -= 1
                    return Failure(rule.kind, rule.mode)
            self.rules = [r for r in self.rules if r.remaining > 0]
            if scope == "send" and self.rate is not None:
                kind = self.rate.draw(channel_key)
                if kind is not None:
                    return Failure(kind)
        return None

    def log_request(self, provider: str, method: str, path: str, status: int, **extra: Any) -> None:
        with self.lock:
            self.requests.append({"provider": provider, "method": method, "path": path, "status": status,
                                  "at": time.time(), **extra})

    def log_action(self, provider: str, channel_key: str, action: str, **extra: Any) -> None:
        with self.lock:
            self.actions.append({"provider": provider, "channel": channel_key, "action": action,
                                 "at": time.time(), **extra})

    def reset(self) -> None:
        """Forget everything but the channels, customers, media and templates (between tests)."""
        with self.lock:
            self.sent.clear()
            self.sent_by_id.clear()
            self.external_ids.clear()
            self.inbound.clear()
            self.inbound_by_id.clear()
            self.rules.clear()
            self.rate = None
            self.deliveries.clear()
            self.actions.clear()
            self.requests.clear()
