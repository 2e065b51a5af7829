"""WhatsApp's 24-hour window, by the provider's timestamp of the customer's last message: free-form
messages to a closed window are refused naming the templates to send instead, the AI does not
answer, templates still go, and the inbox sees when the window closes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import select

from tertulia.assistants.models import AiTrace
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, customer_writes, eventually, make_shop, sent_log
from tests.fakes.openai_server import FakeOpenAIServer


async def test_a_closed_window_refuses_free_text_naming_the_templates_and_a_template_still_goes(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    assert (await api.post("/admin/templates/sync", headers=shop.headers)).status_code == 200
    wrote = datetime.now(UTC) - timedelta(hours=25)  # a webhook delayed by a day: the customer's own time counts
    conv = (await customer_writes(shop, control, "¿Siguen abiertos?", at=wrote))["conversation_id"]
    chat = (await api.get(f"/admin/chats/{conv}", headers=shop.headers)).json()
    closes = datetime.fromisoformat(chat["window_open_until"])
    assert abs((closes - (wrote + timedelta(hours=24))).total_seconds()) < 1 and closes < datetime.now(UTC)
    for url, body in ((f"/admin/chats/{conv}/messages", {"message": "¡Sí!"}),
                      ("/admin/whatsapp/send", {"conversation_id": conv, "message": "¡Sí!",
                                                "channel_source": "whatsapp"})):
        r = await api.post(url, headers=shop.headers, json=body)
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "window_closed"
        assert {(t["name"], t["language"]) for t in error["templates"]} == {("hello_world", "en_US"),
                                                                          ("recordatorio_cita", "es"),
                                                                          ("oferta_temporada", "es")}
        assert "recordatorio_cita (es)" in error["message"]
    messages = (await api.get(f"/admin/chats/{conv}/messages", headers=shop.headers)).json()
    assert [m["author"] for m in messages] == ["contact"]  # nothing was queued
    template = next(t for t in error["templates"] if t["name"] == "recordatorio_cita")
    r = await api.post("/admin/templates/send", headers=shop.headers, json={
        "conversation_id": conv, "template_id": template["id"], "parameters": ["Lucía", "martes a las 10:00"]})
    assert r.status_code == 202, r.text
    await eventually(lambda: sent_log(sandbox, shop), what="the template")
    assert sent_log(sandbox, shop)[0]["type"] == "template"


async def test_an_open_window_says_when_it_closes(api: httpx2.AsyncClient, control: httpx2.AsyncClient,
                                                  sandbox: SandboxServer, out_app: Any,
                                                  out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "ycloud", out_receiver)
    wrote = datetime.now(UTC) - timedelta(hours=3)
    conv = (await customer_writes(shop, control, "Hola", at=wrote))["conversation_id"]
    [row] = (await api.get("/admin/chats/summary", headers=shop.headers)).json()
    assert row["id"] == conv
    closes = datetime.fromisoformat(row["window_open_until"])
    assert abs((closes - (wrote + timedelta(hours=24))).total_seconds()) < 1
    r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers, json={"message": "¡Hola!"})
    assert r.status_code == 202, r.text


async def test_the_ai_does_not_answer_a_closed_window(api: httpx2.AsyncClient, control: httpx2.AsyncClient,
                                                      sandbox: SandboxServer, out_app: Any, out_receiver: Receiver,
                                                      fake_openai: FakeOpenAIServer) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    r = await api.post("/admin/assistants", headers=shop.headers, json={
        "name": "Nora", "debounce_seconds": 0, "provider": "openai", "model": "m", "base_url": fake_openai.base_url})
    assert (await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers,
                            json={"assistant_id": r.json()["id"]})).status_code == 200
    fake_openai.reply("Esta respuesta no debería generarse.")
    late = await customer_writes(shop, control, "¿Tienen mesa?", at=datetime.now(UTC) - timedelta(hours=30))

    async def trace() -> AiTrace | None:
        async with shop.db.read_session(shop.tenant_id) as session:
            return (await session.execute(select(AiTrace).where(
                AiTrace.tenant_id == shop.tenant_id,
                AiTrace.conversation_id == uuid.UUID(late["conversation_id"])))).scalars().first()

    found = await eventually(trace, what="the turn's trace")
    assert found.outcome == "superseded" and "24-hour window" in (found.error or "")
    assert fake_openai.requests == []  # no model call was spent on it
    assert sent_log(sandbox, shop) == []
