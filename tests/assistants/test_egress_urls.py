"""URLs a tenant sets (an assistant's base_url, an MCP server's url) go through the egress fence:
refused with a clear 422 when saved, and with a visible reason when used (the AI trace, the MCP
server's tool listing). The test run allows 127.0.0.1 only (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
import structlog

from tertulia.assistants import mcp
from tertulia.kit.db import Database
from tests.assistants.conftest import ai_messages, make_assistant, messages_of, trace_of, wait_until
from tests.fakes import FakeOpenAIServer
from tests.helpers import TenantCtx, post_inbound

DNS = dict[str, list[list[str]]]


@pytest.mark.parametrize(("base_url", "reason"), [
    ("http://10.0.0.5:11434/v1", "10.0.0.5 is a private network address"),
    ("http://169.254.169.254/latest", "169.254.169.254 is the cloud metadata service"),
    ("http://[::1]:11434/v1", "::1 is a loopback address"),
    ("http://[::ffff:192.168.1.20]:8000/v1", "::ffff:192.168.1.20 is a private network address"),
    ("http://127.0.0.1.nip.test:6379", "127.0.0.1.nip.test points to a link-local address (169.254.0.1)"),
])
async def test_an_assistant_pointed_at_a_refused_address_is_a_422(client: httpx2.AsyncClient, make_tenant: Any,
                                                                  fake_dns: DNS, base_url: str, reason: str) -> None:
    fake_dns["127.0.0.1.nip.test"] = [["169.254.0.1"]]
    t = await make_tenant()
    r = await client.post("/admin/assistants", headers=t.headers,
                          json={"name": "Nora", "provider": "openai", "model": "m", "base_url": base_url})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "url_not_allowed"
    assert error["message"] == f"base_url is not allowed: {reason}; ask the operator to allow it with " \
                               "TERTULIA_EGRESS_ALLOW"
    assert (await client.get("/admin/assistants", headers=t.headers)).json() == []


async def test_changing_base_url_to_a_name_that_resolves_privately_is_refused(
        client: httpx2.AsyncClient, make_tenant: Any, fake_dns: DNS, fake_openai: FakeOpenAIServer) -> None:
    fake_dns["ollama.corp.test"] = [["192.168.7.7"]]
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="openai", model="m", base_url=fake_openai.base_url)
    r = await client.patch(f"/admin/assistants/{nora['id']}", headers=t.headers,
                           json={"base_url": "http://ollama.corp.test:11434/v1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_allowed"
    assert "ollama.corp.test points to a private network address (192.168.7.7)" in r.json()["error"]["message"]
    kept = await client.get(f"/admin/assistants/{nora['id']}", headers=t.headers)
    assert kept.json()["base_url"] == fake_openai.base_url


async def test_a_base_url_that_rebinds_after_saving_is_refused_when_used(
        client: httpx2.AsyncClient, make_tenant: Any, fake_dns: DNS, fake_openai: FakeOpenAIServer) -> None:
    # Saved and first used while the name points at an allowed address; then it points elsewhere.
    fake_dns["llm.rebind.test"] = [["127.0.0.1"], ["127.0.0.1"], ["169.254.169.254"]]
    t = await make_tenant()
    await make_assistant(client, t, provider="openai", model="m",
                         base_url=f"http://llm.rebind.test:{fake_openai.port}/v1")
    fake_openai.reply("Abrimos a las nueve.")
    conv = (await post_inbound(client, t, "¿a qué hora abren?")).json()["conversation_id"]
    [reply] = await wait_until(lambda: ai_messages(client, t, conv), what="the first reply")
    assert reply["content"] == "Abrimos a las nueve."
    assert fake_openai.last_request.headers["host"] == f"llm.rebind.test:{fake_openai.port}"

    with structlog.testing.capture_logs() as logs:
        await post_inbound(client, t, "¿y los sábados?")

        async def handoff_note() -> list[dict[str, Any]]:
            return [m for m in await messages_of(client, t, conv) if m["author"] == "system"]

        [note] = await wait_until(handoff_note, what="the handoff note")
    assert len(fake_openai.requests) == 1  # the second turn never left the machine
    trace = await trace_of(client, t, note["correlation_id"])
    assert trace["outcome"] == "handoff"
    assert trace["error"].startswith("url_not_allowed: ")
    assert "llm.rebind.test points to the cloud metadata service (169.254.169.254)" in trace["error"]
    assert [s["code"] for s in trace["steps"] if s["type"] == "error"] == ["url_not_allowed"]  # not retried
    assert any(e.get("action") == "egress_refused" and e["host"] == "llm.rebind.test" for e in logs)


async def test_mcp_server_urls_are_checked_when_saved_and_when_used(
        client: httpx2.AsyncClient, make_tenant: Any, fake_dns: DNS, db: Database) -> None:
    fake_dns["metadata.corp.test"] = [["169.254.169.254"]]
    fake_dns["tools.rebind.test"] = [["127.0.0.1"], ["10.1.2.3"]]
    t: TenantCtx = await make_tenant("mcp")
    refused = await client.post("/admin/mcp-servers", headers=t.headers,
                                json={"name": "meta", "url": "http://metadata.corp.test/mcp"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "url_not_allowed"
    assert "metadata.corp.test points to the cloud metadata service" in refused.json()["error"]["message"]

    saved = await client.post("/admin/mcp-servers", headers=t.headers,
                              json={"name": "tienda", "url": "http://tools.rebind.test:8931/mcp"})
    assert saved.status_code == 201, saved.text
    listed = await client.get(f"/admin/mcp-servers/{saved.json()['id']}/tools", headers=t.headers)
    assert listed.status_code == 422 and listed.json()["error"]["code"] == "url_not_allowed"
    assert "tools.rebind.test points to a private network address (10.1.2.3)" in listed.json()["error"]["message"]
    with structlog.testing.capture_logs() as logs:
        async with db.session(t.id) as session:
            assert await mcp.mcp_tools_for_tenant(session, t.id) == []  # skipped; the assistant still replies
    [skipped] = [e for e in logs if e.get("event") == "mcp_server_unavailable"]
    assert "private network address (10.1.2.3)" in skipped["error"]
