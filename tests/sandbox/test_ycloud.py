"""The sandbox's YCloud API v2: queued and direct sends, externalId, errors, templates, media, and its
`YCloud-Signature` webhooks (checked here with hmac over "<t>.<raw body>")."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx2
import pytest

from tertulia.sandbox.server import SandboxServer
from tests.sandbox.conftest import WebhookReceiver, customer_writes, register


def key(ch: dict[str, Any]) -> dict[str, str]:
    return {"x-api-key": ch["credentials"]["api_key"]}


def check_signature(secret: str, raw: bytes, header: str, tolerance: float = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = parts["t"].encode() + b"." + raw
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["s"]) and abs(time.time() - int(parts["t"])) <= tolerance



async def send(http: httpx2.AsyncClient, ch: dict[str, Any], sandbox: SandboxServer, *, direct: bool = False,
               **extra: Any) -> httpx2.Response:
    path = "/whatsapp/messages/sendDirectly" if direct else "/whatsapp/messages"
    body = {"from": ch["channel"]["key"], "to": "+34600111222", "type": "text", "text": {"body": "Hola"}, **extra}
    return await http.post(sandbox.ycloud_url + path, headers=key(ch), json=body)


async def test_queued_and_direct_sends_answer_a_message_object(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                               receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud", phone_number="+34910000222")
    await customer_writes(http, ch)
    queued = await send(http, ch, sandbox, externalId="out-1")
    direct = await send(http, ch, sandbox, direct=True, externalId="out-2")
    assert queued.status_code == direct.status_code == 200
    q, d = queued.json(), direct.json()
    assert q["status"] == d["status"] == "accepted"
    assert q["from"] == "+34910000222" and q["to"] == "+34600111222" and q["externalId"] == "out-1"
    assert q["text"] == {"body": "Hola"} and q["id"]
    assert "wamid" not in q  # handed to WhatsApp later: the wamid comes with the status webhooks
    assert d["wamid"].startswith("wamid.")
    log = (await http.get("/_sandbox/sent", params={"channel": "+34910000222"})).json()
    assert [m["endpoint"] for m in log] == ["queued", "sendDirectly"]


async def test_the_same_external_id_sends_once(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                               receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    await customer_writes(http, ch)
    first = await send(http, ch, sandbox, externalId="outbox-77")
    again = await send(http, ch, sandbox, externalId="outbox-77", text={"body": "Hola otra vez"})
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["text"] == {"body": "Hola"}
    assert len((await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()) == 1


async def test_errors_in_ycloud_shape(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                      receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    await customer_writes(http, ch)
    unauthorized = await http.post(sandbox.ycloud_url + "/whatsapp/messages", headers={"x-api-key": "nope"},
                                   json={"from": ch["channel"]["key"], "to": "+34600111222", "type": "text",
                                         "text": {"body": "Hola"}})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"]["status"] == 401
    wrong_from = await send(http, ch, sandbox, **{"from": "+10000000000"})
    error = wrong_from.json()["error"]
    assert wrong_from.status_code == 400 and error["code"] == "PARAM_INVALID" and error["target"] == "from"
    assert wrong_from.headers["ycloud-request-id"] == error["requestId"]
    await http.post("/_sandbox/failures", json={"kind": "429"})
    limited = await send(http, ch, sandbox)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert "whatsappApiError" not in limited.json()["error"] and limited.headers["retry-after"]
    await http.post("/_sandbox/failures", json={"kind": "131056"})
    pair = await send(http, ch, sandbox, direct=True)
    assert pair.status_code == 429
    assert pair.json()["error"]["whatsappApiError"]["code"] == "131056"
    await http.post("/_sandbox/failures", json={"kind": "5xx"})
    assert (await send(http, ch, sandbox)).status_code == 500
    assert (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json() == []


async def test_queued_failures_arrive_in_the_updated_webhook(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                             receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    await customer_writes(http, ch)
    receiver.received.clear()
    await http.post("/_sandbox/failures", json={"kind": "131056"})
    accepted = await send(http, ch, sandbox, externalId="o-1")
    assert accepted.status_code == 200
    [hook] = await receiver.wait_posts(1, "/ycloud")
    event = json.loads(hook.body)
    assert event["type"] == "whatsapp.message.updated" and event["apiVersion"] == "v2"
    message = event["whatsappMessage"]
    assert message["id"] == accepted.json()["id"] and message["externalId"] == "o-1"
    assert message["status"] == "failed" and message["errorCode"] == "131056"
    assert message["whatsappApiError"]["code"] == "131056"


async def test_status_webhooks_are_signed_and_carry_the_wamid(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                              receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    await customer_writes(http, ch)
    receiver.received.clear()
    queued = (await send(http, ch, sandbox, externalId="o-2")).json()
    [sent] = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    await http.post("/_sandbox/statuses", json={"message_id": sent["message_id"], "status": "sent"})
    await http.post("/_sandbox/statuses", json={"message_id": queued["id"], "status": "delivered"})
    hooks = receiver.posts("/ycloud")
    secret = ch["credentials"]["signing_secret"]
    for hook in hooks:
        assert check_signature(secret, hook.body, hook.headers["ycloud-signature"])
        assert not check_signature(secret, hook.body + b" ", hook.headers["ycloud-signature"])
    events = [json.loads(h.body) for h in hooks]
    assert [e["whatsappMessage"]["status"] for e in events] == ["sent", "delivered"]
    assert events[0]["whatsappMessage"]["wamid"] == sent["message_id"]
    assert events[0]["id"] != events[1]["id"]  # each event has its own id to dedupe on


async def test_inbound_message_event(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                     receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    result = await customer_writes(http, ch, type="image", caption="Mi pedido", name="Lucía", user_id="ES.9")
    [hook] = receiver.posts("/ycloud")
    assert check_signature(ch["credentials"]["signing_secret"], hook.body, hook.headers["ycloud-signature"])
    event = json.loads(hook.body)
    assert event["type"] == "whatsapp.inbound_message.received"
    inbound = event["whatsappInboundMessage"]
    assert inbound["from"] == "+34600111222" and inbound["to"] == ch["channel"]["key"]
    assert inbound["wamid"] == result["message_id"] and inbound["fromUserId"] == "ES.9"
    assert inbound["customerProfile"] == {"name": "Lucía"} and inbound["wabaId"] == ch["credentials"]["waba_id"]
    assert inbound["image"]["caption"] == "Mi pedido"
    unauthenticated = await http.get(inbound["image"]["link"])
    assert unauthenticated.status_code == 401
    download = await http.get(inbound["image"]["link"], headers=key(ch))
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    read = await http.post(f"{sandbox.ycloud_url}/whatsapp/inboundMessages/{inbound['id']}/markAsRead",
                           headers=key(ch))
    assert read.status_code == 200
    assert (await http.get("/_sandbox/inbound")).json()[0]["read"] is True


async def test_media_upload_then_download(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                          receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    content = b"%PDF-1.4 presupuesto"
    upload = await http.post(f"{sandbox.ycloud_url}/whatsapp/media/{ch['channel']['key']}/upload", headers=key(ch),
                             files={"file": ("presupuesto.pdf", content, "application/pdf")})
    media_id = upload.json()["id"]
    download = await http.get(f"{sandbox.ycloud_url}/whatsapp/media/download/{media_id}", headers=key(ch))
    assert download.content == content and download.headers["content-type"] == "application/pdf"
    await customer_writes(http, ch)
    sent = await send(http, ch, sandbox, type="document",
                      document={"id": media_id, "filename": "presupuesto.pdf"})
    assert sent.status_code == 200 and sent.json()["document"]["id"] == media_id


async def test_templates_are_paged_by_page_and_limit(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                     receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    waba = ch["credentials"]["waba_id"]
    await http.put(f"/_sandbox/templates/{waba}", json={"filler": 25})
    pages = []
    for page in (1, 2, 3):
        response = await http.get(f"{sandbox.ycloud_url}/whatsapp/templates", headers=key(ch),
                                  params={"page": page, "limit": 10, "includeTotal": "true", "filter.wabaId": waba})
        pages.append(response.json())
    assert [(p["offset"], p["length"], p["total"]) for p in pages] == [(0, 10, 25), (10, 10, 25), (20, 5, 25)]
    names = [t["name"] for p in pages for t in p["items"]]
    assert len(set(names)) == 25
    item = pages[0]["items"][0]
    assert item["wabaId"] == waba and item["status"] == "APPROVED" and item["components"]
    too_many = await http.get(f"{sandbox.ycloud_url}/whatsapp/templates", headers=key(ch), params={"limit": 500})
    assert too_many.status_code == 400 and too_many.json()["error"]["target"] == "limit"


async def test_phone_number_and_account_lookups(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud", phone_number="+34910000333", verified_name="Ferretería Luz")
    waba = ch["credentials"]["waba_id"]
    number = (await http.get(f"{sandbox.ycloud_url}/whatsapp/phoneNumbers/{waba}/%2B34910000333",
                             headers=key(ch))).json()
    assert number["phoneNumber"] == "+34910000333" and number["verifiedName"] == "Ferretería Luz"
    account = await http.get(f"{sandbox.ycloud_url}/whatsapp/businessAccounts/{waba}", headers=key(ch))
    assert account.status_code == 200 and account.json()["id"] == waba
    missing = await http.get(f"{sandbox.ycloud_url}/whatsapp/businessAccounts/123", headers=key(ch))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("kind", ["drop", "drop_after_send"])
async def test_a_retry_after_a_lost_answer_is_safe_with_external_id(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                     receiver: WebhookReceiver, kind: str) -> None:
    ch = await register(http, receiver, "ycloud")
    await customer_writes(http, ch)
    await http.post("/_sandbox/failures", json={"kind": kind})
    with pytest.raises(httpx2.TransportError):
        await send(http, ch, sandbox, externalId="o-lost")
    retried = await send(http, ch, sandbox, externalId="o-lost")
    assert retried.status_code == 200
    assert len((await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()) == 1
