"""The sandbox's Graph API for WhatsApp Cloud: sends, auth, injected failures, the window, media,
templates, and the webhooks it signs (checked here with hmac, as the documentation describes)."""

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


def graph(ch: dict[str, Any], sandbox: SandboxServer) -> tuple[str, dict[str, str]]:
    return sandbox.graph_url, {"authorization": f"Bearer {ch['credentials']['access_token']}"}


def check_meta_signature(app_secret: str, raw: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)



async def send_text(http: httpx2.AsyncClient, ch: dict[str, Any], sandbox: SandboxServer, to: str = "34600111222",
                    text: str = "Hola, soy el negocio", **extra: Any) -> httpx2.Response:
    base, headers = graph(ch, sandbox)
    return await http.post(f"{base}/{ch['channel']['key']}/messages", headers=headers,
                           json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                                 "type": "text", "text": {"body": text, "preview_url": False}, **extra})


async def test_a_send_answers_like_meta_and_is_logged_in_order(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                               receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch, text="Hola")
    first = await send_text(http, ch, sandbox, to="+34 600 111 222", text="Uno",
                            biz_opaque_callback_data="outbox:1", context={"message_id": "wamid.X"})
    second = await send_text(http, ch, sandbox, text="Dos")
    assert first.status_code == 200
    body = first.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+34 600 111 222", "wa_id": "34600111222"}]
    assert body["messages"][0]["id"].startswith("wamid.")
    log = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert [m["text"] for m in log] == ["Uno", "Dos"]
    assert log[0]["recipient"] == "34600111222" and log[0]["biz_opaque_callback_data"] == "outbox:1"
    assert log[0]["context_id"] == "wamid.X"
    assert log[0]["monotonic"] <= log[1]["monotonic"]
    assert second.json()["messages"][0]["id"] == log[1]["message_id"]


