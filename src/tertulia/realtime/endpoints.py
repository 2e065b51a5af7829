from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tertulia.conversations.schemas import EventOut
from tertulia.kit.types import MAX_DB_INT
from tertulia.kit.web import ReadDb
from tertulia.realtime import repository as repo
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["events"])


@router.get("/events", response_model=list[EventOut])
async def list_events(
    principal: CurrentPrincipal, db: ReadDb,
    after: Annotated[int, Query(ge=0, le=MAX_DB_INT, description="the last sequence number you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventOut]:
    """The tenant's change log in sequence order; poll with the last `seq` you saw."""
    rows = await repo.events_after(db, principal.tenant_id, after, limit)
    return [EventOut(seq=e.seq, type=e.type, data=e.payload, at=e.created_at) for e in rows]
