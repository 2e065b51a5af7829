"""The sandbox's Messenger and Instagram: the Send API and its windows, the User Profile API, and
the `page`/`instagram` webhooks (messages, echoes, receipts, standby)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx2

from tertulia.sandbox.server import SandboxServer
from tests.sandbox.conftest import WebhookReceiver, customer_writes, register


def bearer(ch: dict[str, Any]) -> dict[str, str]:
    token = ch["credentials"].get("page_access_token") or ch["credentials"]["access_token"]
    return {"authorization": f"Bearer {token}"}



async def page_send(http: httpx2.AsyncClient, ch: dict[str, Any], sandbox: SandboxServer, page: str | None = None,
                    **body: Any) -> httpx2.Response:
    body.setdefault("recipient", {"id": "6100000000000001"})
    body.setdefault("messaging_type", "RESPONSE")
    body.setdefault("message", {"text": "¡Hola! ¿En qué te ayudo?"})
    return await http.post(f"{sandbox.graph_url}/{page or ch['channel']['key']}/messages", headers=bearer(ch),
                           json=body)


async def test_messenger_send_echo_and_receipts(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "facebook")
    await customer_writes(http, ch, text="Hola", name="Lucía Martín")
    receiver.received.clear()
    sent = await page_send(http, ch, sandbox)
    assert sent.status_code == 200
    assert sent.json()["recipient_id"] == "6100000000000001" and sent.json()["message_id"].startswith("m_")
    via_me = await page_send(http, ch, sandbox, page="me", message={
        "attachment": {"type": "image", "payload": {"url": "https://tienda.example/foto.jpg", "is_reusable": True}}})
    assert via_me.status_code == 200
    echoes = await receiver.wait_posts(2, "/facebook")
    first = json.loads(echoes[0].body)
    assert first["object"] == "page" and first["entry"][0]["id"] == ch["channel"]["key"]
    event = first["entry"][0]["messaging"][0]
    assert event["message"]["is_echo"] is True and event["message"]["mid"] == sent.json()["message_id"]
    assert str(event["message"]["app_id"]) == ch["credentials"]["app_id"]
    assert event["sender"]["id"] == ch["channel"]["key"] and event["recipient"]["id"] == "6100000000000001"
    secret = ch["credentials"]["app_secret"].encode()
    assert echoes[0].headers["x-hub-signature-256"] == "sha256=" + hmac.new(secret, echoes[0].body,
                                                                            hashlib.sha256).hexdigest()
    await http.post("/_sandbox/statuses", json={"message_id": sent.json()["message_id"], "status": "delivered"})
    await http.post("/_sandbox/statuses", json={"message_id": sent.json()["message_id"], "status": "read"})
    receipts = [json.loads(h.body)["entry"][0]["messaging"][0] for h in receiver.posts("/facebook")[2:]]
    assert receipts[0]["delivery"]["mids"] == [sent.json()["message_id"]]
    assert receipts[1]["read"]["watermark"] >= receipts[0]["delivery"]["watermark"] > 0


async def test_the_window_and_the_human_agent_tag(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                  receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "facebook")
    unknown = await page_send(http, ch, sandbox)
    assert unknown.status_code == 400 and unknown.json()["error"]["error_subcode"] == 2018001
    await customer_writes(http, ch, text="Hola", timestamp=time.time() - 3 * 24 * 3600)
    closed = await page_send(http, ch, sandbox)
    assert closed.status_code == 400
    assert (closed.json()["error"]["code"], closed.json()["error"]["error_subcode"]) == (10, 2018278)
    tagged = await page_send(http, ch, sandbox, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert tagged.status_code == 200
    untagged = await page_send(http, ch, sandbox, messaging_type="MESSAGE_TAG")
    assert untagged.status_code == 400 and untagged.json()["error"]["code"] == 100


async def test_user_profiles(http: httpx2.AsyncClient, sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    fb = await register(http, receiver, "facebook")
    ig = await register(http, receiver, "instagram")
    await customer_writes(http, fb, name="Lucía Martín")
    await customer_writes(http, ig, **{"from": "1780000000000001"}, name="Marta Gil", username="marta.gil")
    profile = (await http.get(f"{sandbox.graph_url}/6100000000000001",
                              params={"fields": "first_name,last_name,profile_pic"}, headers=bearer(fb))).json()
    assert profile["first_name"] == "Lucía" and profile["last_name"] == "Martín"
    picture = await http.get(profile["profile_pic"])
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    ig_profile = (await http.get(f"{sandbox.graph_url}/1780000000000001",
                                 params={"fields": "name,username,profile_pic"}, headers=bearer(ig))).json()
    assert ig_profile["name"] == "Marta Gil" and ig_profile["username"] == "marta.gil"
    stranger = await http.get(f"{sandbox.graph_url}/1780000000000001", headers=bearer(fb))
    assert stranger.status_code == 400


async def test_instagram_events(http: httpx2.AsyncClient, sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "instagram")
    spec = {"from": "1780000000000001"}
    story = await customer_writes(http, ch, **spec, type="story_reply", text="¡Qué bonito!")
    mention = await customer_writes(http, ch, **spec, type="story_mention")
    photo = await customer_writes(http, ch, **spec, type="image")
    await customer_writes(http, ch, **spec, type="reaction", target=photo["message_id"], emoji="❤️")
    await customer_writes(http, ch, **spec, type="revoke", target=story["message_id"])
    await customer_writes(http, ch, **spec, type="text", text="Vuelvo luego", standby=True)
    events = [json.loads(h.body) for h in receiver.posts("/instagram")]
    assert all(e["object"] == "instagram" for e in events)
    messaging = [e["entry"][0].get("messaging", e["entry"][0].get("standby"))[0] for e in events]
    assert messaging[0]["message"]["reply_to"]["story"]["url"].startswith(sandbox.url)
    assert messaging[1]["message"]["attachments"][0]["type"] == "story_mention"
    attachment_url = messaging[2]["message"]["attachments"][0]["payload"]["url"]
    assert (await http.get(attachment_url)).content.startswith(b"\x89PNG")  # CDN links need no token
    assert messaging[3]["reaction"] == {"mid": photo["message_id"], "action": "react", "reaction": "other",
                                        "emoji": "❤️"}
    assert messaging[4]["message"] == {"mid": story["message_id"], "is_deleted": True}
    assert "standby" in events[5]["entry"][0] and "messaging" not in events[5]["entry"][0]
    assert mention["media_id"]


async def test_a_reply_from_business_suite_is_an_echo_from_another_app(http: httpx2.AsyncClient,
                                                                       sandbox: SandboxServer,
                                                                       receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "facebook")
    echo = (await http.post("/_sandbox/echoes", json={"channel": ch["channel"]["key"], "to": "6100000000000001",
                                                      "text": "Te escribo yo"})).json()
    message = echo["payload"]["entry"][0]["messaging"][0]["message"]
    assert message["is_echo"] is True and message["text"] == "Te escribo yo"
    assert str(message["app_id"]) != ch["credentials"]["app_id"]


async def test_sender_actions_and_injected_rate_limit(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                      receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "facebook")
    await customer_writes(http, ch)
    typing = await http.post(f"{sandbox.graph_url}/me/messages", headers=bearer(ch),
                             json={"recipient": {"id": "6100000000000001"}, "sender_action": "typing_on"})
    assert typing.json() == {"recipient_id": "6100000000000001"}
    await http.post("/_sandbox/failures", json={"kind": "429"})
    limited = await page_send(http, ch, sandbox)
    assert limited.status_code == 400 and limited.json()["error"]["code"] == 613
    await http.post("/_sandbox/failures", json={"kind": "190"})
    expired = await page_send(http, ch, sandbox)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == 190
    actions = (await http.get("/_sandbox/actions", params={"channel": ch["channel"]["key"]})).json()
    assert [a["action"] for a in actions] == ["typing_on"]
