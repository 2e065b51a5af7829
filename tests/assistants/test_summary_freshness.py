"""The summary is never stale: who has the conversation is said as it is at each request (a
takeover shows at once, with the person's name), and a new message makes a new summary."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.assistants.conftest import add_knowledge, ai_messages, make_assistant, wait_until
from tests.helpers import post_inbound


async def test_a_takeover_and_a_new_message_show_in_the_summary_at_once(client: Any, make_tenant: Any,
                                                                         app: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "Cambios de dirección", "Puedes cambiar la dirección de entrega de un "
                        "pedido hasta que salga del almacén: escríbenos el número de pedido y la nueva dirección.")
    conv = (await post_inbound(client, t, "Quiero cambiar la dirección de entrega del pedido 77.",
                               name="Lupita")).json()["conversation_id"]
    await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    url = f"/admin/chats/{conv}/summary"
    stored = (await client.post(url, headers=t.headers)).json()  # stored: kept while no message comes
    assert "«Quiero cambiar la dirección de entrega del pedido 77.»" in stored["summary"]
    assert stored["summary"].endswith("Ahora responde la IA (Nora).") and stored["control"] == (
        "Ahora responde la IA (Nora).")

    r = await client.post("/admin/members", headers=t.headers,
                          json={"email": f"agent@{t.slug}.test", "password": "agent-pass-123", "role": "agent",
                                "display_name": "Ana Ruiz"})
    assert r.status_code == 201, r.text
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as ana:
        login = await ana.post("/api/auth/login", json={"email": f"agent@{t.slug}.test", "password": "agent-pass-123"})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        taken = await ana.post(f"/admin/conversations/{conv}/human-override", json={"locked": True}, headers=csrf)
        assert taken.status_code == 200, taken.text
        after_takeover = (await client.get(url, headers=t.headers)).json()
        assert after_takeover["summary"].endswith("Ahora atiende una persona del equipo; la IA no responde.")
        assert after_takeover["message_count"] == stored["message_count"]  # nothing new was said
        sent = await ana.post(f"/admin/chats/{conv}/messages", headers=csrf,
                              json={"message": "Hola Lupita, soy Ana. Te cambio la dirección ahora mismo."})
        assert sent.status_code in (200, 201, 202), sent.text
    after_reply = (await client.get(url, headers=t.headers)).json()
    assert after_reply["control"] == "Ahora atiende Ana Ruiz; la IA no responde."
    assert "«Te cambio la dirección ahora mismo.»" in after_reply["summary"]
    assert after_reply["message_count"] == stored["message_count"] + 1

    await post_inbound(client, t, "¿Me podéis mandar el nuevo número de seguimiento?", name="Lupita")
    newest = (await client.get(url, headers=t.headers)).json()
    assert "Pendiente de responder: «¿Me podéis mandar el nuevo número de seguimiento?»" in newest["summary"]
    back = await client.post(f"/admin/conversations/{conv}/human-override", json={"locked": False}, headers=t.headers)
    assert back.status_code == 200
    assert (await client.get(url, headers=t.headers)).json()["control"] == "Ahora responde la IA (Nora)."
