"""Every kind of WhatsApp message a customer can send, through each provider's signed webhook, as
the inbox shows it."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.channels.conftest import connect, conversation_of, customer_writes, messages_of
from tests.realtime.conftest import LiveServer

PROVIDERS = ["whatsapp_cloud", "ycloud"]


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_every_kind_of_message_reads_as_the_customer_meant_it(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer,
        make_tenant: Any) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    first = await customer_writes(http, ch, text="Hola", name="Marta Gil", user_id="ES.1234567890abcdef")
    media: dict[str, str] = {}

    async def write(**spec: Any) -> None:
        sent = await customer_writes(http, ch, **spec)
        if sent["media_id"]:
            media[spec.get("caption") or spec["type"]] = sent["media_id"]

    await write(type="image", caption="mi pedido")
    await write(type="video")
    await write(type="audio")
    await write(type="voice")
    await write(type="document", caption="la factura", filename="factura-0042.pdf")
    await write(type="sticker")
    await write(type="location", latitude=40.4168, longitude=-3.7038, location_name="Café Aurora",
                address="Calle Mayor 1, Madrid")
    await write(type="contacts", contacts=[{"name": "Ana Pérez", "phone": "+34 600 000 001"}])
    await write(type="button_reply", reply_id="yes-1", reply_title="Sí, confirmo")
    await write(type="list_reply", reply_id="row-7", reply_title="Envío urgente", description="24 h")
    await write(type="button", payload="STOP_PROMOS", reply_title="No más ofertas")
    await write(type="unsupported", text="poll")
    await write(type="text", text="¿Y esto?", context=first["message_id"])
    await write(type="text", text="Vengo del anuncio", referral={"headline": "Oferta de temporada",
                                                                 "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ"})

    shown = await messages_of(client, ch)
    by_content = {m["content"]: m for m in shown}
    assert len(shown) == 15 and all(m["author"] == "contact" for m in shown)
    conv = await conversation_of(client, ch)
    assert conv["display_name"] == "Marta Gil" and conv["unread_count"] == 15

    image = by_content["mi pedido"]
    assert image["kind"] == "image"
    assert image["attachments"] == [{"type": "image", "provider_media_id": media["mi pedido"],
                                     "mime_type": "image/png", "status": "pending"}]  # fetched by the media worker
    kinds = [(m["kind"], [(a["type"], a.get("voice"), a.get("sticker")) for a in m["attachments"]]) for m in shown[2:7]]
    assert kinds == [("video", [("video", None, None)]), ("audio", [("audio", None, None)]),
                     ("voice", [("audio", True, None)]), ("document", [("document", None, None)]),
                     ("sticker", [("image", None, True)])]
    document = by_content["la factura"]
    assert document["attachments"][0]["filename"] == "factura-0042.pdf"
    assert document["attachments"][0]["provider_media_id"] == media["la factura"]
    assert all(m["attachments"][0]["status"] == "pending" for m in shown[1:7])

    location = shown[7]
    assert location["kind"] == "location"
    assert location["content"] == ("📍 Café Aurora · Calle Mayor 1, Madrid · "
                                   "https://www.openstreetmap.org/?mlat=40.4168&mlon=-3.7038")
    assert location["extra"]["location"] == {"latitude": 40.4168, "longitude": -3.7038, "name": "Café Aurora",
                                             "address": "Calle Mayor 1, Madrid"}
    contacts = shown[8]
    assert contacts["kind"] == "contacts" and contacts["content"] == "👤 Ana Pérez (+34 600 000 001)"
    assert contacts["extra"]["contacts"][0]["phones"][0]["wa_id"] == "34600000001"

    button = by_content["Sí, confirmo"]
    assert button["kind"] == "interactive"
    assert button["extra"]["reply"] == {"type": "button_reply", "id": "yes-1", "title": "Sí, confirmo"}
    row = by_content["Envío urgente"]
    assert row["extra"]["reply"] == {"type": "list_reply", "id": "row-7", "title": "Envío urgente",
                                     "description": "24 h"}
    template_button = by_content["No más ofertas"]
    assert template_button["kind"] == "button"
    assert template_button["extra"]["reply"] == {"type": "button", "payload": "STOP_PROMOS", "text": "No más ofertas"}

    unsupported = shown[12]
    assert unsupported["kind"] == "unsupported" and "(poll)" in unsupported["content"]
    assert unsupported["extra"]["unsupported"]["type"] == "poll"

    reply = by_content["¿Y esto?"]
    assert reply["reply_to_id"] == shown[0]["id"]  # the quoted message, ours
    ad = by_content["Vengo del anuncio"]
    assert ad["extra"]["referral"]["headline"] == "Oferta de temporada"
    assert ad["extra"]["referral"]["ctwa_clid"] == "ARAkLkA8rmlFeiCktEJQ"


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_customer_is_one_person_by_phone_and_by_user_id(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer,
        make_tenant: Any) -> None:
    """WhatsApp's business-scoped user id (BSUID) and the phone name the same person: a conversation
    found by either is theirs."""
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    await customer_writes(http, ch, text="sin user id", name="Pau")
    await customer_writes(http, ch, text="con user id", user_id="ES.9f8e7d6c5b4a")
    conv = await conversation_of(client, ch)
    assert conv["customer_phone"] == "+34600111222" and conv["unread_count"] == 2
    contact = (await client.get(f"/admin/contacts/{conv['contact_id']}", headers=ch.tenant.headers)).json()
    assert contact["display_name"] == "Pau"


async def test_forwarded_messages_and_timestamps_come_from_the_provider(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any) -> None:
    import time

    from tests.channels.conftest import meta_envelope, meta_message, post_signed

    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud", register=False)
    written = int(time.time()) - 3600
    payload = meta_envelope(ch, {
        "contacts": [{"profile": {"name": "Leo"}, "user_id": "ES.abcdef123456"}],  # a username, no phone
        "messages": [{**meta_message("wamid.FWD", "text", {"body": "mira esto"}, sender="",
                                     context={"forwarded": True}),
                      "from": None, "from_user_id": "ES.abcdef123456", "timestamp": str(written)}]})
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, ch, payload)).status_code == 200
    [message] = await messages_of(client, ch)
    assert message["extra"] == {"forwarded": True}
    assert int(__import__("datetime").datetime.fromisoformat(message["timestamp"]).timestamp()) == written
    conv = await conversation_of(client, ch)
    assert conv["display_name"] == "Leo" and conv["customer_phone"] == ""
