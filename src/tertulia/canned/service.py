"""Canned responses: one per shortcut and tenant (409 `canned_response_exists` otherwise)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.canned import repository as repo
from tertulia.canned.models import CannedResponse
from tertulia.canned.schemas import CannedResponseCreate, CannedResponseUpdate
from tertulia.kit.db import Reader, utcnow
from tertulia.kit.errors import Conflict, NotFound


def _exists(shortcut: str) -> Conflict:
    return Conflict(f"a canned response '/{shortcut}' already exists", code="canned_response_exists")


async def require_canned(session: Reader, tenant_id: uuid.UUID, canned_id: uuid.UUID) -> CannedResponse:
    found = await repo.get_canned(session, tenant_id, canned_id)
    if found is None:
        raise NotFound("no such canned response", code="canned_response_not_found")
    return found


async def _flush_unique(session: AsyncSession, shortcut: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent write of the same shortcut
        raise _exists(shortcut) from exc


async def create_canned(session: AsyncSession, tenant_id: uuid.UUID, body: CannedResponseCreate) -> CannedResponse:
    if await repo.get_by_shortcut(session, tenant_id, body.shortcut):
        raise _exists(body.shortcut)
    canned = CannedResponse(tenant_id=tenant_id, shortcut=body.shortcut, title=body.title.strip(),
                            content=body.content.strip())
    session.add(canned)
    await _flush_unique(session, body.shortcut)
    return canned


async def update_canned(session: AsyncSession, canned: CannedResponse, body: CannedResponseUpdate) -> CannedResponse:
    if body.shortcut is not None and body.shortcut != canned.shortcut:
        if await repo.get_by_shortcut(session, canned.tenant_id, body.shortcut):
            raise _exists(body.shortcut)
        canned.shortcut = body.shortcut
    if body.title is not None:
        canned.title = body.title.strip()
    if body.content is not None:
        canned.content = body.content.strip()
    canned.updated_at = utcnow()
    await _flush_unique(session, canned.shortcut)
    return canned


async def delete_canned(session: AsyncSession, canned: CannedResponse) -> None:
    await session.delete(canned)
    await session.flush()
