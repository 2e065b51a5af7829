"""Tenant isolation, checked over every route the app serves: a caller of tenant B who uses tenant A's
ids gets 404 (or 401 where a channel token authenticates) and none of A's data. The routes are
enumerated from the app, so a new route fails this test until it is listed in `BODIES`/`PARAMS`."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from typing import Any

import httpx2
from fastapi.routing import APIRoute, APIWebSocketRoute

from tertulia.channels.models import MessageTemplate
from tests.helpers import TenantCtx, iter_routes, post_inbound

# Routes that serve no tenant data at all.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
          "/api/auth/login", "/api/auth/logout", "/api/auth/me", "/api/auth/tenant",
          # the built web app: the same static shell for everyone, no tenant data in it
          "/", "/login", "/panel_cliente/{rest:path}", "/assets/{path:path}",
          # the widget's script and a channel's sample page: what any site embedding it shows
          "/widget/widget.js", "/widget/demo/{channel_id}"}
# Routes authenticated by something other than the caller's tenant (a channel's own token).
CHANNEL_TOKEN_ROUTES = {"/api/v1/inbound/{channel_id}"}
# Routes a provider calls for a channel, authenticated by the channel's own secrets (a body signed
# with its app secret, Meta's verify token): tenant B, who knows only its own, is refused at A's.
WEBHOOK_ROUTES = {("GET", "/webhooks/{channel_id}"): 403, ("POST", "/webhooks/{channel_id}"): 401}
# The web widget's visitor routes, called from a page A's channel allows, with B's visitor token
# (of B's own web channel): refused (401), except starting a session, which any visitor of the
# site may do and which shows only the widget's public settings and no conversation.
WIDGET_ORIGIN = "https://a-shop.example.test"
VISITOR_ROUTES = {("POST", "/widget/{channel_id}/session"): 200, ("GET", "/widget/{channel_id}/messages"): 401,
                  ("POST", "/widget/{channel_id}/messages"): 401, ("POST", "/widget/{channel_id}/read"): 401,
                  ("POST", "/widget/{channel_id}/typing"): 401, ("POST", "/widget/{channel_id}/uploads"): 401}

# A valid body for every route that takes one, so the request reaches the tenant check.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/admin/whatsapp/send"): {"conversation_id": "{conversation_id}", "message": "hola", "channel_source": "api"},
    ("POST", "/admin/chats/{conversation_id}/messages"): {"message": "hola"},
    ("POST", "/admin/conversations/{conversation_id}/human-override"): {"locked": True},
    ("POST", "/admin/chats/{conversation_id}/notes"): {"content": "nota de B"},
    ("POST", "/admin/canned-responses"): {"shortcut": "b-saludo", "title": "B", "content": "Hola de B"},
    ("PATCH", "/admin/canned-responses/{canned_id}"): {"title": "renamed"},
    ("PATCH", "/admin/contacts/{contact_id}"): {"notes": "x"},
    ("PATCH", "/admin/tags/{tag_id}"): {"name": "renamed"},
    ("PATCH", "/admin/channels/{channel_id}"): {"name": "renamed"},
    ("PATCH", "/admin/members/{user_id}"): {"role": "agent"},
    ("POST", "/admin/members"): {"email": "b-member@example.test", "password": "b-member-pass-1", "role": "agent"},
    ("POST", "/admin/tags"): {"name": "B-tag"},
    ("POST", "/admin/tokens"): {"name": "b"},
    ("POST", "/admin/channels"): {"kind": "api", "name": "B channel"},
    ("POST", "/api/v1/inbound/{channel_id}"): {"external_message_id": "iso-1", "contact": {"external_id": "x"},
                                               "content": "hola"},
    ("POST", "/admin/assistants"): {"name": "B assistant"},
    ("PATCH", "/admin/assistants/{assistant_id}"): {"name": "renamed"},
    ("POST", "/admin/assistants/{assistant_id}/knowledge"): {"title": "B", "content": "B"},
    ("POST", "/admin/assistants/{assistant_id}/knowledge/upload"): {},  # multipart; the id is checked first
    ("PATCH", "/admin/assistants/{assistant_id}/knowledge/{entry_id}"): {"title": "renamed"},
    ("POST", "/admin/mcp-servers"): {"name": "b-server", "url": "http://127.0.0.1:9/mcp"},
    ("POST", "/mcp/invoke"): {"tool": "add_tag", "args": {"name": "B"}, "conversation_id": "{conversation_id}"},
    ("POST", "/admin/assistants/{assistant_id}/try"): {"messages": [{"role": "user", "content": "hola"}]},
    ("PATCH", "/admin/tenant"): {"name": "B renamed"},
    ("POST", "/admin/conversations/{conversation_id}/typing"): {"on": True},
    ("POST", "/widget/{channel_id}/session"): {},
    ("POST", "/widget/{channel_id}/messages"): {"client_id": "iso-client-1", "text": "hola"},
    ("POST", "/widget/{channel_id}/read"): {"up_to": 1},
    ("POST", "/widget/{channel_id}/typing"): {"on": True},
    ("POST", "/widget/{channel_id}/uploads"): {},
    ("POST", "/admin/templates/send"): {"conversation_id": "{conversation_id}", "template_id": "{template_id}",
                                        "parameters": ["x"]},
}
# Required query parameters, so the request reaches the tenant check.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/admin/assistants/{assistant_id}/knowledge/search"): {"q": "conocimiento"},
}


async def _resources(client: httpx2.AsyncClient, a: TenantCtx) -> dict[str, str]:
    r = await post_inbound(client, a, "secreto de A", external_id="a-contact", name="Contacto de A")
    conv_id = r.json()["conversation_id"]
    row = (await client.get("/admin/chats/summary", headers=a.headers)).json()[0]
    tag = (await client.post("/admin/tags", headers=a.headers, json={"name": "A-tag"})).json()
    await client.put(f"/admin/contacts/{row['contact_id']}/tags/{tag['id']}", headers=a.headers)
    token = (await client.post("/admin/tokens", headers=a.headers, json={"name": "other"})).json()
    members = (await client.get("/admin/members", headers=a.headers)).json()
    assistant = (await client.post("/admin/assistants", headers=a.headers, json={"name": "Nora de A"})).json()
    entry = (await client.post(f"/admin/assistants/{assistant['id']}/knowledge", headers=a.headers,
                               json={"title": "A", "content": "conocimiento de A"})).json()
    server = (await client.post("/admin/mcp-servers", headers=a.headers,
                                json={"name": "a-server", "url": "http://127.0.0.1:9/mcp"})).json()
    whatsapp = (await client.post("/admin/channels", headers=a.headers, json={
        "kind": "whatsapp_cloud", "name": "A WhatsApp", "credentials": {
            "phone_number_id": "100200300400500", "waba_id": "100200300400501",
            "access_token": "a-access-token-secret", "app_secret": "a-app-secret-value"}})).json()
    canned = (await client.post("/admin/canned-responses", headers=a.headers,
                                json={"shortcut": "a-secreto", "title": "A", "content": "respuesta de A"})).json()
    web = (await client.post("/admin/channels", headers=a.headers, json={
        "kind": "web", "name": "A web", "web": {"allowed_origins": [WIDGET_ORIGIN]}})).json()
    visitor = (await client.post(f"/widget/{web['id']}/session", headers={"Origin": WIDGET_ORIGIN}, json={})).json()
    await client.post(f"/widget/{web['id']}/messages", json={"client_id": "a-visitor-1", "text": "secreto de A"},
                      headers={"Origin": WIDGET_ORIGIN, "Authorization": f"Bearer {visitor['token']}"})
    return {"whatsapp_channel_id": whatsapp["id"], "canned_id": canned["id"], "web_channel_id": web["id"],
            "name": "file.bin",
        "assistant_id": assistant["id"], "entry_id": entry["id"], "server_id": server["id"],
        "conversation_id": conv_id, "contact_id": row["contact_id"], "tag_id": tag["id"],
        "channel_id": str(a.channel_id), "message_id": str(r.json()["message_id"]), "token_id": token["id"],
        "user_id": members[0]["user_id"], "tenant_id": str(a.id), "correlation_id": str(uuid.uuid4()),
    }


async def _webhook_as_b(client: httpx2.AsyncClient, method: str, url: str) -> httpx2.Response:
    """B calls A's webhook with what B can make: its own verify token, a body signed with its own secret."""
    if method == "GET":
        return await client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "b-verify-token",
                                             "hub.challenge": "42"})
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    signature = "sha256=" + hmac.new(b"b-app-secret-value", body, hashlib.sha256).hexdigest()
    return await client.post(url, content=body, headers={"x-hub-signature-256": signature})


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    return template


