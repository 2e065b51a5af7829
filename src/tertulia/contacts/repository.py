"""SQL for contacts, identities and tags, always filtered to one tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.kit.db import tenant_select


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def get_contact(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> Contact | None:
    stmt = tenant_select(Contact, tenant_id).where(Contact.id == contact_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def search_contacts(session: AsyncSession, tenant_id: uuid.UUID, q: str | None, limit: int,
                          offset: int) -> list[Contact]:
    stmt = tenant_select(Contact, tenant_id)
    if q:
        pattern = like_pattern(q.lower())
        stmt = stmt.where(or_(func.lower(Contact.display_name).like(pattern, escape="\\"),
                              Contact.phone.like(pattern, escape="\\")))
    stmt = stmt.order_by(Contact.display_name, Contact.id).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


async def tags_of_contacts(session: AsyncSession, tenant_id: uuid.UUID,
                           contact_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Tag]]:
    """Tags per contact, most recently applied first."""
    if not contact_ids:
        return {}
    stmt = (
        tenant_select(ContactTag, tenant_id, ContactTag.contact_id, Tag)
        .join(Tag, (Tag.tenant_id == ContactTag.tenant_id) & (Tag.id == ContactTag.tag_id))
        .where(ContactTag.contact_id.in_(list(set(contact_ids))))
        .order_by(ContactTag.contact_id, ContactTag.applied_at.desc(), Tag.name)
    )
    result: dict[uuid.UUID, list[Tag]] = defaultdict(list)
    for contact_id, tag in (await session.execute(stmt)).all():
        result[contact_id].append(tag)
    return result


async def identities_of_contact(session: AsyncSession, tenant_id: uuid.UUID,
                                contact_id: uuid.UUID) -> list[tuple[ContactIdentity, Channel]]:
    stmt = (
        tenant_select(ContactIdentity, tenant_id, ContactIdentity, Channel)
        .join(Channel, Channel.id == ContactIdentity.channel_id)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.created_at)
    )
    return [(i, c) for i, c in (await session.execute(stmt)).all()]


async def get_identity(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                       external_id: str) -> ContactIdentity | None:
    stmt = tenant_select(ContactIdentity, tenant_id).where(
        ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_tags(session: AsyncSession, tenant_id: uuid.UUID) -> list[Tag]:
    stmt = tenant_select(Tag, tenant_id).order_by(Tag.name_key)
    return list((await session.execute(stmt)).scalars())


async def get_tag(session: AsyncSession, tenant_id: uuid.UUID, tag_id: uuid.UUID) -> Tag | None:
    return (await session.execute(tenant_select(Tag, tenant_id).where(Tag.id == tag_id))).scalar_one_or_none()


async def get_tag_by_key(session: AsyncSession, tenant_id: uuid.UUID, name_key: str) -> Tag | None:
    stmt = tenant_select(Tag, tenant_id).where(Tag.name_key == name_key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_contact_tag(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID,
                          tag_id: uuid.UUID) -> ContactTag | None:
    stmt = tenant_select(ContactTag, tenant_id).where(ContactTag.contact_id == contact_id,
                                                       ContactTag.tag_id == tag_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def contacts_with_tag(session: AsyncSession, tenant_id: uuid.UUID, tag_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = tenant_select(ContactTag, tenant_id, ContactTag.contact_id).where(ContactTag.tag_id == tag_id)
    return list((await session.execute(stmt)).scalars())


async def delete_contact_tag(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID,
                             tag_id: uuid.UUID) -> int:
    result = await session.execute(
        delete(ContactTag).where(ContactTag.tenant_id == tenant_id, ContactTag.contact_id == contact_id,
                                 ContactTag.tag_id == tag_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
