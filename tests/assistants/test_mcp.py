"""MCP servers per tenant, against a real MCP server (the SDK's server side) over streamable HTTP
on 127.0.0.1, and one over stdio."""

from __future__ import annotations

import re
import socket
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.server.mcpserver import MCPServer
from sqlalchemy import select
from starlette.responses import JSONResponse

from tertulia.assistants import mcp
from tertulia.assistants.models import McpServer
from tertulia.kit.db import Database
from tests.assistants.conftest import ai_messages, make_assistant, trace_of, wait_until
from tests.fakes import FakeOpenAIServer
from tests.fakes.harness import ThreadedUvicorn
from tests.helpers import TenantCtx, internals_in, post_inbound

SHOP_KEY = "llave-secreta-de-la-tienda"
RELEASE_SLOW = threading.Event()  # lets the slow tool finish when the test is done with it
VENDOR_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def build_shop_server() -> MCPServer:
    server = MCPServer("tienda")

    @server.tool()
    def stock_lookup(sku: str) -> str:
        """How many units of a product are in stock."""
        return f"{sku}: 3 unidades"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow_report() -> str:
        """A report that takes far too long."""
        await anyio.to_thread.run_sync(RELEASE_SLOW.wait)
        return "late"

    @server.tool(name="orders.cancel")
    def cancel_order(order_id: str) -> str:
        """Cancel an order."""
        raise ValueError(f"el pedido {order_id} ya fue enviado")

    return server


