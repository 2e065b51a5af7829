"""An unexpected failure is a JSON 500 that says only that it happened (the details go to the log),
and the client's keep-alive connection stays usable after it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from tertulia.app import create_app
from tertulia.assistants.tools import BUILTIN_TOOLS
from tertulia.config import Settings
from tests.fakes.harness import ThreadedUvicorn
from tests.helpers import internals_in, post_inbound

LEAKY = ("(psycopg.errors.UndefinedTable) relation \"secrets\" does not exist\n"
         "[SQL: SELECT * FROM secrets WHERE tenant_id = %(t)s]\n[parameters: {'t': 'tenant-1234'}]\n"
         'File "/srv/tertulia/src/tertulia/app.py", line 1')


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    path: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection, and its response."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout=10)
    return int(status_line.split()[1]), headers, body


async def test_an_unexpected_error_keeps_the_connection_usable(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/test-only/fail", include_in_schema=False)
    async def fail() -> None:
        raise RuntimeError(LEAKY)

    server = ThreadedUvicorn(app, name="unexpected-errors")
    server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with capture_logs() as logs:
            status, headers, body = await _exchange(reader, writer, "/test-only/fail")
        assert status == 500 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"error": {"code": "internal_error",
                                              "message": "something went wrong on our side; it has been logged"}}
        assert headers.get("connection", "").lower() != "close"
        # the same connection answers the next request
        status, _, body = await _exchange(reader, writer, "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        writer.close()
        await writer.wait_closed()
    finally:
        server.stop()
    failure = next(entry for entry in logs if entry["event"] == "unhandled_error")
    assert failure["path"] == "/test-only/fail" and failure["log_level"] == "error" and failure.get("exc_info")


async def test_a_failing_tool_shows_no_sql_parameters_or_paths(client: httpx2.AsyncClient, make_tenant,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a tool's database error came back whole, SQL, parameters and the tenant's id included."""
    t = await make_tenant()
    conv = (await post_inbound(client, t, "hola", external_id="c1")).json()["conversation_id"]

    async def broken(session: Any, ctx: Any, args: dict[str, Any]) -> Any:
        await session.execute(text("SELECT * FROM no_such_table WHERE tenant_id = :tenant"),
                              {"tenant": str(ctx.tenant_id)})

    monkeypatch.setattr(BUILTIN_TOOLS["add_tag"], "handler", broken)
    with capture_logs() as logs:
        resp = await client.post("/mcp/invoke", headers=t.headers,
                                 json={"tool": "add_tag", "args": {"name": "VIP"}, "conversation_id": conv})
    assert resp.status_code == 500
    assert resp.json()["error"]["code"] == "tool_failed"
    assert internals_in(resp.text, str(t.id), "no_such_table") == []
    assert any(e["event"] == "mcp_tool_call_failed" and e.get("exc_info") for e in logs)  # the details are logged
    # the failed transaction left nothing behind and the next request works
    assert (await client.get("/admin/tags", headers=t.headers)).json() == []


def test_the_leak_detector_sees_what_it_must() -> None:
    assert internals_in(LEAKY, "tenant-1234")
    assert internals_in('Traceback (most recent call last):\n  File "x"') and internals_in("KeyError: 'a'")
    assert internals_in("choose a tenant first (POST /api/auth/tenant)") == []
    assert internals_in("select the rows you want from the list") == []
