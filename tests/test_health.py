from __future__ import annotations

import httpx2


async def test_health_and_ready(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200


async def test_openapi_lists_the_seed_routes(client: httpx2.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for route in ("/admin/chats/summary", "/admin/chats/{conversation_id}/messages", "/admin/whatsapp/send",
                  "/admin/conversations/{conversation_id}/human-override", "/api/v1/inbound/{channel_id}"):
        assert route in paths
    assert (await client.get("/docs")).status_code == 200
