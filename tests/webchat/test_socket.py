"""`/ws/chat` over a real server and socket: who may connect, the first frame, every client frame
and error code, commands, tool runs with their files, the tenant's model, sessions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection

from tertulia.config import Settings
from tests.realtime.conftest import LiveServer
from tests.reports.claims import ORIGINAL_HEADERS, claims_rows, xlsx_bytes
from tests.webchat.conftest import (
    Member,
    close_code,
    frame,
    log_in,
    open_chat,
    says,
    turn,
    upload,
)


async def test_without_a_session_an_error_then_4401(live_server: LiveServer) -> None:
    for cookie in (None, "tertulia_session=not-a-session"):
        ws = await open_chat(live_server, cookie)
        first = await frame(ws)
        assert first["type"] == "error" and first["metadata"]["code"] == "WS_UNAUTHORIZED" and first["content"]
        assert await close_code(ws) == 4401


async def test_origins_other_than_the_panel_or_the_allowed_ones_are_refused(
        live_server: LiveServer, member: Member, settings: Settings) -> None:
    for origin in ("https://evil.example", "null"):
        ws = await open_chat(live_server, member.cookie, origin=origin)
        assert (await frame(ws))["metadata"]["code"] == "WS_UNAUTHORIZED"
        assert await close_code(ws) == 4401
    settings.web_chat_allowed_origins = "https://panel.metrotel.local, https://otro.example"
    try:
        ws = await open_chat(live_server, member.cookie, origin="https://panel.metrotel.local")
        assert (await frame(ws))["type"] == "history_snapshot"
        await ws.close()
    finally:
        settings.web_chat_allowed_origins = ""


async def test_x_test_user_stands_in_for_a_session_only_under_testing(
        live_server: LiveServer, make_tenant: Any, settings: Settings) -> None:
    t = await make_tenant("xtu")
    ws = await open_chat(live_server, headers={"X-Test-User": f"{t.owner_email}:agent"})
    assert (await frame(ws))["type"] == "history_snapshot"
    frames = await turn(ws, {"type": "user_message", "content": "/ayuda"})
    assert frames[-1]["type"] == "assistant_done"
    await ws.close()
    for bad in (f"{t.owner_email}:emperor", "nobody@nowhere.test:owner", "no-role"):
        ws = await open_chat(live_server, headers={"X-Test-User": bad})
        assert (await frame(ws))["metadata"]["code"] == "WS_UNAUTHORIZED"
        assert await close_code(ws) == 4401
    settings.testing = False
    try:
        ws = await open_chat(live_server, headers={"X-Test-User": f"{t.owner_email}:owner"})
        assert (await frame(ws))["metadata"]["code"] == "WS_UNAUTHORIZED"
        assert await close_code(ws) == 4401
    finally:
        settings.testing = True


async def test_bad_frames_get_ws_bad_request_and_the_socket_stays_open(chat: ClientConnection) -> None:
    for raw in ("not json", "[1, 2]", json.dumps({"type": "dance"}), json.dumps({"type": "tool_call"}),
                json.dumps({"type": "user_message", "content": 5})):
        await chat.send(raw)
        got = await frame(chat)
        assert got["type"] == "error" and got["metadata"]["code"] == "WS_BAD_REQUEST", raw
    frames = await turn(chat, {"type": "user_message", "content": "/ayuda"})
    assert frames[-1]["type"] == "assistant_done" and "/repetitividad" in frames[-1]["content"]


async def test_an_empty_message_is_refused_and_stored_with_its_code(
        live_server: LiveServer, member: Member, chat: ClientConnection) -> None:
    frames = await turn(chat, {"type": "user_message", "content": "   ", "attachments": []})
    assert frames == [{"type": "error", "content": frames[0]["content"], "metadata": {"code": "WS_BAD_REQUEST"}}]
    history = await _history(live_server, member)
    assert [(m["role"], m.get("metadata", {}).get("code")) for m in history] == [("user", "WS_BAD_REQUEST")]


async def test_commands_work_without_a_model(chat: ClientConnection) -> None:
    help_frames = await turn(chat, {"type": "user_message", "content": "/ayuda"})
    assert [f["type"] for f in help_frames] == ["assistant_delta", "assistant_done"]
    assert "/repetitividad mes=9 anio=2025" in help_frames[-1]["content"]
    unknown = await turn(chat, {"type": "user_message", "content": "/bailar fuerte"})
    assert "Comando `/bailar` no reconocido" in unknown[-1]["content"] and "/ayuda" in unknown[-1]["content"]
    # Plain text with no model configured: the commands' help, not silence.
    plain = await turn(chat, {"type": "user_message", "content": "Necesito el informe de septiembre"})
    assert "/repetitividad" in plain[-1]["content"] and plain[-1]["metadata"] == {"result": None, "tool": None}


async def test_the_repeat_cases_report_from_an_uploaded_sheet(
        live_server: LiveServer, member: Member, chat: ClientConnection) -> None:
    rows = claims_rows(300, months=(8, 9), services=60)
    uploaded = await upload(live_server, member, "casos septiembre.xlsx", xlsx_bytes(ORIGINAL_HEADERS, rows))
    assert uploaded.status_code == 200, uploaded.text
    path = uploaded.json()["path"]
    frames = await turn(chat, {"type": "user_message", "content": "/repetitividad mes=9 anio=2025",
                               "attachments": [{"name": "casos septiembre.xlsx", "path": path}]})
    streamed = says(frames)
    assert streamed.startswith("↻ Ejecutando GenerarInformeRepetitividad…\n")
    september = [r for r in rows if r[4].month == 9]
    services = {r[1] for r in september}
    repeating = {s for s in services if sum(1 for r in september if r[1] == s) >= 2}
    assert (f"Servicios analizados: {len(services)} | Servicios con repetitividad: {len(repeating)} "
            f"({100 * len(repeating) / len(services):.1f} %)") in streamed
    done = frames[-1]
    assert done["type"] == "assistant_done" and done["metadata"]["tool"] == "GenerarInformeRepetitividad"
    result = done["metadata"]["result"]
    assert result["status"] == "ok"
    prefix = f"/reports/{member.tenant.id}/"
    for kind, suffix in (("docx", "repetitividad_202509.docx"), ("pdf", "repetitividad_202509.pdf"),
                         ("map", "repetitividad_202509_map.html")):
        assert result[kind].startswith(prefix) and result[kind].endswith(suffix)
    async with httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies) as http:
        docx = await http.get(result["docx"])
        assert docx.status_code == 200 and docx.content[:2] == b"PK"
        assert "attachment" in docx.headers["content-disposition"]
        page = await http.get(result["map"])
        assert page.status_code == 200 and page.headers["content-disposition"] == "inline"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await http.get("/static/leaflet/leaflet.js")).status_code == 200

    # Without a new attachment the command takes the conversation's last file.
    again = await turn(chat, {"type": "user_message", "content": "/repetitividad mes=8 anio=2025 pdf=false"})
    assert again[-1]["type"] == "assistant_done"
    assert again[-1]["metadata"]["result"]["docx"].endswith("repetitividad_202508.docx")
    assert again[-1]["metadata"]["result"]["pdf"] is None

    # The history has the turns and their links, not the tool rows.
    history = await _history(live_server, member)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["attachments"] == [{"name": "casos septiembre.xlsx", "path": path}]
    assert history[1]["metadata"]["result"] == result
    ws = await open_chat(live_server, member.cookie)
    snapshot = await frame(ws)
    assert [m["id"] for m in snapshot["messages"]] == [m["id"] for m in history]
    await ws.close()


async def test_report_files_are_served_only_to_their_tenant(
        live_server: LiveServer, member: Member, chat: ClientConnection, make_tenant: Any) -> None:
    data = xlsx_bytes(ORIGINAL_HEADERS, claims_rows(40, services=10))
    path = (await upload(live_server, member, "c.xlsx", data)).json()["path"]
    done = (await turn(chat, {"type": "tool_call", "tool": "GenerarInformeRepetitividad",
                              "args": {"file_path": path, "mes": 9, "anio": 2025}}))[-1]
    link = done["metadata"]["result"]["pdf"]
    other = await log_in(live_server.base_url, await make_tenant("other"))
    async with (httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies) as own,
                httpx2.AsyncClient(base_url=live_server.base_url, cookies=other.cookies) as foreign,
                httpx2.AsyncClient(base_url=live_server.base_url) as anonymous):
        assert (await own.get(link)).status_code == 200
        refused = await foreign.get(link)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "report_not_found"
        assert (await anonymous.get(link)).status_code == 401
        # Another tenant's id in the address, a path out of the folder: the same 404.
        assert (await foreign.get(link.replace(str(member.tenant.id), str(other.tenant.id)))).status_code == 404
        assert (await foreign.get(f"/reports/{other.tenant.id}/../{member.tenant.id}/x")).status_code == 404


async def test_tool_errors_carry_the_tools_codes(live_server: LiveServer, member: Member,
                                                 chat: ClientConnection) -> None:
    async def code_of(message: dict[str, Any]) -> str:
        frames = await turn(chat, message)
        assert frames[-1]["type"] == "error", frames
        return str(frames[-1]["metadata"]["code"])

    call = {"type": "tool_call", "tool": "GenerarInformeRepetitividad"}
    assert await code_of({**call, "args": {"file_path": "chat_x.xlsx", "mes": 13, "anio": 2025}}) == "INVALID_TOOL_ARGS"
    assert await code_of({**call, "args": {"file_path": "chat_x.xlsx", "mes": 9, "anio": 1999}}) == "INVALID_TOOL_ARGS"
    assert await code_of({**call, "args": {"file_path": "chat_nada.xlsx", "mes": 9, "anio": 2025}}) == "FILE_NOT_FOUND"
    assert await code_of({**call, "args": {"file_path": "../../etc/passwd.csv", "mes": 9, "anio": 2025}}) == \
        "INVALID_TOOL_ARGS"
    assert await code_of({"type": "tool_call", "tool": "BorrarTodo", "args": {}}) == "TOOL_NOT_FOUND"
    # A spreadsheet without the required columns names them.
    sheet = xlsx_bytes(["Fecha", "Detalle"], [[datetime(2025, 9, 3, 10, 0), "nada"]])
    path = (await upload(live_server, member, "incompleto.xlsx", sheet)).json()["path"]
    frames = await turn(chat, {**call, "args": {"file_path": path, "mes": 9, "anio": 2025}})
    assert frames[-1]["metadata"]["code"] == "MISSING_COLUMNS"
    assert "CLIENTE" in frames[-1]["content"] and "SERVICIO" in frames[-1]["content"]
    # The command without any file says how to give one.
    frames = await turn(chat, {"type": "user_message", "content": "/repetitividad mes=9 anio=2025"})
    assert frames[-1]["metadata"]["code"] == "INVALID_TOOL_ARGS" and "adjunta" in frames[-1]["content"]
    history = await _history(live_server, member)
    assert {m.get("metadata", {}).get("code") for m in history if m["role"] == "assistant"} >= {
        "INVALID_TOOL_ARGS", "FILE_NOT_FOUND", "TOOL_NOT_FOUND", "MISSING_COLUMNS"}


async def test_an_agent_may_not_run_the_tenants_mcp_tools(live_server: LiveServer, make_tenant: Any) -> None:
    t = await make_tenant("agent")
    ws = await open_chat(live_server, headers={"X-Test-User": f"{t.owner_email}:agent"})
    await frame(ws)
    frames = await turn(ws, {"type": "tool_call", "tool": "mcp__erp__borrar", "args": {}})
    assert frames[-1]["metadata"]["code"] == "TOOL_FORBIDDEN"
    await ws.close()


async def test_attachments_outside_the_upload_folder_are_dropped(
        live_server: LiveServer, member: Member, chat: ClientConnection) -> None:
    frames = await turn(chat, {"type": "user_message", "content": "mira esto", "attachments": [
        {"name": "secreto", "path": "../secret.txt"}, {"name": "abs", "path": "/etc/passwd"},
        {"name": "bueno.csv", "path": "chat_1_ab_bueno.csv"}]})
    assert frames[-1]["type"] == "assistant_done"
    history = await _history(live_server, member)
    assert history[0]["attachments"] == [{"name": "bueno.csv", "path": "chat_1_ab_bueno.csv"}]


async def test_a_session_that_ends_mid_conversation(live_server: LiveServer, member: Member) -> None:
    ws = await open_chat(live_server, member.cookie)
    await frame(ws)
    assert (await turn(ws, {"type": "user_message", "content": "/ayuda"}))[-1]["type"] == "assistant_done"
    async with httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies) as http:
        assert (await http.post("/api/auth/logout", headers={"X-CSRF-Token": member.csrf})).status_code == 204
    await ws.send(json.dumps({"type": "user_message", "content": "/ayuda"}))
    got = await frame(ws)
    assert got["metadata"]["code"] == "WS_SESSION_ERROR" and "iniciar sesión" in got["content"]
    assert await close_code(ws) == 4401


async def test_the_tenants_model_answers_with_the_inbox_tools(
        live_server: LiveServer, member: Member, client: httpx2.AsyncClient, fake_openai: Any) -> None:
    t = member.tenant
    created = await client.post("/admin/assistants", headers=t.headers, json={
        "name": "Asistente del panel", "provider": "openai", "model": "qwen3:8b",
        "base_url": fake_openai.base_url})
    assert created.status_code == 201, created.text
    fake_openai.tool_call("inbox_waiting_for_human", {"limit": 5})
    fake_openai.reply(text="Ahora mismo **0** conversaciones esperan a una persona.")
    ws = await open_chat(live_server, member.cookie)
    await frame(ws)
    frames = await turn(ws, {"type": "user_message", "content": "¿Cuántas conversaciones esperan a un humano?"})
    streamed = says(frames)
    assert "↻ Ejecutando inbox_waiting_for_human…" in streamed
    assert frames[-1]["type"] == "assistant_done"
    assert frames[-1]["content"] == "Ahora mismo **0** conversaciones esperan a una persona."
    assert frames[-1]["metadata"]["tool"] == "inbox_waiting_for_human"
    assert frames[-1]["metadata"]["result"]["waiting"] == 0
    first, second = fake_openai.requests[-2].json, fake_openai.requests[-1].json
    assert "inbox_waiting_for_human" in {t["function"]["name"] for t in first["tools"]}
    assert first["messages"][-1] == {"role": "user", "content": "¿Cuántas conversaciones esperan a un humano?"}
    assert json.loads(second["messages"][-1]["content"])["waiting"] == 0
    await ws.close()


async def test_a_new_conversation_keeps_the_old_one_listed(live_server: LiveServer, member: Member) -> None:
    ws = await open_chat(live_server, member.cookie)
    first_session = (await frame(ws))["session_id"]
    await turn(ws, {"type": "user_message", "content": "/ayuda"})
    async with httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies,
                                  headers={"X-CSRF-Token": member.csrf}) as http:
        started = await http.post("/api/chat/sessions")
        assert started.status_code == 201
        # The open socket writes to the new conversation from its next message on.
        await turn(ws, {"type": "user_message", "content": "/pendientes"})
        sessions = (await http.get("/api/chat/sessions")).json()
        assert [(s["id"], s["status"]) for s in sessions] == [(started.json()["id"], "active"),
                                                               (first_session, "closed")]
        assert sessions[1]["title"] == "/ayuda" and sessions[0]["title"] == "/pendientes"
        old = (await http.get("/api/chat/ws-history", params={"session_id": first_session})).json()
        assert next(m["content"] for m in old["messages"]) == "/ayuda"
        assert (await http.get("/api/chat/ws-history", params={"session_id": 10**9})).status_code == 404
    await ws.close()
    ws = await open_chat(live_server, member.cookie)
    snapshot = await frame(ws)
    assert snapshot["session_id"] == started.json()["id"]
    assert next(m["content"] for m in snapshot["messages"]) == "/pendientes"
    await ws.close()


async def test_history_limit_and_metrics(live_server: LiveServer, member: Member, chat: ClientConnection) -> None:
    for _ in range(3):
        await turn(chat, {"type": "user_message", "content": "/ayuda"})
    await turn(chat, {"type": "tool_call", "tool": "GenerarInformeRepetitividad",
                      "args": {"file_path": "chat_nada.csv", "mes": 9, "anio": 2025}})
    async with httpx2.AsyncClient(base_url=live_server.base_url, cookies=member.cookies) as http:
        two = (await http.get("/api/chat/ws-history", params={"limit": 2})).json()["messages"]
        # The tool call has no visible row of its own: its answer follows the last help.
        assert [m["role"] for m in two] == ["assistant", "assistant"] and two[-1]["metadata"]["code"] == "FILE_NOT_FOUND"
        assert (await http.get("/api/chat/ws-history", params={"limit": 101})).status_code == 422
        figures = (await http.get("/api/chat/metrics")).json()
        assert figures["messages"] == {"user": 3, "assistant": 4, "tool": 1}
        assert figures["tool_calls"] == {"GenerarInformeRepetitividad": {"FILE_NOT_FOUND": 1}}
        assert figures["errors"] == {"FILE_NOT_FOUND": 1}
        assert figures["latency_ms"]["sample"] == 4 and figures["latency_ms"]["p50"] is not None
        prometheus = (await http.get("/metrics")).text
        assert 'tertulia_chat_tool_calls_total{outcome="FILE_NOT_FOUND",tool="GenerarInformeRepetitividad"}' in prometheus
        assert "tertulia_chat_answer_seconds_bucket" in prometheus


async def _history(server: LiveServer, member: Member) -> list[dict[str, Any]]:
    async with httpx2.AsyncClient(base_url=server.base_url, cookies=member.cookies) as http:
        response = await http.get("/api/chat/ws-history", params={"limit": 100})
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