async def test_every_kind_of_send_is_accepted(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                              receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    base, headers = graph(ch, sandbox)
    url = f"{base}/{ch['channel']['key']}/messages"
    upload = await http.post(f"{base}/{ch['channel']['key']}/media", headers=headers,
                             data={"messaging_product": "whatsapp", "type": "application/pdf"},
                             files={"file": ("factura.pdf", b"%PDF-1.4 factura", "application/pdf")})
    media_id = upload.json()["id"]
    bodies: list[dict[str, Any]] = [
        {"type": "image", "image": {"link": "https://tienda.example/foto.jpg", "caption": "Foto"}},
        {"type": "document", "document": {"id": media_id, "filename": "factura.pdf", "caption": "Factura"}},
        {"type": "audio", "audio": {"link": "https://tienda.example/a.ogg"}},
        {"type": "video", "video": {"link": "https://tienda.example/v.mp4"}},
        {"type": "sticker", "sticker": {"link": "https://tienda.example/s.webp"}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
        {"type": "interactive", "interactive": {"type": "button", "body": {"text": "¿Confirmas?"},
                                                "action": {"buttons": [{"type": "reply",
                                                                        "reply": {"id": "si", "title": "Sí"}}]}}},
        {"type": "template", "template": {"name": "recordatorio_cita", "language": {"code": "es"},
                                          "components": [{"type": "body", "parameters": [
                                              {"type": "text", "text": "Lucía"}, {"type": "text", "text": "el martes"}]}]}},
    ]
    for body in bodies:
        response = await http.post(url, headers=headers, json={"messaging_product": "whatsapp", "to": "34600111222",
                                                               **body})
        assert response.status_code == 200, (body["type"], response.text)
    log = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert [m["type"] for m in log] == [b["type"] for b in bodies]
    assert log[1]["text"] == "Factura"
    # the customer's phone shows a template as they read it, its parameters filled in
    assert log[-1]["text"] == "Hola Lucía, te recordamos tu cita del el martes. ¿Nos confirmas?"
    # a template answers with its message_status, as Meta's does
    assert response.json()["messages"][0]["message_status"] == "accepted"


async def test_bad_sends_are_refused_with_graph_errors(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                       receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    base, headers = graph(ch, sandbox)
    url = f"{base}/{ch['channel']['key']}/messages"
    no_body = await http.post(url, headers=headers, json={"messaging_product": "whatsapp", "to": "34600111222",
                                                          "type": "text", "text": {}})
    assert no_body.status_code == 400 and no_body.json()["error"]["code"] == 100
    assert no_body.json()["error"]["fbtrace_id"]
    wrong_params = await http.post(url, headers=headers, json={
        "messaging_product": "whatsapp", "to": "34600111222", "type": "template",
        "template": {"name": "recordatorio_cita", "language": {"code": "es"},
                     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Lucía"}]}]}})
    assert wrong_params.status_code == 400 and wrong_params.json()["error"]["code"] == 132000
    pending = await http.post(url, headers=headers, json={
        "messaging_product": "whatsapp", "to": "34600111222", "type": "template",
        "template": {"name": "pedido_enviado", "language": {"code": "es"}}})
    assert pending.json()["error"]["code"] == 132001
    assert (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json() == []


async def test_tokens_are_checked(http: httpx2.AsyncClient, sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    other = await register(http, receiver, "whatsapp_cloud")
    url = f"{sandbox.graph_url}/{ch['channel']['key']}/messages"
    body = {"messaging_product": "whatsapp", "to": "34600111222", "type": "text", "text": {"body": "Hola"}}
    missing = await http.post(url, json=body)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104
    wrong = await http.post(url, json=body, headers={"authorization": "Bearer EAAGnope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 190
    assert wrong.json()["error"]["type"] == "OAuthException"
    foreign = await http.post(url, json=body, headers={"authorization": f"Bearer {other['credentials']['access_token']}"})
    assert foreign.status_code == 400
    assert (foreign.json()["error"]["code"], foreign.json()["error"]["error_subcode"]) == (100, 33)
    assert (await http.get("/_sandbox/sent")).json() == []


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("130429", 400, 130429), ("131056", 400, 131056), ("429", 429, 80007), ("5xx", 500, 131000),
    ("503", 503, 2), ("190", 401, 190), ("131048", 400, 131048), ("4", 400, 4), ("80007", 400, 80007),
])
async def test_injected_synchronous_failures(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                             receiver: WebhookReceiver, kind: str, status: int, code: int) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    added = await http.post("/_sandbox/failures", json={"kind": kind, "times": 2, "channel": ch["channel"]["key"]})
    assert added.status_code == 201
    for _ in range(2):
        failed = await send_text(http, ch, sandbox)
        assert failed.status_code == status
        assert failed.json()["error"]["code"] == code
    if kind == "190":
        assert failed.json()["error"]["error_subcode"] == 463
    assert (await send_text(http, ch, sandbox)).status_code == 200  # the third goes through
    log = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert len(log) == 1


async def test_a_dropped_connection_sends_nothing_unless_after_send(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                    receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    await http.post("/_sandbox/failures", json={"kind": "drop", "channel": ch["channel"]["key"]})
    with pytest.raises(httpx2.TransportError):
        await send_text(http, ch, sandbox, text="perdido")
    await http.post("/_sandbox/failures", json={"kind": "drop_after_send", "channel": ch["channel"]["key"]})
    with pytest.raises(httpx2.TransportError):
        await send_text(http, ch, sandbox, text="enviado sin respuesta")
    log = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert [m["text"] for m in log] == ["enviado sin respuesta"]


async def test_a_failure_rate_is_reproducible_with_its_seed(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                            receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    outcomes = []
    for _ in range(2):
        await http.put("/_sandbox/failures/rate", json={"rate": 0.3, "kinds": ["429", "5xx"], "seed": 7})
        outcomes.append([(await send_text(http, ch, sandbox)).status_code for _ in range(30)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 429, 500}


async def test_outside_the_window_meta_accepts_then_reports_131047(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                   receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch, text="Hola", timestamp=time.time() - 25 * 3600)
    receiver.received.clear()
    accepted = await send_text(http, ch, sandbox)
    assert accepted.status_code == 200
    [hook] = await receiver.wait_posts(1, "/whatsapp_cloud")
    status = json.loads(hook.body)["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["id"] == accepted.json()["messages"][0]["id"]
    assert status["status"] == "failed" and status["errors"][0]["code"] == 131047
    template = await http.post(f"{sandbox.graph_url}/{ch['channel']['key']}/messages",
                               headers=graph(ch, sandbox)[1],
                               json={"messaging_product": "whatsapp", "to": "34600111222", "type": "template",
                                     "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    assert template.status_code == 200
    log = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert [m["status"] for m in log] == ["failed", "accepted"]


async def test_injected_undeliverable_arrives_as_a_failed_status(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                 receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    receiver.received.clear()
    await http.post("/_sandbox/failures", json={"kind": "131026"})
    assert (await send_text(http, ch, sandbox)).status_code == 200
    [hook] = await receiver.wait_posts(1, "/whatsapp_cloud")
    error = json.loads(hook.body)["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]
    assert error["code"] == 131026 and error["error_data"]["details"]


async def test_media_upload_then_download_with_the_token(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                         receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    base, headers = graph(ch, sandbox)
    content = b"\x89PNG\r\n\x1a\n" + b"x" * 2000
    upload = await http.post(f"{base}/{ch['channel']['key']}/media", headers=headers,
                             data={"messaging_product": "whatsapp", "type": "image/png"},
                             files={"file": ("foto.png", content, "image/png")})
    assert upload.status_code == 200
    media_id = upload.json()["id"]
    info = (await http.get(f"{base}/{media_id}", headers=headers)).json()
    assert info["mime_type"] == "image/png" and info["file_size"] == len(content)
    assert info["sha256"] == hashlib.sha256(content).hexdigest() and info["messaging_product"] == "whatsapp"
    assert (await http.get(info["url"])).status_code == 401  # the URL needs the same bearer token
    other = await register(http, receiver, "whatsapp_cloud")
    assert (await http.get(info["url"], headers=graph(other, sandbox)[1])).status_code == 404
    downloaded = await http.get(info["url"], headers=headers)
    assert downloaded.status_code == 200 and downloaded.content == content
    assert downloaded.headers["content-type"] == "image/png"
    await http.post("/_sandbox/failures", json={"kind": "5xx", "scope": "media"})
    assert (await http.get(info["url"], headers=headers)).status_code == 500


async def test_a_customers_media_can_be_fetched_by_its_webhook_id(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                  receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    result = await customer_writes(http, ch, type="document", caption="Mi DNI", filename="dni.pdf")
    message = result["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["document"]["filename"] == "dni.pdf" and message["document"]["caption"] == "Mi DNI"
    base, headers = graph(ch, sandbox)
    info = (await http.get(f"{base}/{message['document']['id']}", headers=headers)).json()
    data = (await http.get(info["url"], headers=headers)).content
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == info["sha256"]


async def test_templates_are_paged_with_cursors(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    waba = ch["credentials"]["waba_id"]
    await http.put(f"/_sandbox/templates/{waba}", json={"defaults": True, "filler": 52})
    base, headers = graph(ch, sandbox)
    url: str | None = f"{base}/{waba}/message_templates?limit=20&fields=name,status,language,components"
    names: list[str] = []
    pages = 0
    while url:
        page = (await http.get(url, headers=headers)).json()
        names += [t["name"] for t in page["data"]]
        assert set(page["data"][0]) <= {"id", "name", "status", "language", "components"}
        url = page["paging"].get("next")
        pages += 1
    assert pages == 3 and len(names) == 57 == len(set(names))
    approved = (await http.get(f"{base}/{waba}/message_templates", params={"status": "APPROVED", "limit": 100},
                               headers=headers)).json()
    assert len(approved["data"]) == 55 and "next" not in approved["paging"]


async def test_connection_check_lookups(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                        receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud", verified_name="Panadería Sol",
                        display_phone_number="+34 910 000 111")
    base, headers = graph(ch, sandbox)
    number = (await http.get(f"{base}/{ch['channel']['key']}",
                             params={"fields": "display_phone_number,verified_name,quality_rating"},
                             headers=headers)).json()
    assert number == {"display_phone_number": "+34910000111", "verified_name": "Panadería Sol",
                      "quality_rating": "GREEN", "id": ch["channel"]["key"]}
    waba = (await http.get(f"{base}/{ch['credentials']['waba_id']}", headers=headers)).json()
    assert waba["id"] == ch["credentials"]["waba_id"]


async def test_inbound_webhooks_are_signed_with_the_app_secret(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                               receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    result = await customer_writes(http, ch, text="¿Tenéis pan/bollos?", name="Lucía Martín", user_id="ES.123")
    assert result["delivery"]["outcome"] == "delivered"
    [hook] = receiver.posts("/whatsapp_cloud")
    assert check_meta_signature(ch["credentials"]["app_secret"], hook.body, hook.headers["x-hub-signature-256"])
    assert not check_meta_signature("another secret", hook.body, hook.headers["x-hub-signature-256"])
    # Meta's bytes: non-ASCII and "/" escaped; re-serialising the parsed body would not match.
    assert b"\\u00bf" in hook.body and b"pan\\/bollos" in hook.body
    parsed = json.loads(hook.body)
    assert json.dumps(parsed, separators=(",", ":")).encode() != hook.body
    value = parsed["entry"][0]["changes"][0]["value"]
    assert parsed["object"] == "whatsapp_business_account"
    assert parsed["entry"][0]["id"] == ch["credentials"]["waba_id"]
    assert value["metadata"]["phone_number_id"] == ch["channel"]["key"]
    assert value["contacts"] == [{"profile": {"name": "Lucía Martín"}, "wa_id": "34600111222", "user_id": "ES.123"}]
    assert value["messages"][0]["text"] == {"body": "¿Tenéis pan/bollos?"}
    assert value["messages"][0]["timestamp"].isdigit()


async def test_webhooks_are_retried_when_tertulia_answers_500(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                              receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    receiver.answers[:] = [500, 503]
    result = await customer_writes(http, ch, text="Hola")
    assert result["delivery"]["outcome"] == "delivered"
    assert [a["status"] for a in result["delivery"]["attempts"]] == [500, 503, 200]
    bodies = {r.body for r in receiver.posts("/whatsapp_cloud")}
    assert len(bodies) == 1  # the same bytes every time
    receiver.answers[:] = [500] * 10
    failed = await customer_writes(http, ch, text="Otra vez")
    assert failed["delivery"]["outcome"] == "failed" and len(failed["delivery"]["attempts"]) == 4


@pytest.mark.parametrize("spec", [
    {"type": "text", "text": "Hola", "referral": True},
    {"type": "image", "caption": "Mira"},
    {"type": "video"},
    {"type": "voice"},
    {"type": "audio"},
    {"type": "sticker"},
    {"type": "document", "filename": "factura.pdf"},
    {"type": "location", "latitude": 40.4, "longitude": -3.7, "location_name": "Sol", "address": "Madrid"},
    {"type": "contacts", "contacts": [{"name": "Ana Pérez", "phone": "+34 600 000 001"}]},
    {"type": "button_reply", "reply_id": "si", "reply_title": "Sí"},
    {"type": "list_reply", "reply_id": "r2", "reply_title": "Martes", "description": "Por la tarde"},
    {"type": "button", "payload": "CONFIRMAR", "reply_title": "Confirmar", "context": "wamid.TEMPLATE"},
    {"type": "reaction", "target": "wamid.BIZ", "emoji": "❤️"},
    {"type": "edit", "target": "wamid.OLD", "text": "Mejor a las 11"},
    {"type": "revoke", "target": "wamid.OLD"},
    {"type": "text", "text": "¿Y esto?", "context": "wamid.QUOTED"},
    {"type": "unsupported", "text": "poll"},
])
async def test_every_inbound_type_reaches_the_webhook(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                      receiver: WebhookReceiver, spec: dict[str, Any]) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch, **spec)
    [hook] = receiver.posts("/whatsapp_cloud")
    message = json.loads(hook.body)["entry"][0]["changes"][0]["value"]["messages"][0]
    wire_type = {"voice": "audio", "button_reply": "interactive", "list_reply": "interactive"}.get(spec["type"],
                                                                                                    spec["type"])
    assert message["type"] == wire_type
    if wire_type in ("image", "video", "audio", "sticker", "document"):
        assert message[wire_type]["id"] and message[wire_type]["mime_type"]
    if spec["type"] == "voice":
        assert message["audio"]["voice"] is True
    if spec["type"] == "reaction":
        assert message["reaction"] == {"message_id": "wamid.BIZ", "emoji": "❤️"}
    if spec["type"] == "revoke":
        assert message["revoke"] == {"original_message_id": "wamid.OLD"}
    if spec.get("context"):
        assert message["context"]["id"] == spec["context"]
    if spec.get("referral"):
        assert message["referral"]["ctwa_clid"]
    if spec["type"] == "unsupported":
        assert message["errors"][0]["code"] == 131051


async def test_statuses_move_forward_and_can_arrive_out_of_order(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                                 receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    await customer_writes(http, ch)
    receiver.received.clear()
    wamid = (await send_text(http, ch, sandbox, biz_opaque_callback_data="o-9")).json()["messages"][0]["id"]
    for status in ("read", "delivered", "sent"):
        response = await http.post("/_sandbox/statuses", json={"message_id": wamid, "status": status})
        assert response.json()["delivery"]["outcome"] == "delivered"
    hooks = receiver.posts("/whatsapp_cloud")
    statuses = [json.loads(h.body)["entry"][0]["changes"][0]["value"]["statuses"][0] for h in hooks]
    assert [s["status"] for s in statuses] == ["read", "delivered", "sent"]
    assert all(s["id"] == wamid and s["recipient_id"] == "34600111222" for s in statuses)
    assert statuses[0]["biz_opaque_callback_data"] == "o-9"
    assert statuses[1]["pricing"]["category"] == "service"
    [sent] = (await http.get("/_sandbox/sent", params={"channel": ch["channel"]["key"]})).json()
    assert sent["status"] == "read" and [s["status"] for s in sent["statuses"]] == ["read", "delivered", "sent"]


async def test_automatic_statuses_follow_an_accepted_send(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                          receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud", auto_status=True)
    await customer_writes(http, ch)
    receiver.received.clear()
    await send_text(http, ch, sandbox)
    hooks = await receiver.wait_posts(2, "/whatsapp_cloud")
    assert [json.loads(h.body)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for h in hooks] == [
        "sent", "delivered"]
    read = await http.post("/_sandbox/read", json={"channel": ch["channel"]["key"], "customer": "34600111222"})
    assert len(read.json()["read"]) == 1
    hooks = await receiver.wait_posts(3, "/whatsapp_cloud")
    assert json.loads(hooks[-1].body)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] == "read"


async def test_mark_as_read_and_typing_indicator(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                 receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    wamid = (await customer_writes(http, ch))["message_id"]
    base, headers = graph(ch, sandbox)
    response = await http.post(f"{base}/{ch['channel']['key']}/messages", headers=headers, json={
        "messaging_product": "whatsapp", "status": "read", "message_id": wamid, "typing_indicator": {"type": "text"}})
    assert response.json() == {"success": True}
    [action] = (await http.get("/_sandbox/actions", params={"channel": ch["channel"]["key"]})).json()
    assert action["action"] == "typing" and action["message_id"] == wamid
    [inbound] = (await http.get("/_sandbox/inbound", params={"channel": ch["channel"]["key"]})).json()
    assert inbound["read"] is True


async def test_echoes_and_template_reviews(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                           receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud")
    echo = await http.post("/_sandbox/echoes", json={"channel": ch["channel"]["key"], "to": "34600111222",
                                                     "text": "Te lo guardo"})
    assert echo.json()["delivery"]["outcome"] == "delivered"
    value = echo.json()["payload"]["entry"][0]["changes"][0]
    assert value["field"] == "smb_message_echoes"
    assert value["value"]["message_echoes"][0]["text"] == {"body": "Te lo guardo"}
    assert value["value"]["message_echoes"][0]["to"] == "34600111222"
    review = await http.post(f"/_sandbox/templates/{ch['credentials']['waba_id']}/review",
                             json={"name": "pedido_enviado", "event": "APPROVED"})
    assert review.json()["deliveries"][0]["outcome"] == "delivered"
    body = json.loads(receiver.posts("/whatsapp_cloud")[-1].body)
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "APPROVED" and change["value"]["message_template_name"] == "pedido_enviado"


async def test_webhook_verification_request(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                            receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "whatsapp_cloud", verify_token="mi-token")
    result = (await http.post(f"/_sandbox/channels/{ch['channel']['key']}/verify")).json()
    assert result["ok"] is True
    [get] = [r for r in receiver.received if r.method == "GET"]
    assert get.query["hub.mode"] == "subscribe" and get.query["hub.verify_token"] == "mi-token"
