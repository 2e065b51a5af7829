"""Every failure class, injected in the sandbox: passing ones are tried again (with backoff) and the
message goes once; final ones fail the message with a reason a person understands; refused
credentials pause the channel until they change; a person can send a failed message again."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from tertulia.channels.sending import our_message_id, our_reference, reason_for_code
from tertulia.delivery.models import OutboundDelivery
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import (
    MAX_ATTEMPTS,
    Receiver,
    Shop,
    customer_writes,
    eventually,
    make_shop,
    message_of,
    sent_log,
    settled,
)


async def inject(control: httpx2.AsyncClient, shop: Shop, kind: str, times: int = 1, **extra: Any) -> None:
    r = await control.post("/_sandbox/failures", json={"kind": kind, "times": times, "channel": shop.key, **extra})
    assert r.status_code == 201, r.text


async def queue(api: httpx2.AsyncClient, shop: Shop, conversation_id: str, text: str = "Tu pedido salió hoy.") -> int:
    r = await api.post(f"/admin/chats/{conversation_id}/messages", headers=shop.headers, json={"message": text})
    assert r.status_code == 202, r.text
    message_id: int = r.json()["message_id"]
    return message_id


async def delivery_of(shop: Shop, message_id: int) -> OutboundDelivery:
    async with shop.db.read_session(shop.tenant_id) as session:
        found: OutboundDelivery = (await session.execute(select(OutboundDelivery).where(
            OutboundDelivery.tenant_id == shop.tenant_id, OutboundDelivery.message_id == message_id))).scalar_one()
    return found


def send_requests(sandbox: SandboxServer, provider: str) -> list[dict[str, Any]]:
    path = "/messages/sendDirectly" if provider == "ycloud" else "/messages"
    return [r for r in sandbox.state.requests if r["provider"] == ("ycloud" if provider == "ycloud" else "meta")
            and r["method"] == "POST" and r["path"].endswith(path)]


@pytest.mark.parametrize(("kind", "failure"), [
    ("whatsapp_cloud", "429"), ("whatsapp_cloud", "130429"), ("whatsapp_cloud", "131056"), ("whatsapp_cloud", "4"),
    ("whatsapp_cloud", "80007"), ("whatsapp_cloud", "5xx"), ("whatsapp_cloud", "503"), ("whatsapp_cloud", "drop"),
    ("ycloud", "429"), ("ycloud", "131056"), ("ycloud", "5xx"), ("ycloud", "drop"),
])
async def test_passing_failures_are_tried_again_and_the_message_goes_once(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str, failure: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    await inject(control, shop, failure, times=2, **({"mode": "sync"} if failure == "131056" else {}))
    message_id = await queue(api, shop, conv)
    shown = await settled(api, shop, conv, message_id)
    assert shown["status"] == "sent" and shown["error"] is None
    assert len(sent_log(sandbox, shop)) == 1  # once, whatever it took
    assert (await delivery_of(shop, message_id)).attempts == 3


@pytest.mark.parametrize(("kind", "failure", "words"), [
    ("whatsapp_cloud", "131047", "plantilla"), ("whatsapp_cloud", "131026", "no usa WhatsApp"),
    ("whatsapp_cloud", "131048", "spam"), ("whatsapp_cloud", "131049", "marketing"),
    ("whatsapp_cloud", "100", "rechazó"), ("ycloud", "131047", "plantilla"), ("ycloud", "131026", "no usa WhatsApp"),
])
async def test_final_failures_fail_the_message_with_a_reason_a_person_understands(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str, failure: str, words: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    await inject(control, shop, failure, mode="sync")
    after = (await api.get("/admin/events", headers=shop.headers)).json()
    last_seq = after[-1]["seq"] if after else 0
    message_id = await queue(api, shop, conv)
    shown = await settled(api, shop, conv, message_id)
    assert shown["status"] == "failed" and words in shown["error"], shown
    assert shown["error_code"] == ("100" if failure == "100" else failure)
    assert len(send_requests(sandbox, kind)) == 1 and sent_log(sandbox, shop) == []  # not tried again
    events = (await api.get("/admin/events", headers=shop.headers, params={"after": last_seq})).json()
    updates = [e["data"] for e in events if e["type"] == "message.updated" and e["data"]["id"] == message_id]
    assert updates and updates[-1]["status"] == "failed" and updates[-1]["error"] == shown["error"]
    # The next message to the same customer is not held up by the failed one.
    next_id = await queue(api, shop, conv, "¿Sigues ahí?")
    assert (await settled(api, shop, conv, next_id))["status"] == "sent"


async def test_a_failure_that_keeps_coming_fails_after_the_last_try_and_a_person_retries(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    await inject(control, shop, "503", times=MAX_ATTEMPTS)
    message_id = await queue(api, shop, conv)
    shown = await settled(api, shop, conv, message_id)
    assert shown["status"] == "failed" and f"tras {MAX_ATTEMPTS} intentos" in shown["error"]
    assert len(send_requests(sandbox, "whatsapp_cloud")) == MAX_ATTEMPTS
    # Retry: the same message, queued again; now it goes.
    r = await api.post(f"/admin/messages/{message_id}/retry", headers=shop.headers)
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["id"] == message_id, r.text
    assert (await settled(api, shop, conv, message_id))["status"] == "sent"
    assert len(sent_log(sandbox, shop)) == 1
    # Only a failed message can be retried.
    again = await api.post(f"/admin/messages/{message_id}/retry", headers=shop.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "message_not_failed"
    inbound = await api.post(f"/admin/messages/{message_id + 10_000}/retry", headers=shop.headers)
    assert inbound.status_code == 404 and inbound.json()["error"]["code"] == "message_not_found"


@pytest.mark.parametrize("kind", ["whatsapp_cloud", "ycloud"])
async def test_refused_credentials_pause_the_channel_until_they_change(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    other = (await customer_writes(shop, control, customer="34600333444" if kind == "whatsapp_cloud"
                                   else "+34600333444"))["conversation_id"]
    await inject(control, shop, "190")  # Meta: 190 expired token; YCloud: 401
    first = await queue(api, shop, conv)

    async def paused() -> dict[str, Any] | None:
        channel = (await api.get(f"/admin/channels/{shop.channel_id}", headers=shop.headers)).json()
        return channel if channel["status"] == "attention" else None

    channel = await eventually(paused, what="the channel to need attention")
    expected = "token de acceso" if kind == "whatsapp_cloud" else "clave de API de YCloud"
    assert expected in channel["status_reason"]
    shown = await message_of(api, shop, conv, first)
    assert shown["status"] == "queued" and expected in shown["error"]  # waiting, not failed
    # While the channel needs attention, nothing more is tried.
    second = await queue(api, shop, other, "Hola de nuevo")
    await eventually(lambda: delivery_of(shop, second), what="the second delivery")

    async def second_paused() -> bool:
        return (await delivery_of(shop, second)).state == "paused"

    await eventually(second_paused, what="the second delivery to wait")
    assert len(send_requests(sandbox, kind)) == 1 and sent_log(sandbox, shop) == []
    # New credentials (the owner pasted a fresh token): both go, and the channel is fine again.
    r = await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers,
                        json={"credentials": shop.credentials})
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["status_reason"] is None, r.text
    for conversation, message_id in ((conv, first), (other, second)):
        shown = await settled(api, shop, conversation, message_id)
        assert shown["status"] == "sent" and shown["error"] is None
    assert len(sent_log(sandbox, shop)) == 2


async def test_an_answer_lost_after_ycloud_accepted_is_not_sent_twice(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    """The crash window: the provider took the message but its answer never came. YCloud knows our
    externalId and answers the first message; nothing is sent twice."""
    shop = await make_shop(out_app, control, "ycloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    await inject(control, shop, "drop_after_send")
    message_id = await queue(api, shop, conv)
    assert (await settled(api, shop, conv, message_id))["status"] == "sent"
    [sent] = sent_log(sandbox, shop)
    assert sent["external_id"] == f"tertulia-{message_id}"
    assert [a["action"] for a in sandbox.state.actions if a["channel"] == shop.key] == ["duplicate_external_id"]


async def test_an_answer_lost_after_meta_accepted_may_send_twice_both_marked_ours(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    """Meta has no idempotency key: the same window sends twice (docs/architecture.md), each send
    carrying our reference so its statuses can be told ours."""
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    await inject(control, shop, "drop_after_send")
    message_id = await queue(api, shop, conv)
    assert (await settled(api, shop, conv, message_id))["status"] == "sent"
    sent = sent_log(sandbox, shop)
    assert len(sent) == 2 and {m["biz_opaque_callback_data"] for m in sent} == {f"tertulia-{message_id}"}


def test_the_webhooks_read_our_reference_and_a_later_failures_words_from_the_same_table() -> None:
    """A `failed` status arriving later (Meta's 131047 usually does) is said as the send's own
    refusal would be; our reference tells our sends' statuses from others'."""
    assert reason_for_code("131047") == reason_for_code(131047) and "plantilla" in (reason_for_code("131047") or "")
    assert reason_for_code("999999") is None and reason_for_code("BALANCE") is None
    assert our_message_id(our_reference(42)) == 42
    assert our_message_id("ext-42") is None and our_message_id(None) is None
