"""Channels: connected accounts of a tenant, with credentials encrypted at rest."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import Assistant
from tertulia.channels import repository as repo
from tertulia.channels.models import CHANNEL_KINDS, SOURCE_OF_KIND, Channel
from tertulia.channels.schemas import ChannelOut
from tertulia.kit.crypto import SecretBox, hash_token, new_token, tokens_equal
from tertulia.kit.db import Reader, tenant_select
from tertulia.kit.errors import Invalid, NotAuthenticated, NotFound


def channel_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id, kind=channel.kind, channel_source=SOURCE_OF_KIND[channel.kind], name=channel.name,
        platform_origin=channel.platform_origin, enabled=channel.enabled,
        has_credentials=bool(channel.credentials_encrypted), assistant_id=channel.assistant_id,
        created_at=channel.created_at, status=channel.status or "ok", status_reason=channel.status_reason,
        outbound_url=channel.outbound_url,
    )


async def create_channel(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, kind: str, name: str,
    platform_origin: str = "", credentials: dict[str, Any] | None = None,
) -> tuple[Channel, str | None]:
    if kind not in CHANNEL_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CHANNEL_KINDS)}", code="invalid_channel_kind")
    if not name.strip():
        raise Invalid("a channel needs a name", code="invalid_name")
    inbound_token = new_token("tin") if kind == "api" else None
    channel = Channel(
        id=uuid.uuid4(), tenant_id=tenant_id, kind=kind, name=name.strip(),
        platform_origin=platform_origin or name.strip(),
        credentials_encrypted=box.encrypt(credentials) if credentials else None,
        inbound_token_hash=hash_token(inbound_token) if inbound_token else None,
    )
    session.add(channel)
    await session.flush()
    return channel, inbound_token


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
