from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from tertulia.kit.db import ALL_TENANTS, Reader, set_tenant, utcnow
from tertulia.kit.errors import Conflict, Forbidden, Invalid, NotFound
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import AppSettings, DbSession, ReadDb
from tertulia.tenancy import repository as repo
from tertulia.tenancy import service
from tertulia.tenancy.auth import (
    SESSION_COOKIE,
    CurrentAuthSession,
    CurrentManager,
    CurrentPrincipal,
    check_csrf,
    load_cookie_session,
)
from tertulia.tenancy.models import ApiToken, AuthSession, Membership, User
from tertulia.tenancy.schemas import (
    LoginRequest,
    MemberCreate,
    MemberOut,
    MemberUpdate,
    SelectTenantRequest,
    SessionOut,
    TenantOut,
    TenantSettingsOut,
    TenantSettingsUpdate,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)

router = APIRouter(tags=["auth"], route_class=JsonBodyRoute)
admin = APIRouter(prefix="/admin", tags=["tenant, members and tokens"], route_class=JsonBodyRoute)


async def _session_out(db: Reader, auth: AuthSession) -> SessionOut:
    user = await db.get(User, auth.user_id)
    assert user is not None
    tenants = [TenantOut(id=t.id, slug=t.slug, name=t.name, role=r)
               for t, r in await repo.list_user_tenants(db, user.id)]
    current = next((t for t in tenants if t.id == auth.tenant_id), None)
    return SessionOut(user=UserOut.model_validate(user), tenant=current, tenants=tenants,
                      csrf_token=auth.csrf_token)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/api/auth/login", response_model=SessionOut)
async def login(body: LoginRequest, request: Request, response: Response, db: DbSession,
                settings: AppSettings) -> SessionOut:
    """Log in with email and password. Sets an HttpOnly session cookie; send the returned
    `csrf_token` as `X-CSRF-Token` on every unsafe request."""
    limiter = request.app.state.rate_limiter
    await limiter.check(settings.login_limit_per_address, "login-ip", _client_address(request),
                        message="too many login attempts")
    await limiter.check(settings.login_limit_per_email, "login-email", body.email.strip().lower(),
                        message="too many login attempts")
    await set_tenant(db, ALL_TENANTS)  # a person's memberships span tenants
    result = await service.login(db, body.email, body.password, request.headers.get("user-agent"))
    response.set_cookie(
        SESSION_COOKIE, result.session_token, httponly=True, samesite="lax",
        secure=settings.base_url.startswith("https://"), max_age=int(service.SESSION_TTL.total_seconds()),
        path="/",
    )
    return await _session_out(db, result.auth_session)


@router.post("/api/auth/logout", status_code=204, openapi_extra={"security": [{"session": [], "csrf": []}, {}]})
async def logout(request: Request, response: Response, db: DbSession) -> Response:
    """End the cookie session (send `X-CSRF-Token`, as on every unsafe request: another site's
    form must not be able to log the user out). Without a live session there is nothing to end."""
    auth = await load_cookie_session(request, db)
    if auth is not None:
        check_csrf(request, auth.csrf_token)
        await service.revoke_session(auth)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/api/auth/me", response_model=SessionOut)
async def me(auth: CurrentAuthSession, db: ReadDb) -> SessionOut:
    return await _session_out(db, auth)


@router.post("/api/auth/tenant", response_model=SessionOut)
async def select_tenant(body: SelectTenantRequest, auth: CurrentAuthSession, db: DbSession) -> SessionOut:
    """Pick which of your tenants this session works in."""
    tenant = await repo.get_tenant_by_slug(db, body.slug)
    if tenant is None or await repo.get_membership(db, tenant.id, auth.user_id) is None:
        raise NotFound("you are not a member of that tenant", code="unknown_tenant")
    auth.tenant_id = tenant.id
    return await _session_out(db, auth)


# ---- the tenant's own settings (any member reads them; owners and admins change them) ----

@admin.get("/tenant", response_model=TenantSettingsOut)
async def get_tenant_settings(principal: CurrentPrincipal, db: ReadDb) -> TenantSettingsOut:
    tenant = await service.require_tenant_by_id(db, principal.tenant_id)
    return TenantSettingsOut.model_validate(tenant)


