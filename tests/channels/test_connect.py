"""Connecting a provider's channel through the API: credentials checked for shape, stored encrypted,
never returned; the answer says where the provider's webhooks go."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2

from tertulia.channels.models import Channel
from tertulia.config import Settings
from tertulia.kit.db import Database, tenant_update
from tests.channels.conftest import new_credentials


async def test_a_whatsapp_cloud_channel_says_where_its_webhooks_go_and_never_returns_its_secrets(
        client: httpx2.AsyncClient, make_tenant: Any, settings: Settings) -> None:
    t = await make_tenant()
    credentials = new_credentials("whatsapp_cloud")
    created = await client.post("/admin/channels", headers=t.headers, json={
        "kind": "whatsapp_cloud", "name": "WhatsApp", "credentials": credentials})
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["webhook_url"] == f"{settings.base_url}/webhooks/{out['id']}"
    assert len(out["verify_token"]) >= 16  # generated: nobody gave one
    assert out["credentials_set"] == ["access_token", "app_secret", "phone_number_id", "waba_id"]
    assert out["has_credentials"] is True and out["account_id"] == credentials["phone_number_id"]
    assert out["status"] == "ok" and out["inbound_token"] is None
    for response in (created, await client.get(f"/admin/channels/{out['id']}", headers=t.headers),
                     await client.get("/admin/channels", headers=t.headers)):
        assert credentials["access_token"] not in response.text and credentials["app_secret"] not in response.text
    fetched = (await client.get(f"/admin/channels/{out['id']}", headers=t.headers)).json()
    assert {k: fetched[k] for k in ("webhook_url", "verify_token", "credentials_set")} == {
        k: out[k] for k in ("webhook_url", "verify_token", "credentials_set")}

    chosen = await client.post("/admin/channels", headers=t.headers, json={
        "kind": "whatsapp_cloud", "name": "Other", "credentials": {**new_credentials("whatsapp_cloud"),
                                                                   "verify_token": "my-own-token-123"}})
    assert chosen.json()["verify_token"] == "my-own-token-123"
    assert "verify_token" not in chosen.json()["credentials_set"]


async def test_credentials_of_the_wrong_shape_are_refused_naming_the_fields(
        client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("whatsapp_cloud", {}, ["phone_number_id", "waba_id", "access_token", "app_secret"]),
        ("whatsapp_cloud", {**new_credentials("whatsapp_cloud"), "phone_number_id": "not-a-number"},
         ["phone_number_id"]),
        ("whatsapp_cloud", {**new_credentials("whatsapp_cloud"), "verify_token": "a b"}, ["verify_token"]),
        ("ycloud", {**new_credentials("ycloud"), "phone_number": "600111222"}, ["phone_number"]),
        ("ycloud", {**new_credentials("ycloud"), "surprise": "x"}, ["surprise"]),
    ]
    for kind, credentials, fields in cases:
        response = await client.post("/admin/channels", headers=t.headers,
                                     json={"kind": kind, "name": "X", "credentials": credentials})
        assert response.status_code == 422, (kind, credentials, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_channel_credentials"
        assert all(f in error["message"] for f in fields), (fields, error)
    channels = (await client.get("/admin/channels", headers=t.headers)).json()
    assert [c["kind"] for c in channels] == ["api"]  # nothing was created
    api = await client.post("/admin/channels", headers=t.headers, json={"kind": "api", "name": "Shop"})
    assert api.status_code == 201 and api.json()["inbound_token"] and api.json()["webhook_url"] is None


async def test_new_credentials_are_checked_again_and_a_channel_needing_attention_is_ok_again(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    credentials = new_credentials("ycloud")
    out = (await client.post("/admin/channels", headers=t.headers,
                             json={"kind": "ycloud", "name": "YCloud", "credentials": credentials})).json()
    assert out["account_id"] == credentials["phone_number"] and out["verify_token"] is None
    async with db.session(t.id) as session:  # the delivery worker found the key refused
        await session.execute(tenant_update(Channel, t.id).where(Channel.id == uuid.UUID(out["id"])).values(
            status="attention", status_reason="YCloud refused the API key"))
    url = f"/admin/channels/{out['id']}"
    assert (await client.get(url, headers=t.headers)).json()["status"] == "attention"

    bad = await client.patch(url, headers=t.headers, json={"credentials": {"phone_number": "+0"}})
    assert bad.status_code == 422 and "phone_number" in bad.json()["error"]["message"]
    assert (await client.get(url, headers=t.headers)).json()["status"] == "attention"

    fixed = await client.patch(url, headers=t.headers, json={"credentials": {"api_key": "a-fresh-api-key-123"}})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "ok" and fixed.json()["status_reason"] is None
    assert fixed.json()["credentials_set"] == ["api_key", "phone_number", "signing_secret", "waba_id"]
    moved = await client.patch(url, headers=t.headers, json={"credentials": {"phone_number": "+34910000001"}})
    assert moved.json()["account_id"] == "+34910000001"
