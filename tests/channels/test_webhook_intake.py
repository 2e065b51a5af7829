"""The webhook endpoint: authentication, the raw event log, redeliveries, failures that stay alone,
another account's entries, tenant isolation."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx2

from tertulia.channels.models import WebhookEvent
from tertulia.conversations.models import Message
from tertulia.kit.db import Database, tenant_select
from tests.channels.conftest import (
    connect,
    conversation_of,
    customer_writes,
    events_of,
    messages_of,
    meta_envelope,
    meta_message,
    post_signed,
)
from tests.realtime.conftest import LiveServer


async def test_a_customer_message_arrives_through_the_signed_webhook(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    for kind in ("whatsapp_cloud", "ycloud"):
        ch = await connect(client, http, live_server, await make_tenant(), kind)
        sent = await customer_writes(http, ch, text="Hola, ¿abren el domingo? 🙂", name="Lucía Pérez")
        [message] = await messages_of(client, ch)
        assert message["content"] == "Hola, ¿abren el domingo? 🙂" and message["author"] == "contact"
        conv = await conversation_of(client, ch)
        assert conv["display_name"] == "Lucía Pérez" and conv["customer_phone"] == "+34600111222"
        [event] = await events_of(db, ch)
        assert event.outcome == "processed" and event.error is None and event.attempts == 1
        assert json.loads(event.body) == sent["payload"]  # the raw body, as the provider sent it
        assert event.dedupe_key == (sent["payload"]["id"] if kind == "ycloud" else event.dedupe_key)
        channel = (await client.get(f"/admin/channels/{ch.id}", headers=ch.tenant.headers)).json()
        assert channel["last_webhook_at"] is not None


async def test_a_bad_or_missing_signature_is_refused_and_writes_nothing(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    async with httpx2.AsyncClient(timeout=10) as live:
        for kind in ("whatsapp_cloud", "ycloud"):
            ch = await connect(client, http, live_server, await make_tenant(), kind)
            message = meta_message("wamid.X1", "text", {"body": "hola"})
            body = json.dumps(meta_envelope(ch, {"messages": [message]}) if kind == "whatsapp_cloud" else {
                "id": "evt_x", "type": "whatsapp.inbound_message.received", "whatsappInboundMessage": message}
                              ).encode()
            good = ch.sign(body)
            forged = {k: v[:-4] + "0000" if k in ("x-hub-signature-256", "ycloud-signature") else v
                      for k, v in good.items()}
            other_body = body.replace(b"hola", b"HOLA")
            for headers, sent in (({"content-type": "application/json"}, body), (forged, body), (good, other_body)):
                response = await live.post(ch.webhook, content=sent, headers=headers)
                assert response.status_code == 401, response.text
                assert response.json()["error"]["code"] == "invalid_signature"
            assert await events_of(db, ch) == []
            channel = (await client.get(f"/admin/channels/{ch.id}", headers=ch.tenant.headers)).json()
            assert channel["last_webhook_at"] is None


async def test_a_ycloud_signature_outside_five_minutes_is_refused(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "ycloud")
    body = json.dumps({"id": "evt_old", "type": "whatsapp.message.updated", "apiVersion": "v2"}).encode()
    async with httpx2.AsyncClient(timeout=10) as live:
        for skew in (-301, 301):  # a captured delivery replayed later, or a clock far ahead
            response = await live.post(ch.webhook, content=body, headers=ch.sign(body, at=time.time() + skew))
            assert response.status_code == 401 and "five minutes" in response.json()["error"]["message"]
        assert await events_of(db, ch) == []
        within = await live.post(ch.webhook, content=body, headers=ch.sign(body, at=time.time() - 200))
        assert within.status_code == 200
    assert [e.dedupe_key for e in await events_of(db, ch)] == ["evt_old"]


async def test_meta_verification_answers_the_challenge_only_with_the_channel_token(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud")
    verified = (await http.post(f"/_sandbox/channels/{ch.key}/verify")).json()
    assert verified["ok"] is True and verified["status"] == 200
    async with httpx2.AsyncClient(timeout=10) as live:
        params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ch.out["verify_token"]}
        ok = await live.get(ch.webhook, params=params)
        assert ok.status_code == 200 and ok.text == "1158201444"
        for wrong in ({**params, "hub.verify_token": "guess"}, {**params, "hub.mode": "unsubscribe"},
                      {"hub.challenge": "1"}):
            assert (await live.get(ch.webhook, params=wrong)).status_code == 403
        yc = await connect(client, http, live_server, ch.tenant, "ycloud", register=False)
        assert (await live.get(yc.webhook, params=params)).status_code == 404


async def test_unknown_disabled_and_non_webhook_channels_are_all_the_same_404(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any) -> None:
    t = await make_tenant()
    ch = await connect(client, http, live_server, t, "whatsapp_cloud", register=False)
    body = json.dumps(meta_envelope(ch, {"messages": []})).encode()
    async with httpx2.AsyncClient(timeout=10) as live:
        base = ch.webhook.rsplit("/", 1)[0]
        answers = [await live.post(f"{base}/{url}", content=body, headers=ch.sign(body))
                   for url in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", str(t.channel_id))]
        assert (await client.patch(f"/admin/channels/{ch.id}", headers=t.headers, json={"enabled": False})
                ).status_code == 200
        answers.append(await live.post(ch.webhook, content=body, headers=ch.sign(body)))
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert len({a.text for a in answers}) == 1  # nothing tells them apart


async def test_a_redelivered_body_changes_nothing(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    for kind in ("whatsapp_cloud", "ycloud"):
        ch = await connect(client, http, live_server, await make_tenant(), kind)
        await customer_writes(http, ch, text="una vez")
        [delivery] = (await http.get("/_sandbox/deliveries", params={"channel": ch.key})).json()
        [event] = await events_of(db, ch)  # finished: its outcome is recorded
        before = await messages_of(client, ch)
        async with httpx2.AsyncClient(timeout=10) as live:
            for _ in range(2):  # the same bytes again (YCloud signs each retry anew)
                body = delivery["body"].encode()
                headers = ch.sign(body) if kind == "ycloud" else {
                    k: v for k, v in delivery["headers"].items() if k in ("x-hub-signature-256", "content-type")}
                again = await live.post(ch.webhook, content=body, headers=headers)
                assert again.status_code == 200
        assert await messages_of(client, ch) == before
        [after] = await events_of(db, ch)
        assert (after.id, after.attempts, after.outcome) == (event.id, 1, "processed")
        assert (await conversation_of(client, ch))["unread_count"] == 1


async def test_a_redelivered_body_whose_processing_never_finished_is_processed(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    """The process stopped after logging a body and before acting on it: the provider, which got no
    answer, delivers it again, and this time it is acted on."""
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud", register=False)
    body = json.dumps(meta_envelope(ch, {"messages": [meta_message("wamid.LATE", "text", {"body": "¿hola?"})]})
                      ).encode()
    async with db.session(ch.tenant.id) as session:
        session.add(WebhookEvent(tenant_id=ch.tenant.id, channel_id=ch.id, dedupe_key=hashlib.sha256(body).hexdigest(),
                                 body=body.decode(), outcome="pending", attempts=0))
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, ch, body)).status_code == 200
    assert [m["content"] for m in await messages_of(client, ch)] == ["¿hola?"]
    [event] = await events_of(db, ch)
    assert (event.outcome, event.attempts) == ("processed", 1)


async def test_a_part_that_fails_does_not_fail_the_others_and_the_provider_gets_its_200(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud")
    payload = meta_envelope(ch, {
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "34600111222"}],
        "messages": [meta_message("wamid.GOOD1", "text", {"body": "primero"}),
                     meta_message("wamid.BAD", "location", {"name": "sin coordenadas"}),
                     meta_message("wamid.GOOD2", "text", {"body": "tercero"})],
        "statuses": [{"id": "wamid.unknown", "status": "delivered", "timestamp": "nope"}]})
    async with httpx2.AsyncClient(timeout=10) as live:
        response = await post_signed(live, ch, payload)
    assert response.status_code == 200
    assert [m["content"] for m in await messages_of(client, ch)] == ["primero", "tercero"]
    [event] = await events_of(db, ch)
    assert event.outcome == "failed"
    assert event.error is not None and "messages[1]: missing field 'latitude'" in event.error
    assert "statuses[0]" in event.error and "wamid.GOOD1" not in event.error


async def test_entries_for_another_account_are_rejected_and_never_stored(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    """Tenant B's number in a body sent (and signed) to tenant A's channel: rejected, nothing of it is
    stored anywhere; A's own entry in the same body is."""
    a = await connect(client, http, live_server, await make_tenant("a"), "whatsapp_cloud")
    b = await connect(client, http, live_server, await make_tenant("b"), "whatsapp_cloud")
    foreign = meta_envelope(a, {"messages": [meta_message("wamid.FOREIGN", "text", {"body": "para B"})]},
                            phone_number_id=b.credentials["phone_number_id"])
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, a, foreign)).status_code == 200
        mixed = {**foreign, "entry": foreign["entry"] + meta_envelope(
            a, {"messages": [meta_message("wamid.OURS", "text", {"body": "para A"})]})["entry"]}
        assert (await post_signed(live, a, mixed)).status_code == 200
        # B's own secret cannot put anything through A's address
        signed_by_b = json.dumps(meta_envelope(a, {"messages": []})).encode()
        assert (await live.post(a.webhook, content=signed_by_b, headers=b.sign(signed_by_b))).status_code == 401
    events = await events_of(db, a)
    assert [e.outcome for e in events] == ["rejected", "rejected"]
    assert events[0].error is not None and b.credentials["phone_number_id"] in events[0].error
    assert [m["content"] for m in await messages_of(client, a)] == ["para A"]
    assert (await client.get("/admin/chats/summary", headers=b.tenant.headers)).json() == []
    assert await events_of(db, b) == []
    async with db.read_session(b.tenant.id) as session:
        assert list((await session.execute(tenant_select(Message, b.tenant.id))).scalars()) == []
        assert list((await session.execute(tenant_select(WebhookEvent, b.tenant.id))).scalars()) == []

    ycloud = await connect(client, http, live_server, a.tenant, "ycloud")
    event = {"id": "evt_foreign", "type": "whatsapp.inbound_message.received", "apiVersion": "v2",
             "createTime": "2026-01-01T00:00:00.000Z", "whatsappInboundMessage": {
                 "id": "y1", "wamid": "wamid.Y1", "wabaId": ycloud.credentials["waba_id"], "from": "+34600111222",
                 "to": "+34910000999", "sendTime": "2026-01-01T00:00:00.000Z", "type": "text", "text": {"body": "x"}}}
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, ycloud, event)).status_code == 200
    [rejected] = await events_of(db, ycloud)
    assert rejected.outcome == "rejected" and "+34910000999" in (rejected.error or "")


async def test_a_body_that_is_not_json_is_kept_as_failed(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud", register=False)
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, ch, b"{not json")).status_code == 200
    [event] = await events_of(db, ch)
    assert event.outcome == "failed" and event.error == "the body is not JSON" and event.body == "{not json"
