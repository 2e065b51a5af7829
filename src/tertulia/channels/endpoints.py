from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from tertulia.channels import repository as repo
from tertulia.channels import service
from tertulia.channels.models import CHANNEL_KINDS, SOURCE_OF_KIND, Channel
from tertulia.channels.providers import WEBHOOK_KINDS, credentials_schema
from tertulia.channels.schemas import (
    ChannelCreate,
    ChannelCreated,
    ChannelHealth,
    ChannelKindOut,
    ChannelOut,
    ChannelUpdate,
)
from tertulia.conversations.window import HUMAN_AGENT_OPTION
from tertulia.conversations.window import PAGE_SOURCES as PAGE_KINDS
from tertulia.delivery.service import resume_channel
from tertulia.kit.egress import check_url
from tertulia.kit.errors import Invalid
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentManager, CurrentPrincipal
from tertulia.widget.service import set_web_settings

router = APIRouter(prefix="/admin", tags=["channels"], route_class=JsonBodyRoute)


def _out(request: Request, channel: Channel, health: ChannelHealth | None = None) -> ChannelOut:
    return service.channel_out(channel, request.app.state.secret_box, request.app.state.settings.base_url, health)


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(principal: CurrentPrincipal, db: ReadDb, request: Request) -> list[ChannelOut]:
    """The tenant's channels, each with its `health`: the last webhook received, and the webhooks
    and deliveries failing (how many in the last 24 hours, and why the newest failed)."""
    health = await service.channel_health(db, principal.tenant_id)
    return [_out(request, c, health.get(c.id)) for c in await repo.list_channels(db, principal.tenant_id)]


@router.get("/channels/kinds", response_model=list[ChannelKindOut])
async def channel_kinds(principal: CurrentPrincipal) -> list[ChannelKindOut]:
    """The kinds of channel that can be connected, each with the JSON Schema of its credentials:
    the connect form is built from it."""
    return [ChannelKindOut(kind=kind, channel_source=SOURCE_OF_KIND[kind], webhooks=kind in WEBHOOK_KINDS,
                           credentials=credentials_schema(kind)) for kind in CHANNEL_KINDS]


@router.post("/channels", response_model=ChannelCreated, status_code=201)
async def create_channel(body: ChannelCreate, principal: CurrentManager, db: DbSession,
                         request: Request) -> ChannelCreated:
    """Connect a channel. A provider's (`whatsapp_cloud`, `ycloud`, `facebook`, `instagram`) needs its
    credentials (422 naming any that are missing or malformed); the answer says where its webhooks go
    (`webhook_url`, `verify_token`). An `api` channel answers with its inbound token, shown once; a
    `web` channel with its widget settings (`web`, with the identity secret) and the `snippet` to paste."""
    channel, token = await service.create_channel(
        db, request.app.state.secret_box, principal.tenant_id, body.kind, body.name, body.platform_origin,
        body.credentials, body.web)
    return ChannelCreated(**_out(request, channel).model_dump(), inbound_token=token)


@router.get("/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb, request: Request) -> ChannelOut:
    channel = await service.require_channel(db, principal.tenant_id, channel_id)
    return _out(request, channel, (await service.channel_health(db, principal.tenant_id, channel_id)).get(channel_id))


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(channel_id: uuid.UUID, principal: CurrentManager, db: DbSession) -> Response:
    """Remove a channel and everything that came through it: its conversations and messages too."""
    await service.delete_channel(db, principal.tenant_id, channel_id)
    return Response(status_code=204)


@router.patch("/channels/{channel_id}", response_model=ChannelOut)
async def update_channel(channel_id: uuid.UUID, body: ChannelUpdate, principal: CurrentManager, db: DbSession,
                         request: Request) -> ChannelOut:
    """Change a channel. `credentials` are set over the stored ones and checked again; a channel
    that needed attention (its provider refused the credentials) is `ok` again once they change."""
    channel = await service.require_channel(db, principal.tenant_id, channel_id)
    fields = body.model_dump(exclude_unset=True)
    if fields.get("name"):
        channel.name = fields["name"]
    if fields.get("platform_origin") is not None:
        channel.platform_origin = fields["platform_origin"]
    if fields.get("enabled") is not None:
        channel.enabled = fields["enabled"]
    if fields.get("credentials") is not None:
        waiting = channel.status == "attention"
        service.set_credentials(channel, request.app.state.secret_box, fields["credentials"], merge=True)
        if waiting and channel.status == "ok":  # new credentials: the paused deliveries try them
            await resume_channel(db, channel)
    if "outbound_url" in fields:
        if channel.kind != "api":
            raise Invalid("only an api channel has an outbound URL", code="outbound_url_not_supported")
        if fields["outbound_url"]:
            await check_url(fields["outbound_url"], what="the outbound URL")
        channel.outbound_url = fields["outbound_url"] or None
    if fields.get("human_agent_tag") is not None:
        if channel.kind not in PAGE_KINDS:
            raise Invalid("only Messenger and Instagram channels have the human agent tag",
                          code="human_agent_tag_not_supported")
        channel.options = {**(channel.options or {}), HUMAN_AGENT_OPTION: fields["human_agent_tag"]}
    if body.web is not None:
        if channel.kind != "web":
            raise Invalid("only a web channel has widget settings", code="web_settings_not_supported")
        set_web_settings(channel, request.app.state.secret_box, body.web)
        request.app.state.widget_hub.channels.forget(channel.id)
    if "assistant_id" in fields:
        channel.assistant_id = await service.check_assistant(db, principal.tenant_id, fields["assistant_id"])
    return _out(request, channel)
