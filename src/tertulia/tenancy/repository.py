"""SQL for tenants, users, memberships, sessions and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.tenancy.models import ApiToken, AuthSession, Membership, Tenant, User


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def get_membership(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    stmt = select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_user_tenants(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Tenant, str]]:
    stmt = (
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.slug)
    )
    return [(t, r) for t, r in (await session.execute(stmt)).all()]


async def list_members(session: AsyncSession, tenant_id: uuid.UUID) -> list[tuple[User, Membership]]:
    stmt = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(User.email)
    )
    return [(u, m) for u, m in (await session.execute(stmt)).all()]


async def get_session_by_hash(session: AsyncSession, token_hash: str) -> AuthSession | None:
    stmt = select(AuthSession).where(AuthSession.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_api_token_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_api_tokens(session: AsyncSession, tenant_id: uuid.UUID) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.created_at.desc())
    return list((await session.execute(stmt)).scalars())


async def revoke_user_sessions(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def get_api_token_with_tenant(session: AsyncSession, token_hash: str) -> tuple[ApiToken, Tenant] | None:
    """One round trip for the whole Bearer check (it runs on every scripted request)."""
    stmt = select(ApiToken, Tenant).join(Tenant, Tenant.id == ApiToken.tenant_id).where(
        ApiToken.token_hash == token_hash)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def get_session_principal(session: AsyncSession, token_hash: str) -> tuple[AuthSession, User, str | None,
                                                                                   Tenant | None] | None:
    """The login session with its user, and the role and tenant it works in (when still a member),
    in one round trip: it runs on every panel request."""
    stmt = (
        select(AuthSession, User, Membership.role, Tenant)
        .join(User, User.id == AuthSession.user_id)
        .outerjoin(Membership, (Membership.user_id == AuthSession.user_id)
                   & (Membership.tenant_id == AuthSession.tenant_id))
        .outerjoin(Tenant, Tenant.id == Membership.tenant_id)
        .where(AuthSession.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2], row[3]) if row else None

