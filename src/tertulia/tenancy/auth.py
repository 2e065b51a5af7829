"""Who is calling: a session cookie (panel) or a Bearer API token (scripts, seed's verify_admin_token)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import BackgroundTasks, Depends, Request

from tertulia.kit.crypto import hash_token, tokens_equal
from tertulia.kit.db import ALL_TENANTS, Database, set_tenant, utcnow
from tertulia.kit.errors import Forbidden, NotAuthenticated
from tertulia.kit.web import SAFE_METHODS, DbSession, RequestDb
from tertulia.tenancy import repository as repo
from tertulia.tenancy import service
from tertulia.tenancy.models import AuthSession

log = structlog.get_logger("tertulia.tenancy.auth")

SESSION_COOKIE = "tertulia_session"
CSRF_HEADER = "X-CSRF-Token"
MANAGER_ROLES = frozenset({"owner", "admin"})


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    tenant_slug: str
    role: str
    user_id: uuid.UUID | None = None
    user_name: str | None = None
    token_id: uuid.UUID | None = None
    token_last_used_at: datetime | None = None

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGER_ROLES


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def load_cookie_session(request: Request, db: DbSession) -> AuthSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    # A login session belongs to a person, whose memberships span tenants.
    await set_tenant(db, ALL_TENANTS)
    return await service.resolve_session(db, token)


async def get_auth_session(request: Request, db: DbSession) -> AuthSession:
    """The caller's login session (the auth endpoints: who am I, switch tenant)."""
    auth = await load_cookie_session(request, db)
    if auth is None:
        raise NotAuthenticated("log in first", code="not_authenticated")
    if request.method not in SAFE_METHODS:
        check_csrf(request, auth.csrf_token)
    return auth


def check_csrf(request: Request, csrf_token: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not tokens_equal(sent, csrf_token):
        raise Forbidden("missing or wrong X-CSRF-Token header", code="csrf_failed")


async def get_principal(request: Request, db: RequestDb, background: BackgroundTasks) -> Principal:
    """Who is calling, for which tenant. From here on the request's transaction sees only that
    tenant's rows (row-level security on PostgreSQL)."""
    principal = await _check_credentials(request, db)
    await set_tenant(db, principal.tenant_id)
    if _token_touch_due(principal):
        background.add_task(_touch_token, request, principal)  # after the response is sent
    return principal


def _token_touch_due(principal: Principal) -> bool:
    return principal.token_id is not None and repo.token_touch_due(principal.token_last_used_at, utcnow())


async def _touch_token(request: Request, principal: Principal) -> None:
    """Note an API token's use (at most once a minute) in a transaction of its own: any request
    counts, reads too, and no request's transaction holds the token's row."""
    assert principal.token_id is not None
    db: Database = request.app.state.db
    try:
        async with db.session(principal.tenant_id) as session:
            await repo.touch_api_token(session, principal.tenant_id, principal.token_id, utcnow())
    except Exception:  # the answer is already sent; the next request tries again
        log.warning("api_token_touch_failed", action="api_token_touch", token_id=str(principal.token_id),
                    exc_info=True)


async def _check_credentials(request: Request, db: RequestDb) -> Principal:
    # Credentials are looked up by the hash of their secret before the tenant is known: the one
    # read of each request that crosses tenants.
    await set_tenant(db, ALL_TENANTS)
    bearer = _bearer(request)
    if bearer is not None:
        token = await repo.get_api_token_with_tenant(db, hash_token(bearer))
        if token is None or token.revoked_at is not None:
            raise NotAuthenticated("the API token is unknown or revoked", code="invalid_token")
        return Principal(tenant_id=token.tenant_id, tenant_slug=token.tenant_slug, role="admin",
                         token_id=token.token_id, token_last_used_at=token.last_used_at)
    cookie = request.cookies.get(SESSION_COOKIE)
    found = await repo.get_session_principal(db, hash_token(cookie)) if cookie else None
    if found is None or not service.session_is_live(found.revoked_at, found.expires_at):
        raise NotAuthenticated("log in first", code="not_authenticated")
    if request.method not in SAFE_METHODS:
        check_csrf(request, found.csrf_token)
    if found.session_tenant_id is None:
        raise Forbidden("choose a tenant first (POST /api/auth/tenant)", code="tenant_not_selected")
    if found.role is None or found.tenant_id is None:
        raise Forbidden("you are no longer a member of this tenant", code="not_a_member")
    return Principal(tenant_id=found.tenant_id, tenant_slug=found.tenant_slug, role=found.role,
                     user_id=found.user_id, user_name=found.user_name)


async def check_credentials_apart(request: Request) -> Principal:
    """Who is calling, checked in a read transaction of its own that ends before the endpoint goes
    on: for an upload, whose body may take long to arrive while nothing holds the database (SQLite's
    writer). The endpoint opens its own transaction afterwards, for the principal's tenant."""
    db: Database = request.app.state.db
    async with db.read_session() as read:
        principal = await _check_credentials(request, read)
    if _token_touch_due(principal):
        await _touch_token(request, principal)
    return principal


async def get_manager(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.can_manage:
        raise Forbidden("only owners and admins can do this", code="forbidden_role")
    return principal


# How the API document names the credentials; kit.openapi applies them to every operation from
# the authentication dependency it declares.
SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "the panel's session, set by POST /api/auth/login (HttpOnly)"},
    "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER,
             "description": "the login's `csrf_token`; required with the session cookie on POST, PUT, PATCH and "
                            "DELETE"},
    "apiToken": {"type": "http", "scheme": "bearer",
                 "description": "an API token (POST /admin/tokens, `tertulia token create`); no CSRF header"},
    "inboundToken": {"type": "http", "scheme": "bearer",
                     "description": "an `api` channel's inbound token, shown once when the channel is created"},
    "visitorToken": {"type": "http", "scheme": "bearer",
                     "description": "a web widget visitor's token, from POST /widget/{channel_id}/session"},
    "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256",
                         "description": "a provider's signature of the raw body with the channel's secret: Meta's "
                                        "`X-Hub-Signature-256: sha256=<hex>`, or YCloud's `YCloud-Signature: "
                                        "t=<unix>,s=<hex>`"},
}


def _session(method: str) -> dict[str, list[str]]:
    return {"session": [], "csrf": []} if method not in SAFE_METHODS else {"session": []}


def security_of(dependencies: set[Any], method: str) -> list[dict[str, list[str]]]:
    """Who may call a route with this method, by the authentication it depends on."""
    if get_principal in dependencies:
        return [_session(method), {"apiToken": []}]
    if get_auth_session in dependencies:
        return [_session(method)]
    return []  # public, unless the route documents its own credentials


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentManager = Annotated[Principal, Depends(get_manager)]
CurrentAuthSession = Annotated[AuthSession, Depends(get_auth_session)]
