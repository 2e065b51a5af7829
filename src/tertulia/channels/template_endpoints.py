"""Templates: sync from the providers, list, send (seed 001 §5)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tertulia.channels import service as channels
from tertulia.channels import template_repository as repo
from tertulia.channels import templates
from tertulia.channels.providers import TEMPLATE_KINDS
from tertulia.channels.sending import ProviderFailure
from tertulia.channels.template_schemas import (
    ChannelSync,
    SyncResult,
    TemplateOut,
    TemplateQuery,
    TemplateSendRequest,
    TemplateSendResult,
)
from tertulia.conversations import service as conversations
from tertulia.kit.db import utcnow
from tertulia.kit.egress import trusted_client
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(tags=["templates"], route_class=JsonBodyRoute)


async def _sync(principal: CurrentPrincipal, db: DbSession, request: Request,
                channel_id: uuid.UUID | None = None) -> SyncResult:
    settings = request.app.state.settings
    box = request.app.state.secret_box
    accesses = [templates.channel_access(c, box) for c in await repo.channels_of_kinds(
        db, principal.tenant_id, TEMPLATE_KINDS) if channel_id is None or c.id == channel_id]
    # The providers may take seconds to list: no transaction (SQLite's writer) is held meanwhile.
    await db.rollback()
    fetched: dict[int, list[dict[str, object]] | str] = {}
    async with trusted_client(timeout=30, total_timeout=120) as client:
        for i, access in enumerate(accesses):
            if access.problem is not None:
                fetched[i] = access.problem
                continue
            try:
                fetched[i] = await templates.fetch_templates(client, settings, access)
            except ProviderFailure as failure:
                fetched[i] = f"{failure.reason} ({failure.code})" if failure.code else failure.reason
    now = utcnow()
    channels: list[ChannelSync] = []
    for i, access in enumerate(accesses):
        outcome = fetched[i]
        if isinstance(outcome, str):
            channels.append(ChannelSync(channel_id=access.id, name=access.name, ok=False, synced=0, removed=0,
                                        error=outcome))
            continue
        synced, removed = await templates.store_templates(db, principal.tenant_id, access.id, outcome, now)
        channels.append(ChannelSync(channel_id=access.id, name=access.name, ok=True, synced=synced, removed=removed))
    return SyncResult(synced=sum(c.synced for c in channels), removed=sum(c.removed for c in channels),
                      channels=channels)


@router.post("/admin/templates/sync", response_model=SyncResult)
async def sync_templates(principal: CurrentPrincipal, db: DbSession, request: Request,
                         channel: Annotated[uuid.UUID | None, Query(description="only this channel's")] = None,
                         ) -> SyncResult:
    """Read every template of every WhatsApp channel of the tenant (or of `channel`) from its
    provider (all pages) and store them; those the provider no longer has are kept, marked
    `removed_at`. A channel whose provider could not be read says why and keeps its templates as
    they were."""
    if channel is not None:
        await channels.require_channel(db, principal.tenant_id, channel)
    return await _sync(principal, db, request, channel)


@router.post("/templates/sync", response_model=SyncResult)
async def sync_templates_seed_path(principal: CurrentPrincipal, db: DbSession, request: Request) -> SyncResult:
    """`POST /admin/templates/sync` at seed 001's path."""
    return await _sync(principal, db, request)


@router.get("/admin/templates", response_model=list[TemplateOut])
async def list_templates(principal: CurrentPrincipal, db: ReadDb,
                         query: Annotated[TemplateQuery, Query()]) -> list[TemplateOut]:
    """The synced templates, by name; each says what a send of it takes (`parameters`)."""
    found = await repo.list_templates(db, principal.tenant_id, channel_id=query.channel, status=query.status,
                                      language=query.language, include_removed=query.include_removed)
    return [templates.template_out(t) for t in found]


@router.post("/admin/templates/send", response_model=TemplateSendResult, status_code=202)
async def send_template(body: TemplateSendRequest, principal: CurrentPrincipal, db: DbSession) -> TemplateSendResult:
    """Queue an APPROVED template to a WhatsApp conversation, also when its 24-hour window is
    closed. `parameters` are the body's values in order (seed 001); named templates take
    `named_parameters`; a header's text or file and the buttons' values go in `header` and
    `buttons`. Problems are a 422 `template_parameters` with one `details` entry each."""
    conv, msg = await templates.send_template(db, principal.tenant_id, principal.user_id, body)
    names = await conversations.author_names(db, [msg])
    return TemplateSendResult(status="queued", conversation_id=conv.id, message_id=msg.id,
                              message=conversations.message_out(msg, names))
