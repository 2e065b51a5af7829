"""SQL for tenants, users, memberships, sessions and API tokens."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.kit.db import Reader, dialect_name, stated_tenant, stating_tenant, tenant_select, tenant_update
from tertulia.tenancy.models import ApiToken, AuthSession, Membership, Tenant, User


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def get_tenant(session: Reader, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def member_name(session: Reader, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    """The display name of a member of the tenant (None for anyone else)."""
    stmt = (tenant_select(Membership, tenant_id, User.display_name).select_from(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.user_id == user_id))
    name: str | None = (await session.execute(stmt)).scalar_one_or_none()
    return name


async def get_membership(session: Reader, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    stmt = tenant_select(Membership, tenant_id).where(Membership.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_user_tenants(session: Reader, user_id: uuid.UUID) -> list[tuple[Tenant, str]]:
    """A person's tenants and roles (crosses tenants: a login session's, see tenancy.auth)."""
    stmt = (
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.slug)
    )
    return [(t, r) for t, r in (await session.execute(stmt)).all()]


async def list_members(session: Reader, tenant_id: uuid.UUID) -> list[tuple[User, Membership]]:
    stmt = (tenant_select(Membership, tenant_id, User, Membership)
            .select_from(Membership).join(User, Membership.user_id == User.id).order_by(User.email))
    return [(u, m) for u, m in (await session.execute(stmt)).all()]


async def get_session_by_hash(session: Reader, token_hash: str) -> AuthSession | None:
    stmt = select(AuthSession).where(AuthSession.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_api_token_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_api_tokens(session: Reader, tenant_id: uuid.UUID) -> list[ApiToken]:
    stmt = tenant_select(ApiToken, tenant_id).order_by(ApiToken.created_at.desc())
    return list((await session.execute(stmt)).scalars())


# The two credential checks run on every request: one statement each, plain rows.
_token, _tenant, _auth, _user, _member = (ApiToken.__table__, Tenant.__table__, AuthSession.__table__,
                                          User.__table__, Membership.__table__)

TOKEN_PRINCIPAL = (
    select(_token.c.id.label("token_id"), _token.c.revoked_at, _token.c.last_used_at,
           _tenant.c.id.label("tenant_id"), _tenant.c.slug.label("tenant_slug"))
    .join(_tenant, _tenant.c.id == _token.c.tenant_id)
    .where(_token.c.token_hash == bindparam("token_hash"))
)

SESSION_PRINCIPAL = (
    select(_auth.c.id.label("session_id"), _auth.c.tenant_id.label("session_tenant_id"), _auth.c.csrf_token,
           _auth.c.expires_at, _auth.c.revoked_at, _user.c.id.label("user_id"),
           _user.c.display_name.label("user_name"), _member.c.role, _tenant.c.id.label("tenant_id"),
           _tenant.c.slug.label("tenant_slug"))
    .join(_user, _user.c.id == _auth.c.user_id)
    .outerjoin(_member, (_member.c.user_id == _auth.c.user_id) & (_member.c.tenant_id == _auth.c.tenant_id))
    .outerjoin(_tenant, _tenant.c.id == _member.c.tenant_id)
    .where(_auth.c.token_hash == bindparam("token_hash"))
)


# Built once per database and kind of session, on first use (every foreign key's type is known then).
@functools.cache
def _stating(check: Select[Any], dialect: str, read_only: bool) -> Select[Any]:
    return check.add_columns(*stating_tenant(dialect, check.selected_columns.tenant_id, read_only=read_only))


async def _principal(session: Reader, check: Select[Any], token_hash: str) -> Any:
    read_only = bool(session.info.get("read_only"))
    found = (await session.execute(_stating(check, dialect_name(session), read_only),
                                   {"token_hash": token_hash})).first()
    if found is not None:
        stated_tenant(session, [found.tenant_id])
    return found


async def get_api_token_with_tenant(session: Reader, token_hash: str) -> Any:
    """The whole Bearer check in one round trip: token_id, revoked_at, tenant_id, tenant_slug
    (crosses tenants: see tenancy.auth). The same round trip limits the transaction to the token's
    tenant (`stating_tenant`): the request's next statement already works as that tenant."""
    return await _principal(session, TOKEN_PRINCIPAL, token_hash)


# `last_used_at` is kept to the minute, written after the response in a transaction of its own
# (tenancy.auth). Written in every request's transaction, it held the token's row lock until that
# commit, so every request of an integration that uses one token waited for the one before it
# (16 parallel sends through one token went at 2/s). A row the WHERE does not match is neither
# written nor locked.
TOKEN_TOUCH_EVERY = timedelta(minutes=1)


def token_touch_due(last_used_at: datetime | None, at: datetime) -> bool:
    """Whether `touch_api_token` has anything to write (known from the credential check's read;
    the UPDATE checks again, for the requests that race)."""
    return last_used_at is None or last_used_at < at - TOKEN_TOUCH_EVERY


async def touch_api_token(session: AsyncSession, tenant_id: uuid.UUID, token_id: uuid.UUID, at: datetime) -> None:
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < at - TOKEN_TOUCH_EVERY)
    # SKIP LOCKED: when the minute is up, the parallel requests of one integration all find the
    # token stale; one of them writes it and the others go on instead of waiting for its commit
    # (SQLite has one writer and no row locks: the clause is not rendered there).
    claim = select(ApiToken.id).where(ApiToken.id == token_id, stale).with_for_update(skip_locked=True)
    await session.execute(tenant_update(ApiToken, tenant_id).where(ApiToken.id.in_(claim))
                          .values(last_used_at=at))


async def get_session_principal(session: Reader, token_hash: str) -> Any:
    """The login session with its user, and the role and tenant it works in (role and tenant are
    None when no longer a member), in one round trip: it runs on every panel request (crosses
    tenants: see tenancy.auth). Limits the transaction to that tenant as the token check does."""
    return await _principal(session, SESSION_PRINCIPAL, token_hash)
