"""Nora's turns that the demo has her write at loading (content.NORA): the offline assistant run
through the real orchestrator, so their traces have real sources and steps, and one ends in a
handoff whose brief the summary shows."""

from __future__ import annotations

from typing import Any

import httpx2

from tertulia.demo.tenant import DEMO_EMAIL, DEMO_PASSWORD
from tests.demo.test_tenant import _ensure_demo, _login


async def _conversation(client: httpx2.AsyncClient, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = (await client.get("/admin/chats/summary", params={"limit": 100})).json()
    row = next(r for r in rows if r["display_name"] == name)
    return row, (await client.get(f"/admin/chats/{row['id']}/messages", params={"limit": 100})).json()


async def test_noras_answers_come_from_her_knowledge_with_their_sources(client: httpx2.AsyncClient, app: Any) -> None:
    await _ensure_demo(app)
    await _login(client)
    _, messages = await _conversation(client, "Sofía Navarro")
    replies = [m for m in messages if m["author"] == "ai"]
    assert len(replies) == 2
    assert "los domingos de 8:00 a 15:00" in replies[0]["content"] and "«Horario y ubicación»" in replies[0]["content"]
    assert "último sábado de cada mes" in replies[1]["content"]
    for reply in replies:
        trace = (await client.get(f"/admin/logs/ai/{reply['correlation_id']}")).json()
        assert trace["outcome"] == "sent" and trace["output"] == reply["content"]
        assert [s["type"] for s in trace["steps"]] == ["model", "tool", "model"]
        search = trace["steps"][1]
        assert search["name"] == "search_knowledge" and search["result"]["results"]
        assert trace["sources"] and all(s["title"] and s["content"] for s in trace["sources"])
        assert "Customer: Sofía Navarro (+525530091176)" in trace["input_messages"][0]["content"]


async def test_a_handoff_at_loading_leaves_its_note_its_trace_and_the_summarys_brief(
        client: httpx2.AsyncClient, app: Any) -> None:
    await _ensure_demo(app)
    await _login(client)
    # A complaint: handed to the team at once, without looking anything up.
    row, messages = await _conversation(client, "Héctor Ruiz")
    assert row["is_locked"] is True  # the team's now
    assert [m["author"] for m in messages] == ["contact", "ai", "contact", "ai", "system", "contact"]
    assert messages[1]["content"].startswith("¡Hola! Soy Nora.")
    note = messages[4]["content"]
    assert note.startswith("La IA pasó la conversación a una persona: El cliente tiene una queja o un problema "
                           "con un pedido o un pago: «Mi pedido #2231")
    trace = (await client.get(f"/admin/logs/ai/{messages[3]['correlation_id']}")).json()
    assert trace["outcome"] == "handoff" and [s.get("name") for s in trace["steps"]] == [None, "handoff_to_human"]
    summary = (await client.get(f"/admin/chats/{row['id']}/summary")).json()
    assert summary["handoff_brief"].startswith("La IA pasó la conversación a una persona: El cliente tiene una queja")
    assert summary["control"] == "Ahora atiende una persona del equipo; la IA no responde."

    # An order the knowledge cannot take: looked up, nothing that answers it, handed over with what she
    # tried; the owner then takes the order.
    row, messages = await _conversation(client, "María Fernanda López")
    authors = [m["author"] for m in messages]
    assert authors == ["contact", "contact", "ai", "contact", "ai", "contact", "contact", "ai", "system", "human",
                       "contact"]
    assert "dos kilos para unas 18 a 20" in messages[4]["content"]
    trace = (await client.get(f"/admin/logs/ai/{messages[7]['correlation_id']}")).json()
    assert trace["outcome"] == "handoff" and trace["steps"][1]["name"] == "search_knowledge"
    summary = (await client.get(f"/admin/chats/{row['id']}/summary")).json()
    assert summary["handoff_brief"].startswith("La IA pasó la conversación a una persona: No encontré información "
                                               "sobre «De dos kilos")
    assert "Buscó en la base de conocimiento «De dos kilos" in summary["handoff_brief"]


# What the demo's AI replies reached when every one became a real run (none scripted): replies,
# answers quoting a knowledge entry they retrieved, and handoffs with their brief.
REAL_RUN_REPLIES = 72
ANSWERS_FROM_KNOWLEDGE = 40
HANDOFFS = 14


async def test_every_ai_reply_of_the_demo_is_a_real_run(client: httpx2.AsyncClient, app: Any) -> None:
    """Counts the demo's AI replies made by the orchestrator with the offline assistant. A reply is
    a real run when its trace is the run's own (the model's steps, the knowledge searched for real
    and its sources) and running the assistant again now on the conversation its trace saw
    (`POST /admin/assistants/{id}/try`) gives the same answer, or the same handoff: no scripted
    text passes that."""
    await _ensure_demo(app)
    login = await client.post("/api/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    nora = next(a for a in (await client.get("/admin/assistants")).json() if a["name"] == "Nora")
    rows = (await client.get("/admin/chats/summary", params={"limit": 100})).json()
    replies = real = answers = handoffs = 0
    for row in rows:
        messages = (await client.get(f"/admin/chats/{row['id']}/messages", params={"limit": 100})).json()
        for i, m in enumerate(messages):
            if m["author"] != "ai":
                continue
            replies += 1
            trace = (await client.get(f"/admin/logs/ai/{m['correlation_id']}")).json()
            steps = trace["steps"]
            if trace["provider"] != "offline" or not steps or steps[0]["type"] != "model":
                continue
            searches = [s for s in steps if s.get("name") == "search_knowledge"]
            found = [r["chunk_id"] for s in searches for r in s["result"]["results"]]
            if sorted(s["chunk_id"] for s in trace["sources"]) != sorted(set(found)):
                continue  # sources that no search of the run returned
            conversation = [{"role": t["role"], "content": t["content"]} for t in trace["input_messages"][1:]]
            again = await client.post(f"/admin/assistants/{nora['id']}/try", json={"messages": conversation},
                                    headers=csrf)
            assert again.status_code == 200, again.text
            if trace["outcome"] == "sent" and trace["output"] == m["content"] == steps[-1]["text"] == \
                    again.json()["reply"]:
                real += 1
                # An answer quotes an entry the run retrieved, and names it.
                answers += bool(searches) and any(f"«{s['title']}»" in m["content"] for s in trace["sources"])
            elif trace["outcome"] == "handoff" and steps[-1]["name"] == "handoff_to_human" and \
                    again.json()["handoff_reason"] == trace["error"] and m["content"] == nora["handoff_message"]:
                note = messages[i + 1]
                assert note["author"] == "system" and trace["error"] in note["content"]
                real += 1
                handoffs += 1
    assert real == replies, f"{replies - real} of {replies} AI replies are not real runs"
    assert replies >= REAL_RUN_REPLIES and answers >= ANSWERS_FROM_KNOWLEDGE and handoffs >= 1, \
        (replies, answers, handoffs)
    assert handoffs <= HANDOFFS, handoffs  # more would mean the assistant stopped answering what it knows
