"""A Tertulia of its own for the outbound tests (a pytest plugin, see tests/conftest.py): its own
database, its provider URLs pointing at a provider sandbox on loopback, short pacing and retries,
and a receiver on loopback for the sandbox's webhooks and the `api` channel's signed POSTs.

Its own app, because its delivery worker must send to this sandbox with these settings, and the
suite's shared app knows neither. Customers write through the sandbox (which then knows them and
opens their window); what the providers' webhooks would bring in is handed to the app's inbound
writer as the webhook endpoints do.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tertulia.app import create_app
from tertulia.channels.service import create_channel
from tertulia.cli import do_migrate
from tertulia.config import Settings
from tertulia.conversations.inbound import InboundDelivery
from tertulia.conversations.schemas import InboundContact, InboundMessage
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.sandbox.server import SandboxServer
from tertulia.sandbox.traffic import SandboxConfig
from tertulia.sandbox.webhooks import RetryPolicy
from tertulia.tenancy.service import add_member, create_api_token, create_tenant, create_user
from tests.fakes.harness import Gate, ThreadedUvicorn
from tests.helpers import TEST_PASSWORD

SPACING = 0.3  # TERTULIA_DELIVERY_SPACING of these tests
CHANNEL_RATE = 15.0
MAX_ATTEMPTS = 4
CUSTOMER = {"whatsapp_cloud": "34600111222", "ycloud": "+34600111222"}


# --- a receiver for webhooks and the api channel's POSTs -------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # monotonic


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses for the next POSTs
    holds: dict[str, list[Gate]] = field(default_factory=dict)  # path -> gates for the next POSTs
    lock: threading.Lock = field(default_factory=threading.Lock)
    http: ThreadedUvicorn | None = None

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        with self.lock:
            self.received.append(Received(path, {k.lower(): v for k, v in request.headers.items()}, body,
                                          time.monotonic()))
            gate = self.holds[path].pop(0) if self.holds.get(path) else None
            status = self.answers[path].pop(0) if self.answers.get(path) else 200
        if gate is not None:
            await gate.hold(request)
        if request.method == "GET":
            return PlainTextResponse(request.query_params.get("hub.challenge", ""))
        if status >= 300:
            return PlainTextResponse("no", status_code=status)
        return JSONResponse({"id": f"ext-{len(self.received)}"})

    def url(self, name: str) -> str:
        assert self.http is not None
        return f"{self.http.url}/{name}"

    def posts(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == f"/{name}"]

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.answers.clear()
            self.holds.clear()


# --- databases of their own --------------------------------------------------------------------------

def fresh_database(tmp: Path, request: pytest.FixtureRequest, name: str) -> tuple[str, Callable[[], None]]:
    """A new empty database of the run's kind, and how to drop it."""
    if os.environ.get("TERTULIA_TEST_DB", "sqlite") != "postgresql":
        return f"sqlite:///{tmp / f'{name}.db'}", lambda: None
    admin_url: str = request.getfixturevalue("pg_admin_url")
    db_name = f"tertulia_{name}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    return f"{admin_url.rsplit('/', 1)[0]}/{db_name}", drop


def outbound_settings(database_url: str, data_dir: Path, sandbox: SandboxServer, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": database_url, "secret_key": "out-" + uuid.uuid4().hex, "TESTING": True,
        "inline_worker": True, "db_pool_size": 20, "meta_graph_url": sandbox.graph_url,
        "ycloud_api_url": sandbox.ycloud_url, "delivery_spacing": SPACING, "delivery_channel_rate": CHANNEL_RATE,
        "delivery_retry_seconds": 0.05, "delivery_max_attempts": MAX_ATTEMPTS, "base_url": "http://tertulia.test"}
    values.update(changes)
    return Settings(**values)


# --- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def out_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(auto_status=False, status_delays=(0.02, 0.02), async_failure_delay=0.01,
                           retry=RetryPolicy(attempts=2, delays=(0.05,), timeout=5))
    server = SandboxServer(config).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def out_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.http = ThreadedUvicorn(Starlette(routes=[Route("/{name}", receiver.endpoint, methods=["GET", "POST"])]),
                                    name="outbound-receiver")
    receiver.http.start()
    yield receiver
    receiver.http.stop()


