"""The takeover's return: when a tenant sets `ai_resumes_after_minutes`, a conversation a person took
over (by writing, from the panel or the phone's app, or by locking it) goes back to the AI once no
person has written in it for that long. Unset (the default), a takeover lasts until a person
gives the conversation back.

A small periodic job (inside `serve` and `tertulia worker`); several processes may run it: rows
are locked (skipping those another process holds) and checked again under the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from tertulia.conversations.models import Conversation
from tertulia.conversations.service import emit_conversation_updated
from tertulia.kit.db import Database, Reader, is_sqlite, tenant_select, utcnow
from tertulia.tenancy.models import Tenant

log = structlog.get_logger("tertulia.conversations.takeover")

BATCH = 200


async def tenants_with_return(session: Reader) -> list[tuple[uuid.UUID, int]]:
    stmt = select(Tenant.id, Tenant.ai_resumes_after_minutes).where(Tenant.ai_resumes_after_minutes.is_not(None))
    return [(r[0], r[1]) for r in (await session.execute(stmt)).all() if r[1] is not None]


async def return_idle_takeovers(db: Database, now: datetime | None = None) -> int:
    """Give back to the AI every conversation whose takeover went quiet for its tenant's time;
    answers how many went back."""
    now = now or utcnow()
    async with db.read_session(cross_tenant="the takeover's return reads every tenant's setting") as session:
        tenants = await tenants_with_return(session)
    returned = 0
    for tenant_id, minutes in tenants:
        cutoff = now - timedelta(minutes=minutes)
        async with db.session(tenant_id) as session:
            stmt = (tenant_select(Conversation, tenant_id)
                    .where(Conversation.ai_state == "human_override", Conversation.last_human_at < cutoff)
                    .order_by(Conversation.last_human_at).limit(BATCH))
            if not is_sqlite(session):
                stmt = stmt.with_for_update(skip_locked=True)
            for conv in (await session.execute(stmt)).scalars():
                conv.ai_state = "ai_active"
                conv.last_human_at = None
                conv.updated_at = now
                await emit_conversation_updated(session, conv)
                returned += 1
    if returned:
        log.info("takeovers_returned", action="takeover_return", conversations=returned)
    return returned


@asynccontextmanager
async def running_takeover_returns(db: Database, every: float = 30.0) -> AsyncIterator[None]:
    """The job every `every` seconds for as long as the block lasts."""

    async def loop() -> None:
        while True:
            try:
                await return_idle_takeovers(db)
            except Exception as exc:  # the database is away: next round
                log.warning("takeover_return_error", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(every)

    task = asyncio.create_task(loop(), name="takeover-returns")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
