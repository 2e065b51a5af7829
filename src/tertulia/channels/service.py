"""Channels: connected accounts of a tenant, with credentials encrypted at rest.

Connecting a provider's channel: its credentials are checked for shape (channels/credentials.py),
stored encrypted and never returned (`credentials_set` names them); the channel answers for the
provider account they name (`account_id`: a webhook for another is rejected), and says where its
provider delivers webhooks (`webhook_url`) and, for Meta, the token of the verification GET.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import Assistant
from tertulia.channels import repository as repo
from tertulia.channels.credentials import check_credentials
from tertulia.channels.models import CHANNEL_KINDS, SOURCE_OF_KIND, Channel
from tertulia.channels.providers import provider
from tertulia.channels.schemas import ChannelHealth, ChannelOut
from tertulia.conversations.window import HUMAN_AGENT_OPTION
from tertulia.delivery import repository as deliveries
from tertulia.kit.crypto import SecretBox, hash_token, new_token, tokens_equal
from tertulia.kit.db import Reader, tenant_delete, tenant_select, utcnow
from tertulia.kit.errors import Invalid, NotAuthenticated, NotFound
from tertulia.widget.schemas import WebChannelSettings
from tertulia.widget.service import set_web_settings, snippet, web_settings

# Meta's webhook verification: a token of ours that the verification GET must repeat.
VERIFY_TOKEN = re.compile(r"^[\x21-\x7e]{8,64}$")
# How far back a channel's health looks for failed webhooks and deliveries.
HEALTH_WINDOW = timedelta(hours=24)
HEALTHY = ChannelHealth(last_webhook_at=None, webhooks_failed=0, last_webhook_error=None, deliveries_failing=0,
                        last_delivery_error=None, last_delivery_error_at=None)


def channel_out(channel: Channel, box: SecretBox, base_url: str, health: ChannelHealth | None = None) -> ChannelOut:
    names = sorted(box.decrypt(channel.credentials_encrypted)) if channel.credentials_encrypted else []
    has_webhooks = provider(channel.kind).webhooks is not None
    webhook_url = f"{base_url.rstrip('/')}/webhooks/{channel.id}" if has_webhooks else None
    return ChannelOut(
        id=channel.id, kind=channel.kind, channel_source=SOURCE_OF_KIND[channel.kind], name=channel.name,
        platform_origin=channel.platform_origin, enabled=channel.enabled,
        has_credentials=bool(channel.credentials_encrypted), credentials_set=names, assistant_id=channel.assistant_id,
        created_at=channel.created_at, account_id=channel.account_id, webhook_url=webhook_url,
        verify_token=channel.verify_token, status="attention" if channel.status == "attention" else "ok",
        status_reason=channel.status_reason, last_webhook_at=channel.last_webhook_at,
        outbound_url=channel.outbound_url,
        human_agent_tag=bool((channel.options or {}).get(HUMAN_AGENT_OPTION)),
        web=web_settings(channel, box) if channel.kind == "web" else None,
        snippet=snippet(channel.id, base_url) if channel.kind == "web" else None,
        health=(health or HEALTHY).model_copy(update={"last_webhook_at": channel.last_webhook_at}),
    )


async def channel_health(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID | None = None
                         ) -> dict[uuid.UUID, ChannelHealth]:
    """{channel id: its health} of the tenant's channels (or one) that have failures to tell; two
    statements whatever the number of channels."""
    since = utcnow() - HEALTH_WINDOW
    webhooks = await repo.failed_webhooks(session, tenant_id, since, channel_id)
    failing = await deliveries.failing_by_channel(session, tenant_id, since, channel_id)
    health: dict[uuid.UUID, ChannelHealth] = {}
    for cid in webhooks.keys() | failing.keys():
        w = webhooks.get(cid)
        count, error, at = failing.get(cid, (0, None, None))
        health[cid] = ChannelHealth(last_webhook_at=None, webhooks_failed=w.count if w else 0,
                                    last_webhook_error=w.last_error if w else None,
                                    deliveries_failing=count, last_delivery_error=error, last_delivery_error_at=at)
    return health


async def delete_channel(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> None:
    """Remove a channel with everything that came through it (its conversations, messages, contacts'
    identities on it, templates, webhook log and deliveries go with it: the database cascades)."""
    await require_channel(session, tenant_id, channel_id)
    await session.execute(tenant_delete(Channel, tenant_id).where(Channel.id == channel_id))


async def create_channel(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, kind: str, name: str,
    platform_origin: str = "", credentials: dict[str, Any] | None = None, web: WebChannelSettings | None = None,
) -> tuple[Channel, str | None]:
    """A new channel. `credentials` are checked for the kind (the API always gives them, so a
    provider's channel cannot be connected without them); None leaves them unset (the demo's
    channels, `tertulia channel create`), to be set later."""
    if kind not in CHANNEL_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CHANNEL_KINDS)}", code="invalid_channel_kind")
    if not name.strip():
        raise Invalid("a channel needs a name", code="invalid_name")
    inbound_token = new_token("tin") if kind == "api" else None
    channel = Channel(
        id=uuid.uuid4(), tenant_id=tenant_id, kind=kind, name=name.strip(),
        platform_origin=platform_origin or name.strip(),
        inbound_token_hash=hash_token(inbound_token) if inbound_token else None,
        verify_token=secrets.token_urlsafe(24) if provider(kind).verify_token else None,
    )
    if credentials is not None and kind != "web":
        set_credentials(channel, box, credentials)
    if kind == "web":  # the widget's settings, and the secret that signs a site's known users
        set_web_settings(channel, box, web)
    elif web is not None:
        raise Invalid("only a web channel has widget settings", code="web_settings_not_supported")
    session.add(channel)
    await session.flush()
    return channel, inbound_token


def set_credentials(channel: Channel, box: SecretBox, given: dict[str, Any], *, merge: bool = False) -> None:
    """Store a channel's credentials, checked for its kind (422 naming each bad field): all of them,
    or with `merge` the given ones over those stored (a null removes one). The account they name
    becomes the channel's; a channel waiting on fixed credentials (`attention`) is `ok` again."""
    given = dict(given)
    kind = provider(channel.kind)
    if kind.verify_token and "verify_token" in given:
        token = given.pop("verify_token")
        if token is not None:  # kept in the clear: it is shown to be pasted into Meta's console
            if not isinstance(token, str) or not VERIFY_TOKEN.match(token.strip()):
                raise Invalid(f"the {channel.kind} credentials are not right: check verify_token (8 to 64 "
                              "characters, no spaces)", code="invalid_channel_credentials")
            channel.verify_token = token.strip()
    stored = box.decrypt(channel.credentials_encrypted) if merge else {}
    merged = {k: v for k, v in {**stored, **given}.items() if v is not None}
    checked = check_credentials(channel.kind, merged)
    if not merge or checked != stored:
        channel.credentials_encrypted = box.encrypt(checked) if checked else None
        account = checked.get(kind.account_credential) if kind.account_credential else None
        channel.account_id = str(account) if account else None
    if channel.status == "attention":  # saved again, even unchanged: the person says they are fixed
        channel.status, channel.status_reason = "ok", None


