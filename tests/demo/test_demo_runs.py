"""Nora's turns that the demo has her write at loading (content.NORA): the offline assistant run
through the real orchestrator, so their traces have real sources and steps, and one ends in a
handoff whose brief the summary shows."""

from __future__ import annotations

from typing import Any

import httpx2

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
    row, messages = await _conversation(client, "Héctor Ruiz")
    assert row["is_locked"] is True  # the team's now
    assert [m["author"] for m in messages] == ["contact", "ai", "contact", "ai", "system", "contact"]
    assert messages[1]["content"].startswith("¡Hola! Soy Nora.")
    note = messages[4]["content"]
    assert note.startswith("La IA pasó la conversación a una persona: No encontré información sobre «Mi pedido #2231")
    trace = (await client.get(f"/admin/logs/ai/{messages[3]['correlation_id']}")).json()
    assert trace["outcome"] == "handoff" and trace["steps"][-1]["name"] == "handoff_to_human"
    assert trace["steps"][1]["name"] == "search_knowledge"
    summary = (await client.get(f"/admin/chats/{row['id']}/summary")).json()
    assert summary["handoff_brief"].startswith("La IA pasó la conversación a una persona: No encontré información")
    assert "Buscó en la base de conocimiento «Mi pedido #2231" in summary["handoff_brief"]
    assert summary["control"] == "Ahora atiende una persona del equipo; la IA no responde."
