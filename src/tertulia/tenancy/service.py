"""Tenants, users, memberships, login sessions and API tokens."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.kit.crypto import hash_token, new_token
from tertulia.kit.db import Reader, utcnow
from tertulia.kit.errors import Conflict, Invalid, NotAuthenticated, NotFound
from tertulia.tenancy import repository as repo
from tertulia.tenancy.models import ROLES, ApiToken, AuthSession, Membership, Tenant, TenantSequence, User
from tertulia.tenancy.passwords import check_password_strength, hash_password, verify_password

SESSION_TTL = timedelta(days=14)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise Invalid("a slug has 1-64 lower-case letters, digits and inner hyphens", code="invalid_slug")
    return slug


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise Invalid("that is not an email address", code="invalid_email")
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    return role


async def create_tenant(session: AsyncSession, slug: str, name: str) -> Tenant:
    check_slug(slug)
    if not name.strip():
        raise Invalid("the tenant needs a name", code="invalid_name")
    if await repo.get_tenant_by_slug(session, slug):
        raise Conflict(f"a tenant with slug '{slug}' already exists", code="duplicate_slug")
    tenant = Tenant(slug=slug, name=name.strip())
    session.add(tenant)
    await session.flush()
    session.add(TenantSequence(tenant_id=tenant.id, last_event_seq=0))
    await session.flush()
    return tenant


UNCHANGED: Any = object()


async def update_tenant(session: AsyncSession, tenant: Tenant, *, name: str | None = None,
                        time_zone: str | None = None, ai_resumes_after_minutes: int | None = UNCHANGED) -> Tenant:
    if name is not None:
        tenant.name = name
    if time_zone is not None:
        tenant.time_zone = time_zone
    if ai_resumes_after_minutes is not UNCHANGED:
        tenant.ai_resumes_after_minutes = ai_resumes_after_minutes
    await session.flush()
    return tenant


async def require_tenant_by_id(session: Reader, tenant_id: uuid.UUID) -> Tenant:
    tenant = await repo.get_tenant(session, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant", code="unknown_tenant")
    return tenant


async def require_tenant(session: AsyncSession, slug: str) -> Tenant:
    tenant = await repo.get_tenant_by_slug(session, slug)
    if tenant is None:
        raise NotFound(f"no tenant with slug '{slug}'", code="unknown_tenant")
    return tenant


async def create_user(session: AsyncSession, email: str, password: str, display_name: str | None = None) -> User:
    email = check_email(email)
    check_password_strength(password)
    if await repo.get_user_by_email(session, email):
        raise Conflict(f"a user with email '{email}' already exists", code="duplicate_email")
    user = User(email=email, password_hash=hash_password(password),
                display_name=(display_name or email.split("@")[0]).strip()[:200])
    session.add(user)
    await session.flush()
    return user


async def add_member(session: AsyncSession, tenant: Tenant, user: User, role: str) -> Membership:
    check_role(role)
    existing = await repo.get_membership(session, tenant.id, user.id)
    if existing:
        raise Conflict(f"{user.email} is already a member of {tenant.slug}", code="duplicate_member")
    membership = Membership(tenant_id=tenant.id, user_id=user.id, role=role)
    session.add(membership)
    await session.flush()
    return membership


@dataclass
class LoginResult:
    user: User
    session_token: str
    auth_session: AuthSession
    tenants: list[tuple[Tenant, str]]


async def login(session: AsyncSession, email: str, password: str, user_agent: str | None) -> LoginResult:
    user = await repo.get_user_by_email(session, email.strip().lower())
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise NotAuthenticated("wrong email or password", code="invalid_credentials")
    tenants = await repo.list_user_tenants(session, user.id)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    auth = AuthSession(
        token_hash=hash_token(token), user_id=user.id,
        # With exactly one tenant there is nothing to choose; otherwise the user picks one.
        tenant_id=tenants[0][0].id if len(tenants) == 1 else None,
        csrf_token=secrets.token_urlsafe(32), user_agent=(user_agent or "")[:400] or None,
        created_at=now, last_seen_at=now, expires_at=now + SESSION_TTL,
    )
    session.add(auth)
    await session.flush()
    return LoginResult(user=user, session_token=token, auth_session=auth, tenants=tenants)


def session_is_live(revoked_at: datetime | None, expires_at: datetime) -> bool:
    return revoked_at is None and expires_at > utcnow()


async def resolve_session(session: Reader, token: str) -> AuthSession | None:
    auth = await repo.get_session_by_hash(session, hash_token(token))
    return auth if auth is not None and session_is_live(auth.revoked_at, auth.expires_at) else None


async def revoke_session(auth: AuthSession) -> None:
    auth.revoked_at = utcnow()


async def create_api_token(session: AsyncSession, tenant: Tenant, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("a token needs a name of 1-200 characters", code="invalid_name")
    token = new_token("trt")
    row = ApiToken(id=uuid.uuid4(), tenant_id=tenant.id, name=name, token_hash=hash_token(token), prefix=token[:8])
    session.add(row)
    await session.flush()
    return row, token
