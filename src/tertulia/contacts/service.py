"""Contacts and tags: edits that emit tenant events."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import SOURCE_OF_KIND
from tertulia.contacts import repository as repo
from tertulia.contacts.models import Contact, ContactTag, Tag
from tertulia.contacts.schemas import ContactOut, ContactUpdate, IdentityOut, TagCreate, TagOut, TagUpdate
from tertulia.conversations.models import Conversation
from tertulia.kit.db import Reader, tenant_select, utcnow
from tertulia.kit.errors import Conflict, NotFound
from tertulia.realtime.events import record_event


async def require_contact(session: Reader, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    contact = await repo.get_contact(session, tenant_id, contact_id)
    if contact is None:
        raise NotFound("no such contact", code="contact_not_found")
    return contact


async def require_tag(session: AsyncSession, tenant_id: uuid.UUID, tag_id: uuid.UUID) -> Tag:
    tag = await repo.get_tag(session, tenant_id, tag_id)
    if tag is None:
        raise NotFound("no such tag", code="tag_not_found")
    return tag


async def contact_out(session: Reader, contact: Contact) -> ContactOut:
    tags = (await repo.tags_of_contacts(session, contact.tenant_id, [contact.id])).get(contact.id, [])
    identities = await repo.identities_of_contact(session, contact.tenant_id, contact.id)
    return ContactOut(
        id=contact.id, display_name=contact.display_name, phone=contact.phone, notes=contact.notes,
        custom_attributes=contact.custom_attributes or {}, last_seen_at=contact.last_seen_at,
        created_at=contact.created_at, tags=[TagOut.model_validate(t) for t in tags],
        identities=[IdentityOut(channel_id=c.id, channel_source=SOURCE_OF_KIND[c.kind], channel_name=c.name,
                                external_id=i.external_id) for i, c in identities],
    )


async def emit_contact_updated(session: AsyncSession, contact: Contact) -> ContactOut:
    await session.flush()
    out = await contact_out(session, contact)
    record_event(session, contact.tenant_id, "contact.updated", out.model_dump(mode="json"))
    return out


async def update_contact(session: AsyncSession, contact: Contact, changes: ContactUpdate) -> ContactOut:
    fields: dict[str, Any] = changes.model_dump(exclude_unset=True)
    if {"display_name", "phone"} & fields.keys():
        # Its conversations keep a copy of the name and phone (a trigger updates it, migration
        # 0003): lock them first, in the order the inbound path takes (conversation, then
        # contact, conversations in the order of their ids), so an edit and an arriving message
        # never deadlock.
        await session.execute(tenant_select(Conversation, contact.tenant_id, Conversation.id).where(
            Conversation.contact_id == contact.id).order_by(Conversation.id).with_for_update())
    if "display_name" in fields and fields["display_name"] is not None:
        contact.display_name = fields["display_name"]
    if "phone" in fields:
        contact.phone = fields["phone"]
    if "notes" in fields and fields["notes"] is not None:
        contact.notes = fields["notes"]
    if "custom_attributes" in fields and fields["custom_attributes"] is not None:
        contact.custom_attributes = fields["custom_attributes"]
    contact.updated_at = utcnow()
    return await emit_contact_updated(session, contact)


def _tag_data(tag: Tag) -> dict[str, Any]:
    return TagOut.model_validate(tag).model_dump(mode="json")


async def create_tag(session: AsyncSession, tenant_id: uuid.UUID, body: TagCreate) -> Tag:
    key = body.name.casefold()
    if await repo.get_tag_by_key(session, tenant_id, key):
        raise Conflict(f"a tag named '{body.name}' already exists", code="duplicate_tag")
    tag = Tag(tenant_id=tenant_id, name=body.name, name_key=key, color=body.color)
    session.add(tag)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(f"a tag named '{body.name}' already exists", code="duplicate_tag") from exc
    record_event(session, tenant_id, "tag.created", _tag_data(tag))
    return tag


async def update_tag(session: AsyncSession, tag: Tag, body: TagUpdate) -> Tag:
    if body.name is not None and body.name != tag.name:
        key = body.name.casefold()
        other = await repo.get_tag_by_key(session, tag.tenant_id, key)
        if other is not None and other.id != tag.id:
            raise Conflict(f"a tag named '{body.name}' already exists", code="duplicate_tag")
        tag.name, tag.name_key = body.name, key
    if body.color is not None:
        tag.color = body.color
    await session.flush()
    record_event(session, tag.tenant_id, "tag.updated", _tag_data(tag))
    return tag


async def delete_tag(session: AsyncSession, tag: Tag) -> None:
    data = _tag_data(tag)
    await session.delete(tag)
    await session.flush()
    record_event(session, tag.tenant_id, "tag.deleted", data)


async def apply_tag(session: AsyncSession, contact: Contact, tag: Tag) -> ContactOut:
    link = await repo.get_contact_tag(session, contact.tenant_id, contact.id, tag.id)
    if link is None:
        session.add(ContactTag(tenant_id=contact.tenant_id, contact_id=contact.id, tag_id=tag.id, applied_at=utcnow()))
    else:  # applying again makes it the contact's most recent (active) tag
        link.applied_at = utcnow()
    return await emit_contact_updated(session, contact)


async def remove_tag(session: AsyncSession, contact: Contact, tag: Tag) -> ContactOut:
    await repo.delete_contact_tag(session, contact.tenant_id, contact.id, tag.id)
    return await emit_contact_updated(session, contact)
