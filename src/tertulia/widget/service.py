"""The widget's rules: a `web` channel's settings and snippet, the origins it may run on, visitor
tokens, identity verification, and the one visitor's conversation every request is scoped to.

A visitor is an identity on the channel: `v:<visitor id>` (a random id the browser keeps), or,
when the site vouches for its user with an HMAC of the identifier under the channel's secret,
`u:<identifier>` with the visitor id as its alias, so the anonymous conversation merges into
that contact through the inbound path's aliases. The token the widget carries says which: it is
signed with a key of the installation and never touches the panel's cookies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tertulia.channels.models import Channel
from tertulia.config import Settings
from tertulia.conversations.models import Message
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.kit.errors import Forbidden, NotAuthenticated, NotFound
from tertulia.widget import repository as repo
from tertulia.widget.schemas import (
    VisitorMessage,
    WebChannelOut,
    WebChannelSettings,
    WebChannelUpdate,
    WidgetConfig,
)

TOKEN_PREFIX = "wvt1"
TOKEN_DAYS = 30
SETTINGS_KEY = "web"  # Channel.options[...]: the widget's settings (the secret is in the credentials)
SECRET_KEY = "identity_secret"


# --- a web channel's settings -------------------------------------------------------------------

def web_settings(channel: Channel, box: SecretBox) -> WebChannelOut:
    stored = (channel.options or {}).get(SETTINGS_KEY) or {}
    secret = box.decrypt(channel.credentials_encrypted).get(SECRET_KEY, "") if channel.credentials_encrypted else ""
    return WebChannelOut(**WebChannelSettings.model_validate(stored).model_dump(), identity_secret=secret)


def set_web_settings(channel: Channel, box: SecretBox, update: WebChannelUpdate | WebChannelSettings | None) -> None:
    """Store the widget's settings over the current ones; a new channel (or a rotation) gets a new
    identity secret."""
    current = WebChannelSettings.model_validate((channel.options or {}).get(SETTINGS_KEY) or {})
    given = update.model_dump(exclude_unset=True, exclude={"rotate_identity_secret"}) if update else {}
    merged = WebChannelSettings.model_validate({**current.model_dump(), **{k: v for k, v in given.items()
                                                                           if v is not None or k == "avatar_url"}})
    channel.options = {**(channel.options or {}), SETTINGS_KEY: merged.model_dump(mode="json")}
    credentials = box.decrypt(channel.credentials_encrypted) if channel.credentials_encrypted else {}
    if not credentials.get(SECRET_KEY) or getattr(update, "rotate_identity_secret", False):
        credentials[SECRET_KEY] = secrets.token_urlsafe(32)
        channel.credentials_encrypted = box.encrypt(credentials)


def snippet(channel_id: uuid.UUID, base_url: str) -> str:
    """The one tag a business pastes into its pages."""
    base = base_url.rstrip("/")
    return f'<script src="{base}/widget/widget.js" data-channel="{channel_id}" async></script>'


# --- the channel a widget request names ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WidgetChannel:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    enabled: bool
    settings: WebChannelSettings
    identity_secret: str

    def config(self) -> WidgetConfig:
        s = self.settings
        return WidgetConfig(channel_id=self.id, name=self.name, colour=s.colour, greeting=s.greeting,
                            assistant_name=s.assistant_name or self.name, avatar_url=s.avatar_url,
                            ask_name=s.ask_name, ask_email=s.ask_email,
                            business_hours_message=s.business_hours_message)


class WidgetChannels:
    """The `web` channels widget requests name, read across tenants (the address names the
    channel; the channel says whose it is) and kept a few seconds: a visitor's every message and
    socket needs it, and a settings change may take that long to apply."""

    def __init__(self, db: Database, box: SecretBox, ttl_seconds: float = 5.0) -> None:
        self.db = db
        self.box = box
        self.ttl = ttl_seconds
        self._cache: dict[uuid.UUID, tuple[float, WidgetChannel | None]] = {}

    def forget(self, channel_id: uuid.UUID) -> None:
        self._cache.pop(channel_id, None)

    async def get(self, channel_id: uuid.UUID) -> WidgetChannel:
        now = time.monotonic()
        hit = self._cache.get(channel_id)
        if hit is None or hit[0] < now:
            async with self.db.read_session(cross_tenant="a widget request names its channel") as session:
                channel = await repo.web_channel(session, channel_id)
            found = None
            if channel is not None:
                out = web_settings(channel, self.box)
                found = WidgetChannel(channel.id, channel.tenant_id, channel.name, channel.enabled,
                                      WebChannelSettings.model_validate(out.model_dump()), out.identity_secret)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[channel_id] = hit = (now + self.ttl, found)
        known = hit[1]
        if known is None:
            raise NotFound("no such web channel", code="channel_not_found")
        if not known.enabled:
            raise NotFound("this channel is disabled", code="channel_disabled")
        return known


def check_origin(channel: WidgetChannel, origin: str | None, host: str | None, settings: Settings) -> None:
    """The page the widget runs on must be one of the channel's sites (or Tertulia's own host, for
    the demo page). Browsers send `Origin` on every cross-origin request and every socket; a
    request without one is not from a page the channel allows."""
    if origin_allowed(channel, origin, host, settings):
        return
    raise Forbidden("the widget of this channel may not run on this site", code="origin_not_allowed")


def origin_allowed(channel: WidgetChannel, origin: str | None, host: str | None, settings: Settings) -> bool:
    if not origin:
        return False
    origin = origin.strip().rstrip("/").lower()
    if origin in channel.settings.allowed_origins:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if host and parts.netloc == host.strip().lower():
        return True
    base = urlsplit(settings.base_url)
    return f"{base.scheme}://{base.netloc}".lower() == origin


# --- visitors -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Visitor:
    """Whom a token speaks for: the channel, the identity first (the site's user, when verified,
    else the anonymous visitor), then its aliases, and what the pre-chat form said."""

    channel_id: uuid.UUID
    subject: str
    aliases: tuple[str, ...] = ()
    name: str | None = None
    email: str | None = None

    @property
    def identities(self) -> list[str]:
        return [self.subject, *self.aliases]

    @property
    def key(self) -> str:
        """A short stable name of the visitor (message ids, rate limits, upload names)."""
        return hashlib.sha256(f"{self.channel_id}|{self.subject}".encode()).hexdigest()[:20]


class VisitorTokens:
    """Stateless visitor tokens: `wvt1.<payload>.<HMAC-SHA256>` under a key derived from the
    installation's secret (no table: a visitor who never writes costs nothing)."""

    def __init__(self, secret_key: str) -> None:
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=b"tertulia-widget-visitor-v1").derive(secret_key.encode())

    def issue(self, visitor: Visitor, now: float | None = None) -> str:
        payload = {"c": str(visitor.channel_id), "s": visitor.subject, "a": list(visitor.aliases),
                   "n": visitor.name, "e": visitor.email, "x": int((now or time.time()) + TOKEN_DAYS * 86400)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{body}.{self._sign(body)}"

    def read(self, token: str | None, channel_id: uuid.UUID) -> Visitor:
        """The visitor of a token issued for this channel; 401 `invalid_visitor_token` otherwise."""
        try:
            if not token:
                raise ValueError("no token")
            prefix, body, signature = token.split(".")
            if prefix != TOKEN_PREFIX or not hmac.compare_digest(signature, self._sign(body)):
                raise ValueError("bad signature")
            payload: dict[str, Any] = json.loads(_unb64(body))
            if payload["x"] < time.time() or payload["c"] != str(channel_id):
                raise ValueError("expired or another channel's")
            return Visitor(channel_id, str(payload["s"]), tuple(str(a) for a in payload.get("a") or ()),
                           payload.get("n"), payload.get("e"))
        except (ValueError, KeyError, TypeError) as exc:
            raise NotAuthenticated("start a widget session first: this visitor token is not valid here",
                                   code="invalid_visitor_token") from exc

    def sign_file(self, tenant_id: uuid.UUID, name: str) -> str:
        """A file of a conversation, readable by its visitor without the panel's cookie."""
        return self._sign(f"file|{tenant_id}|{name}")[:32]

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def identity_hash(secret: str, identifier: str) -> str:
    """What a site computes on its server for its logged-in user (as Chatwoot's and Intercom's
    identity verification): hex HMAC-SHA256 of the identifier under the channel's secret."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def new_visitor(channel: WidgetChannel, visitor_id: str | None, identifier: str | None,
                identifier_hash: str | None, name: str | None, email: str | None) -> tuple[Visitor, str, bool]:
    """The visitor a session speaks for, its (possibly new) visitor id and whether the identifier
    was verified. An identifier without a valid hash is ignored, never trusted."""
    visitor_id = visitor_id or secrets.token_urlsafe(18)
    anonymous = f"v:{visitor_id}"
    verified = bool(identifier and identifier_hash and channel.identity_secret and hmac.compare_digest(
        identity_hash(channel.identity_secret, identifier).lower(), identifier_hash.lower()))
    if verified:
        assert identifier is not None
        return Visitor(channel.id, f"u:{identifier}", (anonymous,), name, email), visitor_id, True
    return Visitor(channel.id, anonymous, (), name, email), visitor_id, False


# --- what the visitor sees ----------------------------------------------------------------------

def visible(message: Message | dict[str, Any]) -> bool:
    """A message the visitor may see: theirs, or ours once it left (a queued or failed reply, an
    internal note or a system line is the team's)."""
    get = message.get if isinstance(message, dict) else lambda k: getattr(message, k)
    author = get("author")
    if author == "contact":
        return True
    if author not in ("ai", "human"):
        return False
    return get("status") in ("sent", "delivered", "read") and not get("deleted_at")


def visitor_message(message: Message | dict[str, Any], tokens: VisitorTokens, base_url: str) -> VisitorMessage:
    """A stored message (or a `message.*` event's data) as the widget shows it."""
    if isinstance(message, dict):
        author, text = message["author"], message.get("content") or ""
        attachments, at, status = message.get("attachments") or [], message["timestamp"], message["status"]
        name, turn, tenant_hint = message.get("author_name"), message.get("correlation_id"), None
    else:
        author, text, attachments = message.author, message.content, message.attachments or []
        at, status, name, turn = message.created_at, message.status, None, message.correlation_id
        tenant_hint = message.tenant_id
    by = "visitor" if author == "contact" else "ai" if author == "ai" else "agent"
    return VisitorMessage(id=int(message["id"] if isinstance(message, dict) else message.id), by=by, text=text,
                          at=at, attachments=[file_for_visitor(a, tokens, base_url, tenant_hint) for a in attachments],
                          status=status, author_name=name if by == "agent" else None,
                          turn=turn if by == "ai" else None)


def file_for_visitor(attachment: dict[str, Any], tokens: VisitorTokens, base_url: str,
          tenant_hint: uuid.UUID | None) -> dict[str, object]:
    """An attachment with a url the widget can load from another site: our files through a signed
    widget address, public links as they are."""
    out: dict[str, object] = {k: attachment[k] for k in ("type", "filename", "mime_type", "size", "caption")
                              if attachment.get(k) is not None}
    url = str(attachment.get("url") or "")
    parts = url.split("/", 3)  # "", "media", tenant, name
    if url.startswith("/media/") and len(parts) == 4:
        try:
            tenant_id = uuid.UUID(parts[2])
        except ValueError:
            return out
        if tenant_hint is not None and tenant_hint != tenant_id:
            return out
        out["url"] = (f"{base_url.rstrip('/')}/widget/files/{tenant_id}/{parts[3]}"
                      f"?s={tokens.sign_file(tenant_id, parts[3])}")
    elif url.startswith("https://"):
        out["url"] = url
    return out
