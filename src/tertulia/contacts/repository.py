"""SQL for contacts, identities and tags, always filtered to one tenant."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, or_, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.kit.db import Reader, dialect_name, tenant_delete, tenant_select, tenant_update


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def get_contact(session: Reader, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> Contact | None:
    stmt = tenant_select(Contact, tenant_id).where(Contact.id == contact_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def search_contacts(session: Reader, tenant_id: uuid.UUID, q: str | None, limit: int,
                          offset: int) -> list[Contact]:
    stmt = tenant_select(Contact, tenant_id)
    if q:
        pattern = like_pattern(q.lower())
        stmt = stmt.where(or_(func.lower(Contact.display_name).like(pattern, escape="\\"),
                              Contact.phone.like(pattern, escape="\\")))
    stmt = stmt.order_by(Contact.display_name, Contact.id).limit(limit).offset(offset)
    return list((await session.execute(stmt)).scalars())


async def tags_of_contacts(session: Reader, tenant_id: uuid.UUID,
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


async def identities_of_contact(session: Reader, tenant_id: uuid.UUID,
                                contact_id: uuid.UUID) -> list[tuple[ContactIdentity, Channel]]:
    stmt = (
        tenant_select(ContactIdentity, tenant_id, ContactIdentity, Channel)
        .join(Channel, Channel.id == ContactIdentity.channel_id)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.created_at)
    )
    return [(i, c) for i, c in (await session.execute(stmt)).all()]


async def list_tags(session: Reader, tenant_id: uuid.UUID) -> list[Tag]:
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


async def delete_contact_tag(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID,
                             tag_id: uuid.UUID) -> int:
    result = await session.execute(
        tenant_delete(ContactTag, tenant_id).where(ContactTag.contact_id == contact_id, ContactTag.tag_id == tag_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the inbound path (conversations/inbound.py): one statement per step for a batch ---------

async def insert_contacts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[uuid.UUID, Contact]:
    """New contacts, returned by id as the session's objects (RETURNING: no read after)."""
    if not rows:
        return {}
    return {c.id: c for c in await session.scalars(insert(Contact).returning(Contact), list(rows))}


async def insert_identities(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[tuple[uuid.UUID, str]]:
    """New channel identities; returns the (channel id, external id) of those inserted. One that
    exists already (a concurrent first message of the same customer) is skipped, after waiting
    for its writer: the identity's unique key decides who created the customer."""
    if not rows:
        return set()
    stmt = _insert_identities_statement(dialect_name(session))
    return {(r.channel_id, r.external_id) for r in await session.execute(stmt, list(rows))}


@functools.cache  # built once per database: it runs for every new sender (the inbound path)
def _insert_identities_statement(dialect: str) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(ContactIdentity).on_conflict_do_nothing(
        index_elements=["tenant_id", "channel_id", "external_id"],
    ).returning(ContactIdentity.channel_id, ContactIdentity.external_id)


async def delete_contacts(session: AsyncSession, tenant_id: uuid.UUID, contact_ids: Sequence[uuid.UUID]) -> None:
    if contact_ids:
        await session.execute(tenant_delete(Contact, tenant_id).where(Contact.id.in_(list(contact_ids))))


async def identity_contacts(session: Reader, tenant_id: uuid.UUID,
                            identities: Sequence[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], Any]:
    """{(channel id, external id): (contact id, display name, phone)} of existing identities."""
    if not identities:
        return {}
    stmt = (tenant_select(ContactIdentity, tenant_id, ContactIdentity.channel_id, ContactIdentity.external_id,
                          Contact.id, Contact.display_name, Contact.phone)
            .join(Contact, and_(Contact.tenant_id == tenant_id, Contact.id == ContactIdentity.contact_id))
            .where(tuple_(ContactIdentity.channel_id, ContactIdentity.external_id).in_(list(identities))))
    return {(r.channel_id, r.external_id): r for r in await session.execute(stmt)}


async def update_contacts(session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> None:
    """New column values of contacts, one dict per contact (its `id` and the columns to set, the
    same columns in every dict): one statement for all, in the order of their ids (two writers
    touching the same contacts then never wait on each other in a circle)."""
    if rows:
        await session.execute(tenant_update(Contact, tenant_id), sorted(rows, key=lambda r: str(r["id"])))


async def named_identities(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                           external_ids: Sequence[str]) -> set[str]:
    """Which of these ids on the channel belong to a contact that has a name (not empty, not the id
    itself): the senders whose profile need not be looked up."""
    if not external_ids:
        return set()
    stmt = (tenant_select(ContactIdentity, tenant_id, ContactIdentity.external_id)
            .select_from(ContactIdentity)
            .join(Contact, and_(Contact.tenant_id == tenant_id, Contact.id == ContactIdentity.contact_id))
            .where(ContactIdentity.channel_id == channel_id, ContactIdentity.external_id.in_(list(external_ids)),
                   Contact.display_name != "", Contact.display_name != ContactIdentity.external_id))
    return set((await session.execute(stmt)).scalars())
