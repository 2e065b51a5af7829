"""The assistant's admin API: assistants, knowledge, traces, summaries and /mcp/invoke, with
tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx2
from structlog.testing import capture_logs

from tertulia.assistants.providers.base import ToolSpec
from tertulia.assistants.tools import EXTRA_TOOLS, Tool
from tests.assistants.conftest import add_knowledge, ai_messages, make_assistant, messages_of, wait_until
from tests.helpers import post_inbound


async def test_assistant_crud_keeps_the_api_key_write_only(client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    r = await client.post("/admin/assistants", json={
        "name": "Nora", "provider": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:11434/v1/",
        "api_key": "sk-secret-123", "temperature": 0.2, "max_output_tokens": 300}, headers=t.headers)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["has_api_key"] is True and "api_key" not in a and "sk-secret-123" not in r.text
    assert a["language"] == "es" and a["debounce_seconds"] == 3 and a["enabled"] is True
    assert a["base_url"] == "http://127.0.0.1:11434/v1" and "search_knowledge" in a["enabled_tools"]
    assert a["handoff_message"]  # a default in the assistant's language
    r = await client.patch(f"/admin/assistants/{a['id']}", json={"api_key": None, "language": "en",
                                                                 "enabled_tools": ["add_tag", "mcp__crm__*"]},
                           headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["has_api_key"] is False and r.json()["language"] == "en"
    assert r.json()["enabled_tools"] == ["add_tag", "mcp__crm__*"]
    listed = (await client.get("/admin/assistants", headers=t.headers)).json()
    assert [x["id"] for x in listed] == [a["id"]]
    assert (await client.delete(f"/admin/assistants/{a['id']}", headers=t.headers)).status_code == 204
    assert (await client.get(f"/admin/assistants/{a['id']}", headers=t.headers)).status_code == 404


async def test_bad_assistant_input_is_a_clear_4xx(client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    cases = [
        ({"name": "X", "provider": "llama"}, "provider"),
        ({"name": "X", "provider": "openai"}, "model"),
        ({"name": "X", "base_url": "ftp://example"}, "base_url"),
        ({"name": "X", "enabled_tools": ["delete_everything"]}, "unknown tool"),
        ({"name": "X", "language": "spanish"}, "language"),
        ({"name": "X", "debounce_seconds": -1}, "debounce_seconds"),
        ({"name": ""}, "name"),
    ]
    for body, expected in cases:
        r = await client.post("/admin/assistants", json=body, headers=t.headers)
        assert r.status_code == 422, (body, r.text)
        assert expected in r.json()["error"]["message"], (body, r.text)


async def test_channels_link_only_their_own_tenants_assistant(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    mine = await make_assistant(client, t, link=False)
    theirs = await make_assistant(client, other, link=False)
    r = await client.patch(f"/admin/channels/{t.channel_id}", json={"assistant_id": theirs["id"]}, headers=t.headers)
    assert r.status_code == 404
    r = await client.patch(f"/admin/channels/{t.channel_id}", json={"assistant_id": mine["id"]}, headers=t.headers)
    assert r.status_code == 200 and r.json()["assistant_id"] == mine["id"]
    assert (await client.get(f"/admin/assistants/{mine['id']}", headers=t.headers)).json()["channel_ids"] == [
        str(t.channel_id)]
    assert (await client.get(f"/admin/assistants/{theirs['id']}", headers=t.headers)).status_code == 404
    # Deleting the assistant leaves the channel without one (humans answer).
    assert (await client.delete(f"/admin/assistants/{mine['id']}", headers=t.headers)).status_code == 204
    assert (await client.get(f"/admin/channels/{t.channel_id}", headers=t.headers)).json()["assistant_id"] is None


async def test_knowledge_crud_upload_and_search_follow_edits(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    nora = await make_assistant(client, t)
    entry = await add_knowledge(client, t, nora["id"], "Devoluciones", "Aceptamos devoluciones en 15 días.")
    base = f"/admin/assistants/{nora['id']}/knowledge"
    files = {"file": ("garantia.md", "# Garantía\n\nTodos los relojes tienen garantía de un año.".encode(),
                      "text/markdown")}
    r = await client.post(f"{base}/upload", files=files, headers=t.headers)
    assert r.status_code == 201, r.text
    uploaded = r.json()
    assert uploaded["title"] == "Garantía" and uploaded["source_filename"] == "garantia.md"
    r = await client.post(f"{base}/upload", files={"file": ("foto.png", b"\x89PNG....", "image/png")},
                          headers=t.headers)
    assert r.status_code == 415
    r = await client.post(f"{base}/upload", files={"file": ("latin1.txt", "garantía".encode("latin-1"), "text/plain")},
                          headers=t.headers)
    assert r.status_code == 422 and "UTF-8" in r.json()["error"]["message"]
    assert [e["title"] for e in (await client.get(base, headers=t.headers)).json()] == ["Devoluciones", "Garantía"]
    # Another tenant sees none of it.
    assert (await client.get(base, headers=other.headers)).status_code == 404
    assert (await client.patch(f"{base}/{entry['id']}", json={"title": "x"}, headers=other.headers)).status_code == 404

    async def search(q: str) -> Any:
        r = await client.post("/mcp/invoke", json={"tool": "search_knowledge", "args": {"query": q},
                                                   "assistant_id": nora["id"]}, headers=t.headers)
        assert r.status_code == 200, r.text
        return [hit["title"] for hit in r.json()[-1]["metadata"]["result"]["results"]]

    assert await search("garantía del reloj") == ["Garantía"]
    r = await client.patch(f"{base}/{entry['id']}", json={"content": "Cambios de talla sin costo en 30 días."},
                           headers=t.headers)
    assert r.status_code == 200 and r.json()["content"].startswith("Cambios de talla")
    assert await search("talla") == ["Devoluciones"]
    assert await search("devoluciones 15 días") == ["Devoluciones"]  # the title still matches
    assert (await client.delete(f"{base}/{entry['id']}", headers=t.headers)).status_code == 204
    assert await search("talla") == []


async def test_traces_are_tenant_scoped(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "Horario", "Abrimos todos los días de 8:00 a 20:00.")
    conv = (await post_inbound(client, t, "¿horario?")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="the reply"))[0]
    cid = reply["correlation_id"]
    assert (await client.get(f"/admin/logs/ai/{cid}", headers=t.headers)).status_code == 200
    r = await client.get(f"/admin/logs/ai/{cid}", headers=other.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "trace_not_found"
    assert (await client.get(f"/admin/logs/ai/{cid}")).status_code == 401


async def test_summary_is_rolling_and_explains_a_handoff(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "Envíos", "Enviamos a todo el país en 48 horas.")
    conv = (await post_inbound(client, t, "¿Hacen envíos a Mérida?", name="Lupita")).json()["conversation_id"]
    await wait_until(lambda: ai_messages(client, t, conv), what="the reply")
    r = await client.get(f"/admin/chats/{conv}/summary", headers=t.headers)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["message_count"] == 2 and "Lupita" in s["summary"] and "Mérida" in s["summary"]
    assert s["handoff_brief"] is None
    assert (await client.get(f"/admin/chats/{conv}/summary", headers=other.headers)).status_code == 404
    # Stored by the POST: then the same one comes back until a new message makes it stale.
    stored = (await client.post(f"/admin/chats/{conv}/summary", headers=t.headers)).json()
    again = (await client.get(f"/admin/chats/{conv}/summary", headers=t.headers)).json()
    assert again == stored and again["summary"] == s["summary"]
    await post_inbound(client, t, "¿Aceptan pagos con criptomonedas?")  # nothing in the knowledge says

    async def handed_off() -> Any:
        body = (await client.get(f"/admin/chats/{conv}/summary", headers=t.headers)).json()
        return body if body["handoff_brief"] else None

    s2 = await wait_until(handed_off, what="the handoff brief")
    assert s2["message_count"] > s["message_count"]
    assert "criptomonedas" in s2["handoff_brief"] and "base de conocimiento" in s2["handoff_brief"]
    forced = (await client.post(f"/admin/chats/{conv}/summary", headers=t.headers)).json()
    assert forced["generated_at"] >= s2["generated_at"]


async def test_mcp_invoke_runs_a_tool_and_returns_its_events(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    conv = (await post_inbound(client, t, "hola", name="Marta")).json()["conversation_id"]
    r = await client.post("/mcp/invoke", json={"tool": "add_tag", "args": {"name": "VIP", "conversation_id": conv}},
                          headers=t.headers)
    assert r.status_code == 200, r.text
    events = r.json()
    assert events[0]["type"] == "tool_call" and events[-1]["type"] == "assistant_done"
    assert events[-1]["metadata"]["tool"] == "add_tag" and events[-1]["metadata"]["result"]["tag"] == "VIP"
    assert {"tag.created", "contact.updated"} <= {e["type"] for e in events}
    r = await client.post("/mcp/invoke", json={"tool": "update_contact", "conversation_id": conv,
                                               "args": {"name": "Marta Ruiz", "notes": "Prefiere WhatsApp"}},
                          headers=t.headers)
    assert r.status_code == 200 and r.json()[-1]["metadata"]["result"]["name"] == "Marta Ruiz"
    r = await client.post("/mcp/invoke", json={"tool": "remove_tag", "conversation_id": conv,
                                               "args": {"name": "Inexistente"}}, headers=t.headers)
    assert r.status_code == 409 and "no tag named" in r.json()["error"]["message"]
    # Another tenant cannot reach this conversation.
    r = await client.post("/mcp/invoke", json={"tool": "add_tag", "conversation_id": conv, "args": {"name": "X"}},
                          headers=other.headers)
    assert r.status_code == 404
    # A hand-off by hand locks the conversation.
    r = await client.post("/mcp/invoke", json={"tool": "handoff_to_human", "conversation_id": conv,
                                               "args": {"reason": "pide factura"}}, headers=t.headers)
    assert r.status_code == 200 and "conversation.updated" in {e["type"] for e in r.json()}
    msgs = await messages_of(client, t, conv)
    assert msgs[-1]["author"] == "system" and "pide factura" in msgs[-1]["content"]


async def test_mcp_invoke_rejects_unknown_tools_and_bad_arguments(client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    conv = (await post_inbound(client, t, "hola")).json()["conversation_id"]
    r = await client.post("/mcp/invoke", json={"tool": "borrar_todo", "args": {}}, headers=t.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_tool"
    r = await client.post("/mcp/invoke", json={"tool": "add_tag", "conversation_id": conv, "args": {"name": 5}},
                          headers=t.headers)
    assert r.status_code == 422 and "name" in r.json()["error"]["message"]
    r = await client.post("/mcp/invoke", json={"tool": "add_tag", "conversation_id": conv,
                                               "args": {"name": "ok", "extra": 1}}, headers=t.headers)
    assert r.status_code == 422 and "extra" in r.json()["error"]["message"]
    r = await client.post("/mcp/invoke", json={"tool": "add_tag", "args": {"name": "sin conversación"}},
                          headers=t.headers)
    assert r.status_code == 422 and "conversation_id" in r.json()["error"]["message"]
    r = await client.post("/mcp/invoke", json={"tool": "update_contact", "conversation_id": conv, "args": {}},
                          headers=t.headers)
    assert r.status_code == 422
    assert (await client.post("/mcp/invoke", json={"tool": "add_tag"})).status_code == 401


async def test_mcp_invoke_unexpected_failure_is_a_500_that_names_the_tool_only(client: Any, make_tenant: Any) -> None:
    """The exception's text goes to the log, never to the caller (it can hold SQL, ids, paths)."""
    t = await make_tenant()

    async def explode(*_: Any) -> Any:
        raise RuntimeError("the report service is down")

    EXTRA_TOOLS["explota"] = Tool(ToolSpec("explota", "always fails", {"type": "object"}), explode)
    try:
        with capture_logs() as logs:
            r = await client.post("/mcp/invoke", json={"tool": "explota", "args": {}}, headers=t.headers)
    finally:
        EXTRA_TOOLS.pop("explota", None)
    assert r.status_code == 500
    assert r.json()["error"] == {"code": "tool_failed",
                                 "message": "the tool 'explota' failed unexpectedly; the server log has the details"}
    failure = next(e for e in logs if e["event"] == "mcp_tool_call_failed")
    assert failure["tool"] == "explota" and failure.get("exc_info")


