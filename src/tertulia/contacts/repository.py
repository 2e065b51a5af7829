"""SQL for contacts, identities and tags, always filtered to one tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, Uuid, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels.models import Channel
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.kit.db import UTCDateTime, tenant_select


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


# --- the inbound path: a channel identity and its contact --------------------------------------
# Every inbound message runs these, so they are built once, with bound values, and run as Core
# statements (building and loading ORM statements cost more than running them). Bound names are
# never column names: an INSERT or UPDATE takes a parameter named like one of its columns as a
# value to write.

_contacts = cast(Table, Contact.__table__)
_identities = cast(Table, ContactIdentity.__table__)
# Typed here: a column that takes its type from a foreign key may not have it yet at import time.
_tenant: Any = bindparam("tenant", type_=Uuid())
_contact: Any = bindparam("contact", type_=Uuid())
_channel: Any = bindparam("channel", type_=Uuid())
_external_id: Any = bindparam("external_id", type_=String())
_now: Any = bindparam("now", type_=UTCDateTime())

_INSERT_CONTACT = insert(_contacts).values(
    id=_contact, tenant_id=_tenant, display_name=bindparam("new_name"), phone=bindparam("new_phone"), notes="",
    custom_attributes={}, last_seen_at=_now, created_at=_now, updated_at=_now)
_DELETE_CONTACT = delete(_contacts).where(_contacts.c.tenant_id == _tenant, _contacts.c.id == _contact)
_INSERT_IDENTITY = {
    name: dialect.insert(_identities).values(
        id=bindparam("identity", type_=Uuid()), tenant_id=_tenant, contact_id=_contact, channel_id=_channel,
        external_id=_external_id, created_at=_now)
    .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "external_id"])
    .returning(_identities.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_IDENTITY_CONTACT = select(_identities.c.contact_id).where(
    _identities.c.tenant_id == _tenant, _identities.c.channel_id == _channel, _identities.c.external_id == _external_id)

# A contact wrote: it is seen now, and what the delivery says about it fills in what it lacks,
# never overwriting what an agent typed (the name while empty or still the external id, the phone
# while unset). Returns its name and phone as they are now. Run with touch_contact_params(); the
# conversations repository runs it together with the message it stores.
_given_name: Any = bindparam("given_name", type_=String())
_given_phone: Any = bindparam("given_phone", type_=String())
TOUCH_CONTACT = (
    update(_contacts)
    .where(_contacts.c.tenant_id == _tenant, _contacts.c.id == _contact)
    .values(last_seen_at=_now, updated_at=_now,
            display_name=case((and_(_given_name != "", _contacts.c.display_name.in_(["", _external_id])),
                               _given_name), else_=_contacts.c.display_name),
            phone=case((and_(_given_phone != "", func.coalesce(_contacts.c.phone, "") == ""), _given_phone),
                       else_=_contacts.c.phone))
    .returning(_contacts.c.display_name, _contacts.c.phone)
)


def touch_contact_params(external_id: str, name: str | None, phone: str | None) -> dict[str, Any]:
    """TOUCH_CONTACT's values besides tenant, contact and now."""
    return {"external_id": external_id, "given_name": name or "", "given_phone": phone or ""}


async def upsert_identity(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, external_id: str,
                          name: str | None, phone: str | None, now: datetime) -> uuid.UUID:
    """The contact behind a channel identity, created together with it when the identity is new.
    Concurrent first messages of one identity create it once: the identity's unique key decides,
    and a loser drops the contact it had just inserted (nobody else can have seen it) and takes
    the winner's."""
    conn = await session.connection()
    new_contact_id = uuid.uuid4()
    params: dict[str, Any] = {
        "tenant": tenant_id, "contact": new_contact_id, "channel": channel_id, "external_id": external_id,
        "identity": uuid.uuid4(), "now": now, "new_name": name or external_id, "new_phone": phone or None}
    await conn.execute(_INSERT_CONTACT, params)
    if (await conn.execute(_INSERT_IDENTITY[conn.dialect.name], params)).first() is not None:
        return new_contact_id
    await conn.execute(_DELETE_CONTACT, params)
    contact_id: uuid.UUID = (await conn.execute(_IDENTITY_CONTACT, params)).scalar_one()
    return contact_id
