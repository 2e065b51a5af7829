"""The channels' webhooks against the provider sandbox: Tertulia served over real TCP on loopback
(`live_server`), the sandbox in its own thread (`sandbox`, `http` for its control API), and
`connect()`: a channel connected through Tertulia's API and registered in the sandbox with the same
credentials, so that the sandbox signs and delivers webhooks to it as the provider would."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2

from tertulia.channels.models import WebhookEvent
from tertulia.kit.db import Database, tenant_select
from tests.helpers import TenantCtx
from tests.realtime import conftest as realtime_fixtures
from tests.realtime.conftest import LiveServer
from tests.sandbox import conftest as sandbox_fixtures

# The fixtures shared with the realtime tests (Tertulia over TCP) and the sandbox's own tests.
live_server = realtime_fixtures.live_server
_sandbox_server, sandbox, http = sandbox_fixtures._sandbox_server, sandbox_fixtures.sandbox, sandbox_fixtures.http

T = TypeVar("T")
CUSTOMER = {"whatsapp_cloud": "34600111222", "ycloud": "+34600111222"}


def digits(n: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


def new_credentials(kind: str) -> dict[str, str]:
    if kind == "whatsapp_cloud":
        return {"phone_number_id": digits(15), "waba_id": digits(15), "access_token": "EAAG" + secrets.token_hex(24),
                "app_secret": secrets.token_hex(16)}
    return {"api_key": secrets.token_hex(16), "phone_number": "+3491" + digits(7), "waba_id": digits(15),
            "signing_secret": "whsec_" + secrets.token_hex(16)}


@dataclass
class Connected:
    """A channel of a test's tenant, connected in Tertulia and registered in the sandbox."""

    tenant: TenantCtx
    kind: str
    out: dict[str, Any]  # GET /admin/channels/{id}
    credentials: dict[str, str]
    webhook: str  # the live server's URL of the channel's webhook

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.out["id"])

    @property
    def key(self) -> str:  # the sandbox's name for it: phone number id, or the YCloud number
        return self.credentials["phone_number_id" if self.kind == "whatsapp_cloud" else "phone_number"]

    @property
    def customer(self) -> str:
        return CUSTOMER[self.kind]

    def sign(self, body: bytes, at: float | None = None) -> dict[str, str]:
        """Headers that sign `body` as the provider does (a YCloud signature made at `at`)."""
        if self.kind == "whatsapp_cloud":
            mac = hmac.new(self.credentials["app_secret"].encode(), body, hashlib.sha256).hexdigest()
            return {"content-type": "application/json", "x-hub-signature-256": f"sha256={mac}"}
        t = int(time.time() if at is None else at)
        mac = hmac.new(self.credentials["signing_secret"].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return {"content-type": "application/json", "ycloud-signature": f"t={t},s={mac}"}


async def connect(client: httpx2.AsyncClient, http: httpx2.AsyncClient, live: LiveServer, t: TenantCtx,
                  kind: str, *, register: bool = True) -> Connected:
    credentials = new_credentials(kind)
    created = await client.post("/admin/channels", headers=t.headers,
                                json={"kind": kind, "name": f"{kind} channel", "credentials": credentials})
    assert created.status_code == 201, created.text
    out = created.json()
    webhook = live.base_url + urlsplit(out["webhook_url"]).path
    if register:
        extra = {"verify_token": out["verify_token"]} if kind == "whatsapp_cloud" else {}
        registered = await http.post("/_sandbox/channels", json={"kind": kind, "webhook_url": webhook,
                                                                  **credentials, **extra})
        assert registered.status_code == 201, registered.text
    return Connected(t, kind, out, credentials, webhook)


async def customer_writes(http: httpx2.AsyncClient, ch: Connected, **spec: Any) -> dict[str, Any]:
    """A customer of the channel writes through the sandbox; returns once Tertulia answered the webhook."""
    spec.setdefault("from", ch.customer)
    spec.setdefault("type", "text")
    response = await http.post("/_sandbox/messages", json={"channel": ch.key, **spec})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    attempts = result["delivery"]["attempts"]
    assert [a["status"] for a in attempts] == [200], attempts
    return result


async def conversation_of(client: httpx2.AsyncClient, ch: Connected) -> dict[str, Any]:
    rows = [r for r in (await client.get("/admin/chats/summary", headers=ch.tenant.headers)).json()
            if r["platform_origin"] == ch.out["platform_origin"]]
    assert len(rows) == 1, rows
    return dict(rows[0])


async def messages_of(client: httpx2.AsyncClient, ch: Connected) -> list[dict[str, Any]]:
    conv = await conversation_of(client, ch)
    response = await client.get(f"/admin/chats/{conv['id']}/messages", headers=ch.tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def events_of(db: Database, ch: Connected) -> list[WebhookEvent]:
    """The channel's logged webhook events, once each has its outcome (recorded just after the
    provider got its answer)."""
    async def finished() -> list[WebhookEvent]:
        async with db.read_session(ch.tenant.id) as session:
            stmt = tenant_select(WebhookEvent, ch.tenant.id).where(WebhookEvent.channel_id == ch.id).order_by(
                WebhookEvent.id)
            events = list((await session.execute(stmt)).scalars())
        assert all(e.outcome != "pending" for e in events), [e.outcome for e in events]
        return events

    return await eventually(finished)


async def eventually(check: Callable[[], Awaitable[T]], within: float = 10.0) -> T:
    """The check's answer once it stops raising AssertionError (a condition with a deadline)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


def meta_envelope(ch: Connected, value: dict[str, Any], field: str = "messages",
                  phone_number_id: str | None = None) -> dict[str, Any]:
    """A WhatsApp Cloud webhook body for the channel (or, with `phone_number_id`, another number)."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "34910000000",
                          "phone_number_id": phone_number_id or ch.credentials["phone_number_id"]}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": ch.credentials["waba_id"], "changes": [{"field": field, "value": value}]}]}


def meta_message(wamid: str, kind: str, obj: dict[str, Any], *, sender: str = "34600111222",
                 **extra: Any) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": str(int(time.time())), "type": kind, kind: obj, **extra}


async def post_signed(live: httpx2.AsyncClient, ch: Connected, payload: dict[str, Any] | bytes,
                      headers: dict[str, str] | None = None) -> httpx2.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await live.post(ch.webhook, content=body, headers=headers if headers is not None else ch.sign(body))