async def test_agents_read_traces_and_summaries_but_do_not_manage_assistants(client: Any, make_tenant: Any,
                                                                            app: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "Horario", "Abrimos de 9:00 a 18:00.")
    conv = (await post_inbound(client, t, "¿horario?")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="the reply"))[0]
    r = await client.post("/admin/members", headers=t.headers,
                          json={"email": f"agent@{t.slug}.test", "password": "agent-pass-123", "role": "agent"})
    assert r.status_code == 201, r.text
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as agent:
        login = await agent.post("/api/auth/login", json={"email": f"agent@{t.slug}.test",
                                                          "password": "agent-pass-123"})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert (await agent.get("/admin/assistants")).status_code == 403
        assert (await agent.post("/admin/assistants", json={"name": "X"}, headers=csrf)).status_code == 403
        assert (await agent.get(f"/admin/assistants/{nora['id']}/knowledge")).status_code == 403
        assert (await agent.get(f"/admin/logs/ai/{reply['correlation_id']}")).json()["outcome"] == "sent"
        assert (await agent.get(f"/admin/chats/{conv}/summary")).status_code == 200
        r = await agent.post("/mcp/invoke", json={"tool": "add_tag", "conversation_id": conv,
                                                  "args": {"name": "Seguimiento"}}, headers=csrf)
        assert r.status_code == 200, r.text