async def require_channel(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    channel = await repo.get_channel(session, tenant_id, channel_id)
    if channel is None:
        raise NotFound("no such channel", code="channel_not_found")
    return channel


def require_inbound_token(token: str | None) -> str:
    """The generic `api` channel authenticates each post with its own inbound token; the token,
    not the caller, decides the tenant."""
    if not token:
        raise NotAuthenticated("send the channel's inbound token as a Bearer token", code="invalid_token")
    return token


def check_inbound_channel(channel: repo.InboundChannel | None, token_hash: str | None) -> repo.InboundChannel:
    """The channel a delivery was addressed to, if it takes inbound messages. `token_hash`: the
    hash of the inbound token it was posted with (the generic `api` channel), which must open
    the channel; None when the caller authenticated the delivery itself (a verified webhook)."""
    if token_hash is not None:
        if channel is None or not tokens_equal(channel.inbound_token_hash or "", token_hash):
            raise NotAuthenticated("the inbound token does not belong to this channel", code="invalid_token")
        if channel.kind != "api":
            raise NotFound("no such api channel", code="channel_not_found")
    if channel is None:
        raise NotFound("no such channel", code="channel_not_found")
    if not channel.enabled:
        raise NotFound("this channel is disabled", code="channel_disabled")
    return channel


async def check_assistant(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID | None) -> uuid.UUID | None:
    """A channel points to an assistant of its own tenant (or none)."""
    if assistant_id is None:
        return None
    if await session.scalar(tenant_select(Assistant, tenant_id, Assistant.id).where(Assistant.id == assistant_id)):
        return assistant_id
    raise NotFound("no such assistant", code="assistant_not_found")
