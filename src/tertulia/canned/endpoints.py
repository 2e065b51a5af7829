"""`/admin/canned-responses`: every member reads them (the composer offers them after `/`);
owners and admins write them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tertulia.canned import repository as repo
from tertulia.canned import service
from tertulia.canned.schemas import CannedResponseCreate, CannedResponseOut, CannedResponseUpdate
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentManager, CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["canned responses"], route_class=JsonBodyRoute)


@router.get("/canned-responses", response_model=list[CannedResponseOut])
async def list_canned(principal: CurrentPrincipal, db: ReadDb) -> list[CannedResponseOut]:
    """The tenant's canned responses, by shortcut."""
    return [CannedResponseOut.model_validate(c) for c in await repo.list_canned(db, principal.tenant_id)]


@router.post("/canned-responses", response_model=CannedResponseOut, status_code=201)
async def create_canned(body: CannedResponseCreate, principal: CurrentManager, db: DbSession) -> CannedResponseOut:
    """A new canned response; 409 `canned_response_exists` when its shortcut is taken."""
    return CannedResponseOut.model_validate(await service.create_canned(db, principal.tenant_id, body))


@router.get("/canned-responses/{canned_id}", response_model=CannedResponseOut)
async def get_canned(canned_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb) -> CannedResponseOut:
    return CannedResponseOut.model_validate(await service.require_canned(db, principal.tenant_id, canned_id))


@router.patch("/canned-responses/{canned_id}", response_model=CannedResponseOut)
async def update_canned(canned_id: uuid.UUID, body: CannedResponseUpdate, principal: CurrentManager,
                        db: DbSession) -> CannedResponseOut:
    canned = await service.require_canned(db, principal.tenant_id, canned_id)
    return CannedResponseOut.model_validate(await service.update_canned(db, canned, body))


@router.delete("/canned-responses/{canned_id}", status_code=204)
async def delete_canned(canned_id: uuid.UUID, principal: CurrentManager, db: DbSession) -> Response:
    canned = await service.require_canned(db, principal.tenant_id, canned_id)
    await service.delete_canned(db, canned)
    return Response(status_code=204)
