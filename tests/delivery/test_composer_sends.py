"""What the composer sends through the delivery worker to the provider sandbox: a file uploaded with
POST /admin/media reaches the customer; a private note never leaves."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from tertulia.delivery.models import OutboundDelivery
from tertulia.sandbox.samples import sample
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, customer_writes, make_shop, sent_log, settled


@pytest.mark.parametrize("kind", ["whatsapp_cloud", "ycloud"])
async def test_the_delivery_worker_never_sends_a_note(api: httpx2.AsyncClient, control: httpx2.AsyncClient,
                                                      sandbox: SandboxServer, out_app: Any, out_receiver: Receiver,
                                                      kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    inbound = await customer_writes(shop, control, "¿Me mandan factura?")
    conv = inbound["conversation_id"]
    r = await api.post(f"/admin/chats/{conv}/notes", headers=shop.headers, json={"content": "Cliente moroso: cobrar antes"})
    assert r.status_code == 201, r.text
    note_id = r.json()["id"]
    r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers, json={"message": "Sí, hoy mismo."})
    assert r.status_code == 202, r.text
    # The message written after the note is sent: the worker has been through the conversation.
    assert (await settled(api, shop, conv, r.json()["message_id"]))["status"] == "sent"
    sent = sent_log(sandbox, shop)
    assert [m["request"].get("text", {}).get("body") for m in sent] == ["Sí, hoy mismo."]
    assert "moroso" not in repr(sent)
    async with shop.db.read_session(shop.tenant_id) as session:
        queued = (await session.execute(select(OutboundDelivery.message_id).where(
            OutboundDelivery.tenant_id == shop.tenant_id))).scalars().all()
    assert note_id not in queued
    retry = await api.post(f"/admin/messages/{note_id}/retry", headers=shop.headers)
    assert retry.status_code == 409  # a note is nothing to send, even on request


@pytest.mark.parametrize("kind", ["whatsapp_cloud", "ycloud"])
async def test_a_photo_uploaded_in_the_composer_reaches_the_customer(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    inbound = await customer_writes(shop, control, "¿Me mandas una foto del pastel?")
    photo, mime, _ = sample("image")
    r = await api.post("/admin/media", headers=shop.headers, files={"file": ("pastel.png", photo, mime)})
    assert r.status_code == 201, r.text
    media = r.json()
    r = await api.post(f"/admin/chats/{inbound['conversation_id']}/messages", headers=shop.headers, json={
        "message": "Recién hecho", "attachments": [{"type": media["type"], "media_id": media["id"]}]})
    assert r.status_code == 202, r.text
    shown = await settled(api, shop, inbound["conversation_id"], r.json()["message_id"])
    assert shown["status"] == "sent" and shown["attachments"][0]["url"] == media["url"]
    [sent] = sent_log(sandbox, shop)
    assert sent["type"] == "image" and sent["request"]["image"]["caption"] == "Recién hecho"
    uploaded = sandbox.state.media[sent["request"]["image"]["id"]]  # through the provider's media API
    assert uploaded.data == photo and uploaded.channel_key == shop.key
