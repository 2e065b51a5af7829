"""How long the tenant event log keeps events.

Events older than `event_retention_days` are deleted. A socket that asks to resume from before
the oldest kept event is told to resync (reload its lists) instead of receiving a partial history.
The deletion walks each tenant's primary key in sequence order, so a run costs about the number of
rows it deletes plus one indexed lookup per tenant; every `serve` process runs it at start-up and
then hourly (running it twice at once is harmless: both delete the same rows).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta

import structlog

from tertulia.kit.db import Database, utcnow
from tertulia.realtime import repository as repo

log = structlog.get_logger("tertulia.realtime.retention")

DELETE_BATCH = 5000
RUN_EVERY_SECONDS = 3600.0


async def purge_old_events(db: Database, older_than: datetime, tenant_ids: list[uuid.UUID] | None = None) -> int:
    """Delete events created before `older_than` (for the given tenants, or all); returns how many."""
    if tenant_ids is None:
        async with db.read_session(cross_tenant="retention walks every tenant's log") as session:
            tenant_ids = await repo.tenants_with_events(session)
    deleted = 0
    for tenant_id in tenant_ids:
        async with db.read_session(tenant_id) as session:
            oldest = await repo.oldest_kept_event(session, tenant_id)
            if oldest is None or oldest[1] >= older_than:
                continue
            # Head first: any event numbered up to it is committed, so if none of them is recent
            # enough, all of them can go, and nothing written afterwards is touched.
            head = await repo.head_seq(session, tenant_id)
            first_kept = await repo.first_event_since(session, tenant_id, older_than)
        cut = first_kept if first_kept is not None else head + 1
        low = oldest[0]
        while low < cut:
            # Short transactions keep writers (one at a time on SQLite) from waiting on us.
            high = min(cut, low + DELETE_BATCH)
            async with db.session(tenant_id) as session:
                deleted += await repo.delete_events_before(session, tenant_id, high)
            low = high
    return deleted


async def run_retention(db: Database, retention_days: float) -> None:
    """The background loop: purge at start-up, then about hourly (jittered so processes spread out)."""
    while True:
        try:
            deleted = await purge_old_events(db, utcnow() - timedelta(days=retention_days))
            if deleted:
                log.info("events_purged", action="event_retention", deleted=deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event_retention_failed", action="event_retention")
        await asyncio.sleep(RUN_EVERY_SECONDS * random.uniform(0.9, 1.1))
