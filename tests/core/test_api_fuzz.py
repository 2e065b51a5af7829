"""A bounded schemathesis run over the whole API (/openapi.json), so that a new 500 fails the suite.

The server is `tertulia`'s app under uvicorn on loopback. Requests carry real ids (a tenant with a
conversation, contact, tag, channel, assistant, knowledge entry, MCP server, trace...), once with
the session cookie + X-CSRF-Token and once with an API token, and every answer must be below 500;
an error must be the documented body (`{"error": {"code", "message", "details?"}}`) and show no
internals. Deterministic (derandomized, no example database) and bounded (FUZZ_EXAMPLES per
operation and phase): about a minute per database on a 2-core machine.

Left out: what would end the run's own credentials (logout; deleting or demoting its member or
token, so those ids point at spares) and what would reach outside the machine (assistants are
kept on the offline provider, MCP servers point at a small one on loopback)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import schemathesis
from jsonschema import Draft202012Validator
from mcp.server.mcpserver import MCPServer

from tertulia.app import create_app
from tertulia.cli import do_migrate
from tertulia.config import Settings
from tertulia.kit.db import Database
from tests.assistants.conftest import wait_until
from tests.fakes.harness import ThreadedUvicorn
from tests.helpers import (
    TEST_PASSWORD,
    TenantCtx,
    create_test_tenant,
    fresh_database_url,
    internals_in,
    post_inbound,
)

FUZZ_EXAMPLES = int(os.environ.get("TERTULIA_FUZZ_EXAMPLES", "4"))
# Ids that must never be the run's own (its user, its token) point at a spare, as do the ids of
# DELETEs (the operations after them still find something to work on).
SPARE_ALWAYS = {"user_id", "token_id"}


def _document() -> dict[str, Any]:
    # Built from the code alone (no database is opened), so the schema exists when the module is
    # collected, as schemathesis' pytest integration needs; a test checks the server serves the same.
    document: dict[str, Any] = create_app(Settings(database_url="sqlite://", secret_key="doc")).openapi()
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({
    "seed": 20261207,
    "suppress-health-check": ["all"],
    "generation": {"deterministic": True, "max-examples": FUZZ_EXAMPLES, "database": "none",
                   "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
})).exclude(method="POST", path="/api/auth/logout")  # it would end the run's own session


@dataclass
class Fuzzed:
    scheme: str  # "cookie" (session + X-CSRF-Token) or "bearer" (API token)
    base_url: str
    mcp_url: str
    provider_url: str
    tenant_id: str
    api_token: str
    inbound_token: str
    cookie: str
    csrf: str
    ids: dict[str, str]
    spares: dict[str, str]
    document: dict[str, Any]


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections (bound, never listening): where provider URLs point."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """A small MCP server on loopback: the one every MCP server of the run points at."""
    server = MCPServer("catalogo")

    @server.tool()
    def stock_lookup(sku: str) -> str:
        """How many units of a product are in stock."""
        return f"{sku}: 3 unidades"

    served = ThreadedUvicorn(server.streamable_http_app(), name="fuzz-mcp", lifespan="on")
    served.start()
    yield f"{served.url}/mcp"
    served.stop()


@pytest.fixture(scope="module")
def fuzz_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A database of the run's own. The run's requests are synchronous, so the suite's event loop
    stands still meanwhile: had the session's app (whose background tasks run on that loop) the
    same database, a transaction it had open would hold its locks for the whole run."""
    with fresh_database_url(tmp_path_factory.mktemp("fuzz"), request) as url:
        own = settings.model_copy(update={"database_url": url})
        do_migrate(own)
        yield own


@pytest.fixture(scope="module")
def fuzz_server(fuzz_settings: Settings) -> Iterator[ThreadedUvicorn]:
    server = ThreadedUvicorn(create_app(fuzz_settings), name="api-fuzz", lifespan="on")
    server.start()
    yield server
    server.stop()


