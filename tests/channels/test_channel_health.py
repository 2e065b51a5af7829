"""What the channels screen shows of a channel beyond its settings: its health (the last webhook,
the webhooks and deliveries failing and why), the kinds that can be connected with the form each
needs, and removing a channel."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx2
from sqlalchemy import select

from tertulia.channels.models import WebhookEvent
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import Database, tenant_select, tenant_update, utcnow
from tests.channels.conftest import eventually, new_credentials
from tests.helpers import post_inbound


async def _replied(client: httpx2.AsyncClient, t: Any, text: str) -> int:
    """A customer writes on the tenant's `api` channel and an agent answers: the answer's delivery id."""
    assert (await post_inbound(client, t, "Hola", external_id=uuid.uuid4().hex)).status_code in (200, 201, 202)
    chats = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    conversation = next(c for c in chats if c["channel_source"] == "api" and c["last_message"] == "Hola")
    sent = await client.post(f"/admin/chats/{conversation['id']}/messages", headers=t.headers, json={"message": text})
    assert sent.status_code in (200, 201, 202), sent.text
    return int(sent.json()["message"]["id"])


async def test_a_channel_says_which_deliveries_and_webhooks_fail_and_why(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    other = await make_tenant()
    wa = (await client.post("/admin/channels", headers=t.headers, json={
        "kind": "whatsapp_cloud", "name": "WhatsApp", "credentials": new_credentials("whatsapp_cloud")})).json()
    healthy = (await client.get(f"/admin/channels/{wa['id']}", headers=t.headers)).json()["health"]
    assert healthy == {"last_webhook_at": None, "webhooks_failed": 0, "last_webhook_error": None,
                       "deliveries_failing": 0, "last_delivery_error": None, "last_delivery_error_at": None}

    first, second, old = (await _replied(client, t, "uno"), await _replied(client, t, "dos"),
                          await _replied(client, t, "tres"))
    await _replied(client, other, "de otro")  # another tenant's failures are never counted here

    async def sent() -> bool:  # the delivery worker is done with them: what follows is not overwritten
        async with db.session(cross_tenant="the test reads both tenants' outboxes") as session:
            states = (await session.execute(select(OutboundDelivery.state).where(
                OutboundDelivery.tenant_id.in_((t.id, other.id))))).scalars().all()
        assert len(states) == 4 and set(states) == {"done"}, states
        return True

    await eventually(sent)
    now = utcnow()
    async with db.session(cross_tenant="the test plays the delivery worker and the intake") as session:
        d = OutboundDelivery
        await session.execute(tenant_update(d, t.id).where(d.message_id == first).values(
            state="failed", attempts=5, last_error="the recipient's number is not on WhatsApp",
            updated_at=now - timedelta(hours=2)))
        await session.execute(tenant_update(d, t.id).where(d.message_id == second).values(
            state="pending", attempts=2, last_error="the provider answered 503", updated_at=now - timedelta(minutes=5)))
        await session.execute(tenant_update(d, t.id).where(d.message_id == old).values(
            state="failed", attempts=5, last_error="long ago", updated_at=now - timedelta(days=3)))
        await session.execute(tenant_update(d, other.id).values(state="failed", last_error="other tenant"))
        for i, (outcome, error, age) in enumerate([("failed", "the body is not JSON", timedelta(hours=1)),
                                                   ("failed", "unknown message type", timedelta(minutes=1)),
                                                   ("processed", None, timedelta(seconds=5)),
                                                   ("failed", "a week ago", timedelta(days=7))]):
            session.add(WebhookEvent(tenant_id=t.id, channel_id=uuid.UUID(wa["id"]), dedupe_key=f"k{i}", body="{}",
                                     outcome=outcome, error=error, received_at=now - age))
    channels = {c["kind"]: c for c in (await client.get("/admin/channels", headers=t.headers)).json()}
    api, whatsapp = channels["api"]["health"], channels["whatsapp_cloud"]["health"]
    assert api["deliveries_failing"] == 2  # the one failed today and the one being retried; not the old one
    assert api["last_delivery_error"] == "the provider answered 503"
    assert api["webhooks_failed"] == 0
    assert whatsapp["webhooks_failed"] == 2 and whatsapp["last_webhook_error"] == "unknown message type"
    assert whatsapp["deliveries_failing"] == 0
    one = (await client.get(f"/admin/channels/{wa['id']}", headers=t.headers)).json()["health"]
    assert one == whatsapp
    assert (await client.get("/admin/channels", headers=other.headers)).json()[0]["health"]["last_delivery_error"] == (
        "other tenant")


async def test_the_kinds_say_what_credentials_their_form_asks_for(
        client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    kinds = {k["kind"]: k for k in (await client.get("/admin/channels/kinds", headers=t.headers)).json()}
    assert {"whatsapp_cloud", "ycloud", "api"} <= kinds.keys()
    cloud = kinds["whatsapp_cloud"]
    assert cloud["webhooks"] is True and cloud["channel_source"] == "whatsapp"
    assert set(cloud["credentials"]["required"]) == {"phone_number_id", "waba_id", "access_token", "app_secret"}
    props = cloud["credentials"]["properties"]
    assert props["access_token"]["format"] == "password" and props["app_secret"]["format"] == "password"
    assert "format" not in props["phone_number_id"]  # an id is shown as it is typed
    assert kinds["ycloud"]["credentials"]["properties"]["phone_number"]["pattern"].startswith("^\\+")
    assert kinds["api"]["webhooks"] is False and "required" not in kinds["api"]["credentials"]


async def test_removing_a_channel_takes_its_conversations_and_deliveries(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    await _replied(client, t, "hasta luego")
    url = f"/admin/channels/{t.channel_id}"
    assert (await client.delete(f"/admin/channels/{uuid.uuid4()}", headers=t.headers)).status_code == 404
    assert (await client.delete(url, headers=t.headers)).status_code == 204
    assert (await client.get(url, headers=t.headers)).status_code == 404
    assert (await client.get("/admin/chats/summary", headers=t.headers)).json() == []
    async with db.session(t.id) as session:
        assert (await session.execute(tenant_select(OutboundDelivery, t.id))).first() is None


async def test_bad_credentials_name_each_field_so_the_form_can_mark_it(
        client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    response = await client.post("/admin/channels", headers=t.headers, json={
        "kind": "whatsapp_cloud", "name": "WhatsApp",
        "credentials": {**new_credentials("whatsapp_cloud"), "phone_number_id": "12-34", "app_secret": None}})
    assert response.status_code == 422
    details = {d["field"]: d["type"] for d in response.json()["error"]["details"]}
    assert details == {"credentials.phone_number_id": "string_pattern_mismatch", "credentials.app_secret": "missing"}
