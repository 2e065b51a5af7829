"""Nora, the demo tenant's assistant, answers Café Aurora's customers offline."""

from __future__ import annotations

from typing import Any

from tertulia.demo.assistant import ensure_demo_assistant
from tests.assistants.conftest import ai_messages, wait_until
from tests.helpers import post_inbound


async def test_demo_nora_answers_from_the_cafes_knowledge(client: Any, make_tenant: Any, db: Any) -> None:
    t = await make_tenant("demo-nora")
    async with db.session(t.id) as session:
        nora = await ensure_demo_assistant(session, t.id)
        nora.debounce_seconds = 0
    async with db.session(t.id) as session:  # idempotent: a second call adds nothing
        assert (await ensure_demo_assistant(session, t.id)).id == nora.id
    assistants = (await client.get("/admin/assistants", headers=t.headers)).json()
    assert len(assistants) == 1 and assistants[0]["provider"] == "offline" and assistants[0]["language"] == "es"
    assert assistants[0]["knowledge_count"] >= 8 and assistants[0]["channel_ids"] == [str(t.channel_id)]

    conv = (await post_inbound(client, t, "¿A qué hora abren los domingos?")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="Nora's reply"))[0]["content"]
    assert "domingos de 8:00 a 15:00" in reply and "Horario y ubicación" in reply

    conv = (await post_inbound(client, t, "¿tienen leche de avena?", external_id="c2")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="Nora's reply"))[0]["content"]
    assert "avena" in reply and "$10" in reply