async def _seed(scheme: str, base_url: str, t: TenantCtx, mcp_url: str) -> Fuzzed:
    async with httpx2.AsyncClient(base_url=base_url, headers=t.headers, timeout=30) as http:
        async def made(method: str, url: str, **kwargs: Any) -> Any:
            response = await http.request(method, url, **kwargs)
            assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
            return response.json() if response.content else None

        assistants = [await made("POST", "/admin/assistants", json={"name": f"Nora {n}", "debounce_seconds": 0})
                      for n in (1, 2)]
        await made("PATCH", f"/admin/channels/{t.channel_id}", json={"assistant_id": assistants[0]["id"]})
        entries = [await made("POST", f"/admin/assistants/{assistants[0]['id']}/knowledge",
                              json={"title": f"Envíos {n}", "content": "Enviamos a todo el país en 48 horas."})
                   for n in (1, 2)]
        inbound = await post_inbound(http, t, "¿Hacen envíos?", external_id="fuzz-contact")
        conversation_id = inbound.json()["conversation_id"]
        tags = [await made("POST", "/admin/tags", json={"name": f"VIP {n}"}) for n in (1, 2)]
        contact_id = (await made("GET", f"/admin/chats/{conversation_id}"))["contact_id"]
        await made("PUT", f"/admin/contacts/{contact_id}/tags/{tags[0]['id']}")
        servers = [await made("POST", "/admin/mcp-servers", json={"name": f"catalogo{n}", "url": mcp_url})
                   for n in (1, 2)]
        spare_token = await made("POST", "/admin/tokens", json={"name": "spare"})
        spare_member = await made("POST", "/admin/members", json={"email": f"agent-{t.slug}@example.test",
                                                                  "password": TEST_PASSWORD, "role": "agent"})
        # the offline assistant answers the customer: its reply has a trace to read
        async def ai_replies() -> list[dict[str, Any]]:
            return [m for m in await made("GET", f"/admin/chats/{conversation_id}/messages") if m["correlation_id"]]

        replies = await wait_until(ai_replies, within=20, what="the assistant's reply")
        login = await http.post("/api/auth/login", json={"email": t.owner_email, "password": TEST_PASSWORD},
                                headers={"Authorization": ""})
        assert login.status_code == 200, login.text
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        document = await made("GET", "/openapi.json")
    ids = {"conversation_id": conversation_id, "contact_id": contact_id, "tag_id": tags[0]["id"],
           "channel_id": str(t.channel_id), "assistant_id": assistants[0]["id"], "entry_id": entries[0]["id"],
           "server_id": servers[0]["id"], "correlation_id": replies[0]["correlation_id"], "tenant_id": str(t.id),
           "user_id": spare_member["user_id"], "token_id": spare_token["id"]}
    spares = {**ids, "tag_id": tags[1]["id"], "assistant_id": assistants[1]["id"], "entry_id": entries[1]["id"],
              "server_id": servers[1]["id"]}
    return Fuzzed(scheme=scheme, base_url=base_url, mcp_url=mcp_url, provider_url="", tenant_id=str(t.id), api_token=t.token, inbound_token=t.inbound_token,
                  cookie=cookie, csrf=login.json()["csrf_token"], ids=ids, spares=spares, document=document)


@pytest.fixture(scope="module", params=["cookie", "bearer"])
async def fuzzed(request: pytest.FixtureRequest, fuzz_server: ThreadedUvicorn, fuzz_settings: Settings,
                 mcp_url: str, closed_port: int) -> Fuzzed:
    """A tenant of its own for each scheme, so that one run's changes do not shape the other's."""
    database = Database(fuzz_settings.resolved_database_url, pool_size=1)
    try:
        tenant = await create_test_tenant(database, fuzz_settings, "fuzz")
    finally:
        await database.dispose()
    seeded = await _seed(request.param, fuzz_server.url, tenant, mcp_url)
    seeded.provider_url = f"http://127.0.0.1:{closed_port}/v1"
    return seeded


def test_the_server_documents_what_is_fuzzed(fuzzed: Fuzzed) -> None:
    assert fuzzed.document == DOCUMENT


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _use_real_ids(case: Any, fuzzed: Fuzzed) -> None:
    """Valid ids become the tenant's own, so requests get past the lookups; malformed ones stay."""
    method, path = case.operation.method.upper(), case.operation.path
    for name, value in (case.path_parameters or {}).items():
        pool = fuzzed.spares if method == "DELETE" or name in SPARE_ALWAYS else fuzzed.ids
        if name in pool and (_is_uuid(value) or name == "correlation_id"):
            case.path_parameters[name] = pool[name]
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    for name in ("conversation_id", "assistant_id"):
        if _is_uuid(body.get(name)):
            body[name] = fuzzed.ids[name]
    if path.startswith("/admin/assistants") and "provider" in body:
        body["provider"] = "offline"  # the vendors' hosts are outside this machine
    if path.startswith("/admin/assistants") and isinstance(body.get("base_url"), str):
        body["base_url"] = fuzzed.provider_url
    if path.startswith("/admin/mcp-servers") and "url" in body:
        body["url"] = fuzzed.mcp_url


def _credentials(case: Any, fuzzed: Fuzzed) -> dict[str, str]:
    if case.operation.path == "/api/v1/inbound/{channel_id}":
        return {"Authorization": f"Bearer {fuzzed.inbound_token}"}
    if fuzzed.scheme == "bearer":
        return {"Authorization": f"Bearer {fuzzed.api_token}"}
    return {"Cookie": fuzzed.cookie, "X-CSRF-Token": fuzzed.csrf}


@schema.parametrize()
def test_no_server_errors_and_one_error_shape(case: Any, fuzzed: Fuzzed) -> None:
    _use_real_ids(case, fuzzed)
    response = case.call(base_url=fuzzed.base_url, headers=_credentials(case, fuzzed), timeout=30)
    where = f"{case.operation.method.upper()} {case.operation.path} → {response.status_code}\n{case.as_curl_command()}"
    assert response.status_code < 500, f"{where}\n{response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        errors = list(Draft202012Validator({**fuzzed.document, "$ref": "#/components/schemas/Error"}).iter_errors(body))
        assert errors == [], f"{where}\nnot the documented error body: {response.text[:500]}"
        assert internals_in(response.text) == [], f"{where}\n{response.text[:500]}"