def require_key(app: Any) -> Any:
    """Answers 401 unless the request carries the shop's key, like a real protected MCP server."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-shop-key") != SHOP_KEY.encode():
            await JSONResponse({"error": "missing or wrong X-Shop-Key"}, status_code=401)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    served = ThreadedUvicorn(require_key(build_shop_server().streamable_http_app()), name="mcp-shop",
                             lifespan="on")
    served.start()
    yield f"{served.url}/mcp"
    RELEASE_SLOW.set()
    served.stop()


def dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/mcp"


async def register(client: httpx2.AsyncClient, t: TenantCtx, name: str, url: str, **extra: Any) -> httpx2.Response:
    return await client.post("/admin/mcp-servers", json={"name": name, "url": url, **extra}, headers=t.headers)


async def test_registered_server_tools_are_listed_namespaced_and_callable(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database, app: Any, shop_url: str) -> None:
    t = await make_tenant("mcp")
    r = await register(client, t, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["header_names"] == ["X-Shop-Key"] and created["transport"] == "http"
    assert SHOP_KEY not in r.text

    listed = await client.get("/admin/mcp-servers", headers=t.headers)
    assert [s["name"] for s in listed.json()] == ["tienda"] and SHOP_KEY not in listed.text
    async with db.session(t.id) as session:
        row = await session.scalar(select(McpServer).where(McpServer.id == uuid.UUID(created["id"])))
        assert row is not None and row.headers_encrypted and SHOP_KEY not in row.headers_encrypted

    box = app.state.secret_box
    async with db.session(t.id) as session:
        tools = await mcp.mcp_tools_for_tenant(session, t.id, box)
    by_name = {spec.name: (spec, ref) for spec, ref in tools}
    assert {"mcp__tienda__stock_lookup", "mcp__tienda__add"} <= set(by_name)
    assert all(VENDOR_NAME.match(name) for name in by_name)
    cancel = next(name for name, (_, ref) in by_name.items() if ref.tool == "orders.cancel")
    assert cancel.startswith("mcp__tienda__orders_cancel")
    spec, ref = by_name["mcp__tienda__add"]
    assert ref.server_name == "tienda" and ref.tool == "add"
    assert spec.parameters["required"] == ["a", "b"] and "Add two integers" in spec.description

    async with db.session(t.id) as session:
        added = await mcp.call_mcp_tool(session, t.id, box, "mcp__tienda__add", {"a": 2, "b": 3})
        stock = await mcp.call_mcp_tool(session, t.id, "mcp__tienda__stock_lookup", {"sku": "CAFE-1"})  # app's box
    assert added["is_error"] is False and added["content"] == "5" and added["structured"] == {"result": 5}
    assert stock == {"tool": "mcp__tienda__stock_lookup", "server": "tienda", "is_error": False,
                     "content": "CAFE-1: 3 unidades", "structured": {"result": "CAFE-1: 3 unidades"}}

    r = await client.get(f"/admin/mcp-servers/{created['id']}/tools", headers=t.headers)
    assert r.status_code == 200
    assert {x["name"]: x["tool"] for x in r.json()}["mcp__tienda__stock_lookup"] == "stock_lookup"


async def test_tool_failures_and_bad_calls(client: httpx2.AsyncClient, make_tenant: Any, db: Database,
                                           shop_url: str) -> None:
    t = await make_tenant("mcp")
    assert (await register(client, t, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})).status_code == 201
    async with db.session(t.id) as session:
        tools = await mcp.mcp_tools_for_tenant(session, t.id)
        cancel = next(spec.name for spec, ref in tools if ref.tool == "orders.cancel")
        failed = await mcp.call_mcp_tool(session, t.id, cancel, {"order_id": "A-7"})
        assert failed["is_error"] is True and failed["content"]
        with pytest.raises(mcp.InvalidToolArguments) as bad:
            await mcp.call_mcp_tool(session, t.id, "mcp__tienda__add", {"a": "dos"})
        assert bad.value.status_code == 422 and "'b' is a required property" in bad.value.message
        with pytest.raises(mcp.UnknownMcpTool) as unknown:
            await mcp.call_mcp_tool(session, t.id, "mcp__tienda__borrar_todo", {})
        assert unknown.value.status_code == 404


async def test_a_tool_that_does_not_answer_in_time_is_an_error_result(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database, shop_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    t = await make_tenant("mcp")
    assert (await register(client, t, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})).status_code == 201
    monkeypatch.setattr(mcp, "CALL_TIMEOUT", 0.5)
    started = time.monotonic()
    async with db.session(t.id) as session:
        result = await mcp.call_mcp_tool(session, t.id, "mcp__tienda__slow_report", {})
    assert time.monotonic() - started < 10  # bounded by CALL_TIMEOUT (slack for a busy machine)
    # (Whether the read or the whole call timed out first depends on the machine's load.)
    assert result["is_error"] is True and "did not answer" in result["content"]
    assert "no answer within 0.5 s" in result["content"]


async def test_a_server_that_fails_is_skipped_and_the_others_still_answer(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database, shop_url: str) -> None:
    t = await make_tenant("mcp")
    assert (await register(client, t, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})).status_code == 201
    assert (await register(client, t, "caida", dead_url())).status_code == 201
    wrong = await register(client, t, "sin-llave", shop_url, headers={"X-Shop-Key": "otra"})
    assert wrong.status_code == 201

    started = time.monotonic()
    async with db.session(t.id) as session:
        tools = await mcp.mcp_tools_for_tenant(session, t.id)
    assert time.monotonic() - started < mcp.LIST_TIMEOUT
    assert {ref.server_name for _, ref in tools} == {"tienda"}
    async with db.session(t.id) as session:  # a call aimed at the dead server says so, it is not "unknown"
        down = await mcp.call_mcp_tool(session, t.id, "mcp__caida__consultar", {})
    assert down["is_error"] is True and "the MCP server 'caida' did not answer" in down["content"]

    r = await client.get(f"/admin/mcp-servers/{wrong.json()['id']}/tools", headers=t.headers)
    assert r.status_code == 502 and r.json()["error"]["code"] == "mcp_unavailable"
    assert "sin-llave" in r.json()["error"]["message"]
    # what went wrong, in plain words: not the client library's exception and its text
    dead = next(s for s in (await client.get("/admin/mcp-servers", headers=t.headers)).json() if s["name"] == "caida")
    r = await client.get(f"/admin/mcp-servers/{dead['id']}/tools", headers=t.headers)
    assert r.status_code == 502 and "could not connect" in r.json()["error"]["message"]
    assert internals_in(r.text) == []


async def test_another_tenant_cannot_see_use_or_delete_the_server(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database, shop_url: str) -> None:
    a, b = await make_tenant("mcp-a"), await make_tenant("mcp-b")
    server_id = (await register(client, a, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})).json()["id"]

    assert (await client.get("/admin/mcp-servers", headers=b.headers)).json() == []
    assert (await client.get(f"/admin/mcp-servers/{server_id}/tools", headers=b.headers)).status_code == 404
    r = await client.delete(f"/admin/mcp-servers/{server_id}", headers=b.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "mcp_server_not_found"
    async with db.session(b.id) as session:
        assert await mcp.mcp_tools_for_tenant(session, b.id) == []
        with pytest.raises(mcp.UnknownMcpTool):
            await mcp.call_mcp_tool(session, b.id, "mcp__tienda__add", {"a": 1, "b": 1})
    # B may use the same name for a server of its own.
    assert (await register(client, b, "tienda", dead_url())).status_code == 201

    assert (await client.delete(f"/admin/mcp-servers/{server_id}", headers=a.headers)).status_code == 204
    assert (await client.get("/admin/mcp-servers", headers=a.headers)).json() == []
    async with db.session(a.id) as session:
        assert await mcp.mcp_tools_for_tenant(session, a.id) == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"name": "tienda", "transport": "stdio", "command": "python -m servidor"}, 403, "stdio_mcp_disabled"),
    ({"name": "tienda", "url": "ftp://example.com/mcp"}, 422, "validation_error"),
    ({"name": "tienda", "url": "https://user:pass@example.com/mcp"}, 422, "validation_error"),
    ({"name": "tienda", "url": "http://169.254.169.254/latest"}, 422, "url_not_allowed"),
    ({"name": "mi tienda", "url": "https://example.com/mcp"}, 422, "validation_error"),
    ({"name": "tienda"}, 422, "validation_error"),
    ({"name": "tienda", "url": "https://example.com/mcp", "headers": {"X-Key": "a\r\nInjected: 1"}}, 422,
     "validation_error"),
])
async def test_bad_registrations_are_refused_clearly(client: httpx2.AsyncClient, make_tenant: Any,
                                                     body: dict[str, Any], status: int, code: str) -> None:
    t = await make_tenant("mcp")
    r = await client.post("/admin/mcp-servers", json=body, headers=t.headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    if code == "stdio_mcp_disabled":
        assert "TERTULIA_ALLOW_STDIO_MCP" in r.json()["error"]["message"]


async def test_duplicate_name_is_a_conflict(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant("mcp")
    assert (await register(client, t, "tienda", "https://example.com/mcp")).status_code == 201
    r = await register(client, t, "tienda", "https://example.org/mcp")
    assert r.status_code == 409 and r.json()["error"]["code"] == "mcp_server_exists"


async def test_stdio_server_only_when_the_operator_allows_it(make_tenant: Any, db: Database, app: Any,
                                                             tmp_path: Path) -> None:
    script = tmp_path / "local_server.py"
    script.write_text(textwrap.dedent("""
        import os
        from mcp.server.mcpserver import MCPServer

        server = MCPServer("local")

        @server.tool()
        def shout(text: str) -> str:
            \"\"\"Shout the text, signed with the shop's name.\"\"\"
            return f"{text.upper()} ({os.environ.get('SHOP_NAME', '?')})"

        server.run()
    """))
    t = await make_tenant("mcp")
    async with db.session(t.id) as session:
        session.add(McpServer(tenant_id=t.id, name="local", transport="stdio",
                              command=f"{sys.executable} {script}",
                              headers_encrypted=app.state.secret_box.encrypt({"SHOP_NAME": "Tertulia"})))

    async with db.session(t.id) as session:
        assert await mcp.mcp_tools_for_tenant(session, t.id, allow_stdio=False) == []
        tools = await mcp.mcp_tools_for_tenant(session, t.id, allow_stdio=True)
        assert [spec.name for spec, _ in tools] == ["mcp__local__shout"]
        result = await mcp.call_mcp_tool(session, t.id, "mcp__local__shout", {"text": "hola"}, allow_stdio=True)
    assert result["is_error"] is False and result["content"] == "HOLA (Tertulia)"


def test_namespaced_names_fit_every_vendor() -> None:
    assert mcp.namespaced("tienda", "stock_lookup") == "mcp__tienda__stock_lookup"
    long = mcp.namespaced("servidor-de-inventario-central", "consultar_existencias_por_almacen_y_referencia")
    odd = mcp.namespaced("tienda", "pedidos/cancelar pedido")
    assert all(VENDOR_NAME.match(n) for n in (long, odd)) and len(long) == 64
    assert mcp.namespaced("tienda", "a.b") != mcp.namespaced("tienda", "a_b")


async def test_the_assistant_calls_an_mcp_tool_during_a_reply(
        client: httpx2.AsyncClient, make_tenant: Any, shop_url: str, fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant("mcp")
    assert (await register(client, t, "tienda", shop_url, headers={"X-Shop-Key": SHOP_KEY})).status_code == 201
    await make_assistant(client, t, provider="openai", model="qwen3:8b", base_url=fake_openai.base_url)
    fake_openai.tool_call("mcp__tienda__stock_lookup", {"sku": "CAFE-1"})
    fake_openai.reply("Nos quedan 3 unidades del café CAFE-1.")

    conv = (await post_inbound(client, t, "¿Tienen CAFE-1?")).json()["conversation_id"]
    [reply] = await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    assert reply["content"] == "Nos quedan 3 unidades del café CAFE-1."

    first, second = fake_openai.requests
    offered = {tool["function"]["name"]: tool["function"] for tool in first.json["tools"]}
    assert offered["mcp__tienda__stock_lookup"]["parameters"]["required"] == ["sku"]
    tool_message = second.json["messages"][-1]
    assert tool_message["role"] == "tool" and "CAFE-1: 3 unidades" in tool_message["content"]
    trace = await trace_of(client, t, reply["correlation_id"])
    assert [s["name"] for s in trace["tools_used"]] == ["mcp__tienda__stock_lookup"]


async def test_agents_cannot_manage_mcp_servers(client: httpx2.AsyncClient, make_tenant: Any, app: Any) -> None:
    t = await make_tenant("mcp")
    email = f"agente@{t.slug}.test"
    r = await client.post("/admin/members", headers=t.headers,
                          json={"email": email, "password": "agente-pass-123", "role": "agent"})
    assert r.status_code == 201, r.text
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as agent:
        login = await agent.post("/api/auth/login", json={"email": email, "password": "agente-pass-123"})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        listed = await agent.get("/admin/mcp-servers")
        assert listed.status_code == 403 and listed.json()["error"]["code"] == "forbidden_role"
        created = await agent.post("/admin/mcp-servers", json={"name": "tienda", "url": "https://example.com/mcp"},
                                   headers=csrf)
        assert created.status_code == 403
