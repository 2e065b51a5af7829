"""Sends of every kind through the delivery worker to the provider sandbox (real HTTP on loopback),
on WhatsApp Cloud and YCloud: what the provider receives, and what the inbox then shows."""

from __future__ import annotations

import itertools
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from tertulia.conversations.models import Message
from tertulia.sandbox.samples import sample
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import (
    CUSTOMER,
    SPACING,
    Receiver,
    Shop,
    customer_writes,
    eventually,
    make_shop,
    sent_log,
    settled,
)
from tests.fakes.openai_server import FakeOpenAIServer

KINDS = ["whatsapp_cloud", "ycloud"]


async def provider_id(shop: Shop, message_id: int) -> str | None:
    async with shop.db.read_session(shop.tenant_id) as session:
        value: str | None = (await session.execute(select(Message.provider_message_id).where(
            Message.tenant_id == shop.tenant_id, Message.id == message_id))).scalar_one()
    return value


async def send(api: httpx2.AsyncClient, shop: Shop, conversation_id: str, **body: Any) -> dict[str, Any]:
    r = await api.post(f"/admin/chats/{conversation_id}/messages", headers=shop.headers, json=body)
    assert r.status_code == 202, r.text
    result: dict[str, Any] = r.json()
    return result


@pytest.mark.parametrize("kind", KINDS)
async def test_a_persons_text_reaches_the_customer_once_and_shows_sent(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    inbound = await customer_writes(shop, control, "¿Hacen envíos?")
    r = await api.post("/admin/whatsapp/send", headers=shop.headers, json={
        "conversation_id": inbound["conversation_id"], "channel_source": "whatsapp",
        "message": "Sí, a todo el país: https://tienda.example/envios"})
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["is_locked"] is True
    message_id = r.json()["message_id"]
    shown = await settled(api, shop, inbound["conversation_id"], message_id)
    assert shown["status"] == "sent" and shown["error"] is None
    [sent] = sent_log(sandbox, shop)
    assert sent["recipient"] == CUSTOMER[kind] and sent["type"] == "text"
    assert sent["request"]["text"] == {"body": "Sí, a todo el país: https://tienda.example/envios",
                                       "preview_url": False}
    assert await provider_id(shop, message_id) == sent["message_id"]  # the wamid, unique per channel
    if kind == "whatsapp_cloud":  # our reference rides along, to recognise our own sends
        assert sent["biz_opaque_callback_data"] == f"tertulia-{message_id}"
    else:
        assert sent["external_id"] == f"tertulia-{message_id}" and sent["endpoint"] == "sendDirectly"


@pytest.mark.parametrize("kind", KINDS)
async def test_files_of_ours_are_uploaded_and_public_ones_go_by_link(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    inbound = await customer_writes(shop, control, "¿Me mandas la foto y el menú?")
    photo, _, _ = sample("image")
    await out_app.state.store.put(f"media/{shop.tenant_id}/pastel.png", photo)
    image = await send(api, shop, inbound["conversation_id"], message="El pastel de fresas",
                       attachments=[{"type": "image", "url": f"/media/{shop.tenant_id}/pastel.png"}])
    menu = await send(api, shop, inbound["conversation_id"],
                      attachments=[{"type": "document", "url": "https://cafe.example/menu.pdf", "filename": "menu.pdf"}])
    for result in (image, menu):
        assert (await settled(api, shop, inbound["conversation_id"], result["message_id"]))["status"] == "sent"
    first, second = sent_log(sandbox, shop)
    assert first["type"] == "image" and first["request"]["image"]["caption"] == "El pastel de fresas"
    uploaded = sandbox.state.media[first["request"]["image"]["id"]]  # uploaded through the media API
    assert uploaded.data == photo and uploaded.channel_key == shop.key
    assert second["type"] == "document"
    assert second["request"]["document"] == {"link": "https://cafe.example/menu.pdf", "filename": "menu.pdf"}
    assert image["message"]["kind"] == "image" and menu["message"]["kind"] == "document"


async def test_a_reply_quotes_the_customers_message(api: httpx2.AsyncClient, control: httpx2.AsyncClient,
                                                    sandbox: SandboxServer, out_app: Any,
                                                    out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    inbound = await customer_writes(shop, control, "¿El pedido 1042 ya salió?")
    reply = await send(api, shop, inbound["conversation_id"], message="Sí, sale hoy.",
                       reply_to_id=inbound["message_id"])
    assert reply["message"]["reply_to_id"] == inbound["message_id"]
    await settled(api, shop, inbound["conversation_id"], reply["message_id"])
    [sent] = sent_log(sandbox, shop)
    assert sent["context_id"] == inbound["wamid"] and sent["request"]["context"] == {"message_id": inbound["wamid"]}
    # A message of another conversation cannot be quoted.
    other = await customer_writes(shop, control, "Hola", customer="34600999888")
    r = await api.post(f"/admin/chats/{other['conversation_id']}/messages", headers=shop.headers,
                       json={"message": "x", "reply_to_id": inbound["message_id"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "reply_not_found"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_long_ai_reply_leaves_as_bubbles_in_order_with_typing(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, fake_openai: FakeOpenAIServer, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    r = await api.post("/admin/assistants", headers=shop.headers, json={
        "name": "Nora", "debounce_seconds": 0, "provider": "openai", "model": "m", "base_url": fake_openai.base_url})
    assert r.status_code == 201, r.text
    assert (await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers,
                            json={"assistant_id": r.json()["id"]})).status_code == 200
    paragraphs = ["Claro, te cuento cómo funcionan los envíos. " * 7, "Los pedidos salen en 24 horas. " * 10,
                  "Si quieres, te aviso cuando salga el tuyo. " * 7]  # ~300 characters each
    fake_openai.reply("\n\n".join(p.strip() for p in paragraphs))
    inbound = await customer_writes(shop, control, "¿Cómo funcionan los envíos?")

    def bubbles() -> list[dict[str, Any]]:
        return [m for m in sent_log(sandbox, shop) if m["type"] == "text"]

    sent = await eventually(lambda: len(bubbles()) >= 3 and bubbles(), within=15, what="three bubbles")
    assert len(sent) == 3 and all(len(m["text"]) <= 400 for m in sent)
    assert " ".join(m["text"] for m in sent).split() == " ".join(p.strip() for p in paragraphs).split()
    gaps = [b["monotonic"] - a["monotonic"] for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= SPACING, gaps  # spaced like a person typing
    # "typing…" was shown before the bubbles (Meta: with the customer's message marked read)
    typing = [a for a in sandbox.state.actions if a["channel"] == shop.key and a["action"] == "typing"]
    assert len(typing) >= 3 and typing[0]["message_id"] == inbound["wamid"]
    # The inbox: three messages of the AI under one correlation id, the trace pointing at the first.
    messages = (await api.get(f"/admin/chats/{inbound['conversation_id']}/messages", headers=shop.headers)).json()
    ai = [m for m in messages if m["author"] == "ai"]
    assert len(ai) == 3 and len({m["correlation_id"] for m in ai}) == 1
    assert [m["content"] for m in ai] == [m["text"] for m in sent]
    trace = (await api.get(f"/admin/logs/ai/{ai[0]['correlation_id']}", headers=shop.headers)).json()
    assert trace["reply_message_id"] == ai[0]["id"]


async def test_the_api_channel_posts_each_message_signed_and_without_a_url_it_is_sent_at_once(
        api: httpx2.AsyncClient, out_app: Any, out_receiver: Receiver) -> None:
    import hashlib
    import hmac
    import json

    from tertulia.conversations.inbound import InboundDelivery
    from tertulia.conversations.schemas import InboundContact, InboundMessage

    shop = await make_shop(out_app, None, "api", out_receiver)
    stored = await out_app.state.inbound_writer.submit(InboundDelivery(shop.channel_id, InboundMessage(
        external_message_id="m-1", contact=InboundContact(external_id="cliente-7"), content="Hola")))
    conv = str(stored.conversation_id)
    # No outbound URL: the integrator reads messages through the API; nothing stays queued.
    first = await send(api, shop, conv, message="Sin URL")
    assert (await settled(api, shop, conv, first["message_id"]))["status"] == "sent"
    # With a URL (loopback, allowed to the tests) and a secret: a signed POST per message.
    r = await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers, json={
        "outbound_url": out_receiver.url(f"in-{shop.tenant_id}"), "credentials": {"outbound_secret": "s3cret-firma"}})
    assert r.status_code == 200 and r.json()["outbound_url"].endswith(f"in-{shop.tenant_id}"), r.text
    out_receiver.answers[f"/in-{shop.tenant_id}"] = [503]  # one passing failure: tried again
    second = await send(api, shop, conv, message="Con URL")
    shown = await settled(api, shop, conv, second["message_id"])
    assert shown["status"] == "sent"
    posts = out_receiver.posts(f"in-{shop.tenant_id}")
    assert len(posts) == 2 and posts[0].body == posts[1].body
    post = posts[-1]
    assert post.headers["x-tertulia-signature"] == "sha256=" + hmac.new(b"s3cret-firma", post.body,
                                                                         hashlib.sha256).hexdigest()
    body = json.loads(post.body)
    assert body["message"]["content"] == "Con URL" and body["recipient"] == {"external_id": "cliente-7"}
    assert body["conversation_id"] == conv and post.headers["x-tertulia-message-id"] == str(second["message_id"])
    # A URL the fence refuses is refused when saved.
    bad = await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers,
                          json={"outbound_url": "http://10.0.0.8/hook"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "url_not_allowed"
