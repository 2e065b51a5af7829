"""Widget fixtures: a tenant's `web` channel (with an offline assistant that answers at once) and
the session app served over real TCP for the visitor socket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.helpers import TenantCtx
from tests.realtime.conftest import live_server  # noqa: F401  (the real server, shared)

SITE = "https://shop.example.test"


@dataclass
class WebChannel:
    tenant: TenantCtx
    id: str
    secret: str
    snippet: str


async def create_web_channel(client: httpx2.AsyncClient, t: TenantCtx, *, assistant: bool = True,
                             origins: tuple[str, ...] = (SITE,)) -> WebChannel:
    r = await client.post("/admin/channels", headers=t.headers, json={
        "kind": "web", "name": "Web de la tienda",
        "web": {"allowed_origins": list(origins), "colour": "#0f766e", "greeting": "¡Hola! ¿En qué te ayudamos?",
                "assistant_name": "Nora", "ask_email": True}})
    assert r.status_code == 201, r.text
    body = r.json()
    if assistant:
        a = (await client.post("/admin/assistants", headers=t.headers,
                               json={"name": "Nora", "debounce_seconds": 0})).json()
        r = await client.patch(f"/admin/channels/{body['id']}", headers=t.headers, json={"assistant_id": a["id"]})
        assert r.status_code == 200, r.text
    return WebChannel(t, body["id"], body["web"]["identity_secret"], body["snippet"])


@pytest.fixture
async def web_channel(client: httpx2.AsyncClient, make_tenant: Any) -> WebChannel:
    return await create_web_channel(client, await make_tenant("w"))