@pytest.fixture(scope="session")
def out_settings(out_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> Iterator[Settings]:
    url, drop = fresh_database(tmp_path_factory.mktemp("out-db"), request, "out")
    settings = outbound_settings(url, tmp_path_factory.mktemp("out-data"), out_sandbox)
    do_migrate(settings)
    yield settings
    drop()


@pytest.fixture(scope="session")
async def out_app(out_settings: Settings) -> AsyncIterator[Any]:
    application = create_app(out_settings)
    async with application.router.lifespan_context(application):
        yield application


# --- a tenant with a channel ------------------------------------------------------------------------------

@dataclass
class Shop:
    """A tenant of the outbound app with one channel (and, for WhatsApp, its twin in the sandbox)."""

    app: Any
    tenant_id: uuid.UUID
    token: str
    channel_id: uuid.UUID
    kind: str
    key: str = ""  # the sandbox's channel key (phone number id, or E.164 for YCloud)
    waba_id: str = ""
    credentials: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def db(self) -> Database:
        db: Database = self.app.state.db
        return db


async def make_shop(app: Any, control: httpx2.AsyncClient | None, kind: str, receiver: Receiver,
                    **channel: Any) -> Shop:
    """A tenant (owner, API token) with a channel of `kind`; WhatsApp channels are registered in the
    sandbox first and created in Tertulia with the sandbox's credentials."""
    slug = f"out-{uuid.uuid4().hex[:10]}"
    credentials: dict[str, Any] = {}
    key = waba = ""
    if kind in ("whatsapp_cloud", "ycloud"):
        assert control is not None
        reply = await control.post("/_sandbox/channels", json={"kind": kind, "webhook_url": receiver.url(slug),
                                                               **channel})
        assert reply.status_code == 201, reply.text
        given = reply.json()["credentials"]
        key, waba = reply.json()["channel"]["key"], given["waba_id"]
        if kind == "whatsapp_cloud":
            credentials = {k: given[k] for k in ("phone_number_id", "waba_id", "access_token", "app_secret")}
        else:
            credentials = {k: given[k] for k in ("api_key", "phone_number", "waba_id", "signing_secret")}
    db: Database = app.state.db
    async with db.session(cross_tenant="the tests make their tenants") as session:
        tenant = await create_tenant(session, slug, f"Tienda {slug}")
        user = await create_user(session, f"owner@{slug}.test", TEST_PASSWORD, "Dueña")
        await add_member(session, tenant, user, "owner")
        _, token = await create_api_token(session, tenant, "tests")
        made, _ = await create_channel(session, SecretBox(app.state.settings.resolved_secret_key()), tenant.id, kind,
                                       f"Canal {kind}", kind, credentials or None)
        made.account_id = key or None
    return Shop(app, tenant.id, token, made.id, kind, key, waba, credentials)


async def customer_writes(shop: Shop, control: httpx2.AsyncClient, text: str = "Hola", *,
                          customer: str | None = None, name: str = "Lucía", at: datetime | None = None) -> dict[str, Any]:
    """A customer writes on the sandbox's phone; the message reaches Tertulia as the webhook would
    bring it (same wamid, the provider's timestamp). Answers {conversation_id, message_id, wamid}."""
    customer = customer or CUSTOMER[shop.kind]
    spec: dict[str, Any] = {"channel": shop.key, "from": customer, "name": name, "type": "text", "text": text}
    if at is not None:
        spec["timestamp"] = at.timestamp()
    reply = await control.post("/_sandbox/messages", json=spec)
    assert reply.status_code == 200, reply.text
    wamid = reply.json()["message_id"]
    stored = await shop.app.state.inbound_writer.submit(InboundDelivery(shop.channel_id, InboundMessage(
        external_message_id=wamid, contact=InboundContact(external_id=customer, name=name,
                                                          phone=customer if customer.startswith("+") else f"+{customer}"),
        content=text, timestamp=at or datetime.now(UTC))))
    return {"conversation_id": str(stored.conversation_id), "message_id": stored.message_id, "wamid": wamid}


async def eventually(check: Callable[[], Any], within: float = 10.0, what: str = "the condition") -> Any:
    """Poll an async or plain check until it answers something truthy (which is returned)."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def message_of(api: httpx2.AsyncClient, shop: Shop, conversation_id: str, message_id: int) -> dict[str, Any]:
    messages = (await api.get(f"/admin/chats/{conversation_id}/messages", headers=shop.headers,
                              params={"after_id": 0, "limit": 500})).json()
    found: dict[str, Any] = next(m for m in messages if m["id"] == message_id)
    return found


async def settled(api: httpx2.AsyncClient, shop: Shop, conversation_id: str, message_id: int,
                  statuses: tuple[str, ...] = ("sent", "failed"), within: float = 10.0) -> dict[str, Any]:
    """The message once its status is one of `statuses`."""
    async def check() -> dict[str, Any] | None:
        found = await message_of(api, shop, conversation_id, message_id)
        return found if found["status"] in statuses else None

    result: dict[str, Any] = await eventually(check, within, f"message {message_id} to be {'/'.join(statuses)}")
    return result


def sent_log(sandbox: SandboxServer, shop: Shop, recipient: str | None = None) -> list[dict[str, Any]]:
    return [m.public() for m in sandbox.state.sent_log(shop.key, recipient)]
