"""Login sessions, CSRF, API tokens, tenant choice and roles."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx2
from fastapi.routing import APIRoute

from tests.helpers import TEST_PASSWORD, iter_routes, post_inbound


async def login(client: httpx2.AsyncClient, email: str, password: str = TEST_PASSWORD) -> httpx2.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_login_cookie_csrf_and_logout(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    r = await login(client, t.owner_email.upper())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["email"] == t.owner_email and body["tenant"]["slug"] == t.slug
    assert body["tenant"]["role"] == "owner"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    csrf = body["csrf_token"]

    assert (await client.get("/api/auth/me")).json()["user"]["email"] == t.owner_email
    assert (await client.get("/admin/chats/summary")).status_code == 200
    # unsafe method with the cookie but without the CSRF header is refused
    no_csrf = await client.post("/admin/tags", json={"name": "x"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post("/admin/tags", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = await client.post("/admin/tags", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201

    # logging out is an unsafe request too: another site's form must not end the session
    forged = await client.post("/api/auth/logout")
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    assert (await client.get("/api/auth/me")).status_code == 200
    out = await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert (await client.get("/api/auth/me")).status_code == 401
    # the old cookie value is revoked server-side, not only forgotten by this client
    client.cookies.set("tertulia_session", r.cookies.get("tertulia_session") or "", domain="testserver.local")
    assert (await client.get("/admin/chats/summary")).status_code == 401


async def test_every_unsafe_cookie_request_needs_the_csrf_token(app: Any, client: httpx2.AsyncClient,
                                                                make_tenant) -> None:
    """Walks every route: with the session cookie but no X-CSRF-Token, every POST, PUT, PATCH and
    DELETE is refused before it does anything (the bearer-token tests across the suite show the
    other scheme needs no such header). Only login, the inbound API, the providers' webhooks and
    the web widget's visitor routes take no cookie (a channel's token or signature; a visitor token
    in the Authorization header, which `widget.endpoints.current_visitor` alone reads)."""
    t = await make_tenant()
    assert (await login(client, t.owner_email)).status_code == 200
    checked = []
    app.state.settings.testing = False  # TESTING=true (the suite's) lets chat uploads skip the check
    try:
        for path, route in iter_routes(app.routes):
            if not isinstance(route, APIRoute) or path in ("/api/auth/login", "/api/v1/inbound/{channel_id}",
                                                                     "/webhooks/{channel_id}") \
                    or path.startswith("/widget/"):
                continue
            for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
                url = re.sub(r"\{\w+(?::\w+)?\}", lambda _: str(uuid.uuid4()), path)
                resp = await client.request(method, url)
                assert resp.status_code == 403, f"{method} {path} → {resp.status_code} {resp.text[:200]}"
                assert resp.json()["error"]["code"] == "csrf_failed"
                checked.append(f"{method} {path}")
    finally:
        app.state.settings.testing = True
    assert "POST /api/auth/logout" in checked and len(checked) > 25
    assert (await client.get("/api/auth/me")).status_code == 200  # none of them ended the session


async def test_failed_login_does_not_say_whether_the_email_exists(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    wrong_password = await login(client, t.owner_email, "not-the-password")
    unknown_email = await login(client, f"nobody-{uuid.uuid4().hex}@example.test", "whatever-password")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()


async def test_login_is_rate_limited_per_email(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    statuses = [(await login(client, t.owner_email, "bad-password-x")).status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    limited = await login(client, t.owner_email)  # even the right password waits now
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"


async def test_api_tokens_and_revocation(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    created = await client.post("/admin/tokens", headers=t.headers, json={"name": "script"})
    assert created.status_code == 201
    token = created.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/admin/chats/summary", headers=auth)).status_code == 200
    listed = (await client.get("/admin/tokens", headers=t.headers)).json()
    assert all("token" not in row for row in listed)  # never shown again

    async def last_used() -> str | None:
        rows = (await client.get("/admin/tokens", headers=t.headers)).json()
        return next(row["last_used_at"] for row in rows if row["id"] == created.json()["id"])

    async def noted() -> str:  # written just after the response, in a transaction of its own
        for _ in range(100):
            if (value := await last_used()) is not None:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError("the token's use was never noted")

    first = await noted()  # a read counts
    assert (await client.post("/admin/tokens", headers=auth, json={"name": "other"})).status_code == 201
    await asyncio.sleep(0.2)
    assert await last_used() == first  # at most once a minute
    assert (await client.delete(f"/admin/tokens/{created.json()['id']}", headers=t.headers)).status_code == 204
    revoked = await client.get("/admin/chats/summary", headers=auth)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "invalid_token"
    assert (await client.get("/admin/chats/summary", headers={"Authorization": "Bearer trt_made_up"})).status_code == 401
    assert (await client.get("/admin/chats/summary")).status_code == 401


async def test_user_in_two_tenants_picks_one(client: httpx2.AsyncClient, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    await post_inbound(client, b, "solo en B", external_id="x")
    # add A's owner to B as an agent
    r = await client.post("/admin/members", headers=b.headers, json={"email": a.owner_email, "role": "agent"})
    assert r.status_code == 201, r.text
    body = (await login(client, a.owner_email)).json()
    assert body["tenant"] is None and {x["slug"] for x in body["tenants"]} == {a.slug, b.slug}
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert (await client.get("/admin/chats/summary")).json()["error"]["code"] == "tenant_not_selected"
    assert (await client.post("/api/auth/tenant", json={"slug": "not-mine"}, headers=csrf)).status_code == 404
    chosen = await client.post("/api/auth/tenant", json={"slug": b.slug}, headers=csrf)
    assert chosen.json()["tenant"]["role"] == "agent"
    rows = (await client.get("/admin/chats/summary")).json()
    assert [r["last_message"] for r in rows] == ["solo en B"]
    # an agent reads and replies but does not manage tokens or members
    assert (await client.post("/admin/tokens", json={"name": "x"}, headers=csrf)).status_code == 403
    assert (await client.get("/admin/members")).status_code == 403
    sent = await client.post(f"/admin/chats/{rows[0]['id']}/messages", json={"message": "hola"}, headers=csrf)
    assert sent.status_code == 202


async def test_last_owner_cannot_be_removed(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    owner = (await client.get("/admin/members", headers=t.headers)).json()[0]
    # an API token acts as an admin: it cannot touch an owner at all
    r = await client.delete(f"/admin/members/{owner['user_id']}", headers=t.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"
    csrf = {"X-CSRF-Token": (await login(client, t.owner_email)).json()["csrf_token"]}
    r = await client.delete(f"/admin/members/{owner['user_id']}", headers=csrf)
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    weak = await client.post("/admin/members", headers=t.headers,
                             json={"email": "new@example.test", "password": "short", "role": "agent"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"


async def test_requests_with_one_token_do_not_wait_for_each_other(db: Any, make_tenant) -> None:
    """`last_used_at` moves at most once a minute. Written on every request, it held the token's
    row lock for each request's whole transaction, so an integration's parallel requests through
    one token ran one at a time."""
    from datetime import timedelta

    from sqlalchemy import select, text

    from tertulia.kit.db import is_sqlite, utcnow
    from tertulia.tenancy import repository as tokens
    from tertulia.tenancy.models import ApiToken

    t = await make_tenant()
    async with db.session(t.id) as s:
        token_id = (await s.execute(select(ApiToken.id).where(ApiToken.tenant_id == t.id))).scalar_one()
    first = utcnow()

    async def last_used() -> Any:
        async with db.session(t.id) as s:
            return (await s.execute(select(ApiToken.last_used_at).where(ApiToken.id == token_id))).scalar_one()

    async with db.session(t.id) as s:
        await tokens.touch_api_token(s, t.id, token_id, first)
    async with db.session(t.id) as a:
        await tokens.touch_api_token(a, t.id, token_id, first + timedelta(seconds=10))
        if not is_sqlite(a):  # (SQLite has one writer at a time whatever we do)
            async with db.session(t.id) as b:  # a request beside the open one
                await b.execute(text("SET LOCAL lock_timeout = '2s'"))
                await tokens.touch_api_token(b, t.id, token_id, first + timedelta(seconds=20))
    assert abs((await last_used()).replace(tzinfo=None) - first.replace(tzinfo=None)) < timedelta(milliseconds=1)
    async with db.session(t.id) as s:
        await tokens.touch_api_token(s, t.id, token_id, first + timedelta(seconds=61))
    assert (await last_used()).replace(tzinfo=None) - first.replace(tzinfo=None) >= timedelta(seconds=61)
    # When the minute is up, every parallel request finds the token stale: one writes it, the
    # others go on instead of waiting for that request's commit.
    async with db.session(t.id) as a:
        await tokens.touch_api_token(a, t.id, token_id, first + timedelta(seconds=130))
        if not is_sqlite(a):
            async with db.session(t.id) as b:
                await b.execute(text("SET LOCAL lock_timeout = '2s'"))
                await tokens.touch_api_token(b, t.id, token_id, first + timedelta(seconds=131))
    assert abs((await last_used()).replace(tzinfo=None) - (first + timedelta(seconds=130)).replace(tzinfo=None)
               ) < timedelta(milliseconds=1)
