from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tertulia.contacts import repository as repo
from tertulia.contacts import service
from tertulia.contacts.schemas import ContactOut, ContactUpdate, TagCreate, TagOut, TagUpdate
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.types import Text
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["contacts and tags"], route_class=JsonBodyRoute)


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(
    principal: CurrentPrincipal, db: ReadDb,
    q: Annotated[Text | None, Query(max_length=200, description="part of the name or phone")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ContactOut]:
    contacts = await repo.search_contacts(db, principal.tenant_id, q, limit, offset)
    return [await service.contact_out(db, c) for c in contacts]


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb) -> ContactOut:
    contact = await service.require_contact(db, principal.tenant_id, contact_id)
    return await service.contact_out(db, contact)


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
async def update_contact(contact_id: uuid.UUID, body: ContactUpdate, principal: CurrentPrincipal,
                         db: DbSession) -> ContactOut:
    """Edit the name, the phone (E.164, e.g. `+525512345678`) or the notes (up to 10,000 characters)."""
    contact = await service.require_contact(db, principal.tenant_id, contact_id)
    return await service.update_contact(db, contact, body)


@router.put("/contacts/{contact_id}/tags/{tag_id}", response_model=ContactOut)
async def apply_tag(contact_id: uuid.UUID, tag_id: uuid.UUID, principal: CurrentPrincipal,
                    db: DbSession) -> ContactOut:
    contact = await service.require_contact(db, principal.tenant_id, contact_id)
    tag = await service.require_tag(db, principal.tenant_id, tag_id)
    return await service.apply_tag(db, contact, tag)


@router.delete("/contacts/{contact_id}/tags/{tag_id}", response_model=ContactOut)
async def remove_tag(contact_id: uuid.UUID, tag_id: uuid.UUID, principal: CurrentPrincipal,
                     db: DbSession) -> ContactOut:
    contact = await service.require_contact(db, principal.tenant_id, contact_id)
    tag = await service.require_tag(db, principal.tenant_id, tag_id)
    return await service.remove_tag(db, contact, tag)


@router.get("/tags", response_model=list[TagOut])
async def list_tags(principal: CurrentPrincipal, db: ReadDb) -> list[TagOut]:
    return [TagOut.model_validate(t) for t in await repo.list_tags(db, principal.tenant_id)]


@router.post("/tags", response_model=TagOut, status_code=201)
async def create_tag(body: TagCreate, principal: CurrentPrincipal, db: DbSession) -> TagOut:
    """Create a tag. Names are unique per tenant regardless of case."""
    return TagOut.model_validate(await service.create_tag(db, principal.tenant_id, body))


@router.patch("/tags/{tag_id}", response_model=TagOut)
async def update_tag(tag_id: uuid.UUID, body: TagUpdate, principal: CurrentPrincipal, db: DbSession) -> TagOut:
    tag = await service.require_tag(db, principal.tenant_id, tag_id)
    return TagOut.model_validate(await service.update_tag(db, tag, body))


@router.delete("/tags/{tag_id}", status_code=204)
async def delete_tag(tag_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession) -> Response:
    tag = await service.require_tag(db, principal.tenant_id, tag_id)
    await service.delete_tag(db, tag)
    return Response(status_code=204)