@admin.patch("/tenant", response_model=TenantSettingsOut)
async def update_tenant_settings(body: TenantSettingsUpdate, principal: CurrentManager,
                                 db: DbSession) -> TenantSettingsOut:
    """Rename the tenant, set its time zone (an IANA name) or after how long a person's takeover
    goes back to the AI (`ai_resumes_after_minutes`, null: never). The slug, part of every panel
    address, does not change."""
    tenant = await service.require_tenant_by_id(db, principal.tenant_id)
    returns = {"ai_resumes_after_minutes": body.ai_resumes_after_minutes} if (
        "ai_resumes_after_minutes" in body.model_fields_set) else {}
    await service.update_tenant(db, tenant, name=body.name, time_zone=body.time_zone, **returns)
    return TenantSettingsOut.model_validate(tenant)


# ---- members and API tokens (owners and admins) ----

@admin.get("/members", response_model=list[MemberOut])
async def list_members(principal: CurrentManager, db: ReadDb) -> list[MemberOut]:
    return [MemberOut(user_id=u.id, email=u.email, display_name=u.display_name, role=m.role, created_at=m.created_at)
            for u, m in await repo.list_members(db, principal.tenant_id)]


@admin.post("/members", response_model=MemberOut, status_code=201)
async def add_member(body: MemberCreate, principal: CurrentManager, db: DbSession) -> MemberOut:
    if body.role == "owner" and principal.role != "owner":
        raise Forbidden("only an owner can add another owner", code="forbidden_role")
    tenant = await repo.get_tenant(db, principal.tenant_id)
    assert tenant is not None
    user = await repo.get_user_by_email(db, body.email.strip().lower())
    if user is None:
        if not body.password:
            raise Invalid("a new user needs a password", code="password_required")
        user = await service.create_user(db, body.email, body.password, body.display_name)
    membership = await service.add_member(db, tenant, user, body.role)
    return MemberOut(user_id=user.id, email=user.email, display_name=user.display_name, role=membership.role,
                     created_at=membership.created_at)


async def _member(db: DbSession, principal: CurrentManager, user_id: uuid.UUID) -> tuple[User, Membership]:
    membership = await repo.get_membership(db, principal.tenant_id, user_id)
    user = await db.get(User, user_id) if membership else None
    if membership is None or user is None:
        raise NotFound("no such member", code="member_not_found")
    return user, membership


async def _check_not_last_owner(db: DbSession, principal: CurrentManager, membership: Membership) -> None:
    if membership.role == "owner":
        if principal.role != "owner":
            raise Forbidden("only an owner can change an owner", code="forbidden_role")
        owners = [m for _, m in await repo.list_members(db, principal.tenant_id) if m.role == "owner"]
        if len(owners) <= 1:
            raise Conflict("a tenant keeps at least one owner", code="last_owner")


@admin.patch("/members/{user_id}", response_model=MemberOut)
async def update_member(user_id: uuid.UUID, body: MemberUpdate, principal: CurrentManager, db: DbSession) -> MemberOut:
    user, membership = await _member(db, principal, user_id)
    if body.role != membership.role:
        if body.role == "owner" and principal.role != "owner":
            raise Forbidden("only an owner can make another owner", code="forbidden_role")
        await _check_not_last_owner(db, principal, membership)
        membership.role = body.role
    return MemberOut(user_id=user.id, email=user.email, display_name=user.display_name, role=membership.role,
                     created_at=membership.created_at)


@admin.delete("/members/{user_id}", status_code=204)
async def remove_member(user_id: uuid.UUID, principal: CurrentManager, db: DbSession) -> Response:
    _, membership = await _member(db, principal, user_id)
    await _check_not_last_owner(db, principal, membership)
    await db.delete(membership)
    return Response(status_code=204)


@admin.get("/tokens", response_model=list[TokenOut])
async def list_tokens(principal: CurrentManager, db: ReadDb) -> list[ApiToken]:
    return await repo.list_api_tokens(db, principal.tenant_id)


@admin.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenCreate, principal: CurrentManager, db: DbSession) -> TokenCreated:
    """Create an API token for scripts (`Authorization: Bearer <token>`). The token is shown once."""
    tenant = await repo.get_tenant(db, principal.tenant_id)
    assert tenant is not None
    row, token = await service.create_api_token(db, tenant, body.name)
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=token)


@admin.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: Annotated[uuid.UUID, Path()], principal: CurrentManager, db: DbSession) -> Response:
    row = await db.get(ApiToken, token_id)
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound("no such token", code="token_not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return Response(status_code=204)
