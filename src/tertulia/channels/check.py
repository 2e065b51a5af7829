"""`POST /admin/channels/{id}/check`: asks the provider, with the channel's own credentials, whether
they work, and says what works and what does not in words a business owner understands (each
kind's check is its provider's, channels/providers.py). A check that proves the credentials
brings a channel that needed attention back (its paused deliveries go); one the provider refuses
marks it as needing attention.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from tertulia.channels import service as channels
from tertulia.channels.checks import ChannelCheck, Checks
from tertulia.channels.providers import provider
from tertulia.delivery import service as delivery
from tertulia.kit.errors import Invalid
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["channels"], route_class=JsonBodyRoute)


@router.post("/channels/{channel_id}/check", response_model=ChannelCheck)
async def check_channel(channel_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession,
                        request: Request) -> ChannelCheck:
    """Try the channel's credentials against its provider and say, check by check, what works and
    what to fix."""
    channel = await channels.require_channel(db, principal.tenant_id, channel_id)
    check = provider(channel.kind).check
    if check is None:
        raise Invalid("this kind of channel cannot be checked yet", code="check_not_available")
    checks = Checks()
    db.expunge(channel)
    await db.rollback()  # no transaction (SQLite's writer) held while the provider answers
    await check(channel, request.app.state.secret_box, request.app.state.settings, checks)
    ok = all(item.ok for item in checks.items)
    current = await channels.require_channel(db, principal.tenant_id, channel_id)
    if checks.refused is not None:
        current.status, current.status_reason = "attention", checks.refused.reason
    elif ok and current.status == "attention":
        await delivery.resume_channel(db, current)
    return ChannelCheck(ok=ok, checks=checks.items, status=current.status)