async def test_every_route_is_tenant_isolated(app: Any, client: httpx2.AsyncClient, make_tenant) -> None:
    a, b = await make_tenant("a"), await make_tenant("b")
    values = await _resources(client, a)
    async with app.state.db.session(a.id) as session:  # a WhatsApp template of A's (synced ones are rows like it)
        template = MessageTemplate(tenant_id=a.id, channel_id=a.channel_id, name="plantilla_de_a", language="es",
                                   status="APPROVED", components=[{"type": "BODY", "text": "Hola {{1}}"}])
        session.add(template)
        await session.flush()
        values["template_id"] = str(template.id)
    secrets = {values[k] for k in ("conversation_id", "contact_id", "tag_id", "channel_id", "token_id",
                                   "whatsapp_channel_id", "template_id", "canned_id")} | {
        "secreto de A", "Contacto de A", "A-tag", "plantilla_de_a", "respuesta de A"}
    b_web = (await client.post("/admin/channels", headers=b.headers, json={
        "kind": "web", "name": "B web", "web": {"allowed_origins": [WIDGET_ORIGIN]}})).json()
    b_visitor = (await client.post(f"/widget/{b_web['id']}/session", headers={"Origin": WIDGET_ORIGIN},
                                   json={})).json()["token"]
    checked = 0
    routes = iter_routes(app.routes)
    assert any(path == "/admin/chats/summary" for path, _ in routes)
    for path, route in routes:
        if isinstance(route, APIWebSocketRoute) or not isinstance(route, APIRoute):
            continue  # sockets are covered by the realtime tests; the rest are docs and static files
        if path in PUBLIC:
            continue
        params = re.findall(r"\{(\w+)(?::\w+)?\}", path)
        unknown = [p for p in params if p not in values and p != "path"]
        assert not unknown, f"{path}: add a tenant-A value for {unknown} to this test"
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            if (method, path) in WEBHOOK_ROUTES:
                resp = await _webhook_as_b(client, method, path.replace("{channel_id}", values["whatsapp_channel_id"]))
                checked += 1
                assert resp.status_code == WEBHOOK_ROUTES[(method, path)], f"{method} {path} → {resp.status_code}"
                assert "error" in resp.json() and values["whatsapp_channel_id"] not in resp.text
                continue
            if (method, path) in VISITOR_ROUTES:
                resp = await client.request(method, path.replace("{channel_id}", values["web_channel_id"]),
                                            json=BODIES.get((method, path)),
                                            headers={"Origin": WIDGET_ORIGIN, "Authorization": f"Bearer {b_visitor}"})
                checked += 1
                assert resp.status_code == VISITOR_ROUTES[(method, path)], f"{method} {path} → {resp.status_code}"
                assert resp.status_code == 200 or "error" in resp.json()
                leaked = [s for s in secrets if s in resp.text]
                assert not leaked and resp.json().get("conversation_id") is None, f"{method} {path} leaked {leaked}"
                continue
            url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "file.bin"), path)
            body = BODIES.get((method, path))
            if method in ("POST", "PUT", "PATCH") and body is None and route.body_field is not None:
                raise AssertionError(f"{method} {path}: add a valid body to BODIES")
            headers = b.inbound_headers if path in CHANNEL_TOKEN_ROUTES else b.headers
            resp = await client.request(method, url, headers=headers, json=_fill(body, values) if body else None,
                                        params=QUERIES.get((method, path)))
            checked += 1
            if params:
                expected = {401} if path in CHANNEL_TOKEN_ROUTES else {404}
                assert resp.status_code in expected, f"{method} {url} as tenant B → {resp.status_code} {resp.text[:200]}"
                assert "error" in resp.json()
            else:
                assert resp.status_code < 500, f"{method} {url} → {resp.status_code}"
            leaked = [s for s in secrets if s in resp.text]
            assert not leaked, f"{method} {url} leaked tenant A data: {leaked}"
    assert checked > 20
    # and tenant A's data is untouched by B's attempts
    row = (await client.get("/admin/chats/summary", headers=a.headers)).json()[0]
    assert row["is_locked"] is False and row["last_message"] == "secreto de A"
    contact = (await client.get(f"/admin/contacts/{values['contact_id']}", headers=a.headers)).json()
    assert contact["notes"] == "" and [t["name"] for t in contact["tags"]] == ["A-tag"]


def test_reading_routes_only_read(app: Any) -> None:
    """GET (and HEAD) endpoints take a ReadSession (`ReadDb`), never a write session: a route that
    writes on GET fails here, and mypy refuses it too (a ReadSession has nothing that writes)."""
    import typing

    from sqlalchemy.ext.asyncio import AsyncSession

    from tertulia.kit.web import get_db_session

    offenders = []
    for path, route in iter_routes(app.routes):
        if not isinstance(route, APIRoute) or not route.methods & {"GET", "HEAD"}:
            continue
        for name, hint in typing.get_type_hints(route.endpoint, include_extras=True).items():
            args = typing.get_args(hint)
            if (args and args[0] is AsyncSession
                    and any(getattr(m, "dependency", None) is get_db_session for m in args[1:])):
                offenders.append(f"{path} ({name})")
    assert offenders == []
