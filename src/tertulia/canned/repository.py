from __future__ import annotations

import uuid

from tertulia.canned.models import CannedResponse
from tertulia.kit.db import Reader, tenant_select


async def list_canned(session: Reader, tenant_id: uuid.UUID) -> list[CannedResponse]:
    stmt = tenant_select(CannedResponse, tenant_id).order_by(CannedResponse.shortcut)
    return list((await session.execute(stmt)).scalars())


async def get_canned(session: Reader, tenant_id: uuid.UUID, canned_id: uuid.UUID) -> CannedResponse | None:
    stmt = tenant_select(CannedResponse, tenant_id).where(CannedResponse.id == canned_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_shortcut(session: Reader, tenant_id: uuid.UUID, shortcut: str) -> CannedResponse | None:
    stmt = tenant_select(CannedResponse, tenant_id).where(CannedResponse.shortcut == shortcut)
    return (await session.execute(stmt)).scalar_one_or_none()
