"""Messenger and Instagram end to end against the provider sandbox: Tertulia served over TCP
(`live_server`), the session's sandbox (`provider_sandbox`, where the app's Graph API URL points) signing
and delivering Meta's webhooks to it, the app's media and delivery workers fetching from and
sending to it. Each test connects a page (or Instagram account) of its own."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from sqlalchemy import select

from tertulia.assistants.models import AiJob, AiTrace
from tertulia.conversations.window import page_messaging
from tertulia.kit.db import Database, utcnow
from tertulia.sandbox.server import SandboxServer
from tests.channels.conftest import digits, eventually
from tests.helpers import TenantCtx
from tests.realtime.conftest import LiveServer

KINDS = ["facebook", "instagram"]
ID_FIELD = {"facebook": "page_id", "instagram": "instagram_account_id"}
TOKEN_FIELD = {"facebook": "page_access_token", "instagram": "access_token"}


@pytest.fixture
async def control(provider_sandbox: SandboxServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=provider_sandbox.url, timeout=10) as http:
        yield http


@dataclass
class Page:
    tenant: TenantCtx
    kind: str
    out: dict[str, Any]
    credentials: dict[str, str]
    webhook: str
    customer: str  # the customer's PSID / IGSID (one per test: the sandbox's logs are the session's)

    @property
    def id(self) -> str:
        return str(self.out["id"])

    @property
    def key(self) -> str:
        return self.credentials[ID_FIELD[self.kind]]

    def sign(self, body: bytes) -> dict[str, str]:
        mac = hmac.new(self.credentials["app_secret"].encode(), body, hashlib.sha256).hexdigest()
        return {"content-type": "application/json", "x-hub-signature-256": f"sha256={mac}"}


async def connect_page(client: httpx2.AsyncClient, control: httpx2.AsyncClient, live: LiveServer, sandbox: SandboxServer,
                       t: TenantCtx, kind: str) -> Page:
    credentials = {ID_FIELD[kind]: digits(15), TOKEN_FIELD[kind]: "EAAG" + secrets.token_hex(24),
                   "app_secret": secrets.token_hex(16), "app_id": sandbox.sandbox.config.app_id}
    created = await client.post("/admin/channels", headers=t.headers,
                                json={"kind": kind, "name": f"{kind} {uuid.uuid4().hex[:6]}", "credentials": credentials})
    assert created.status_code == 201, created.text
    out = created.json()
    webhook = live.base_url + urlsplit(out["webhook_url"]).path
    registered = await control.post("/_sandbox/channels", json={
        "kind": kind, "webhook_url": webhook, "verify_token": out["verify_token"], "name": "Café Aurora",
        **{k: v for k, v in credentials.items() if k != "app_id"}})
    assert registered.status_code == 201, registered.text
    return Page(t, kind, out, credentials, webhook, digits(16))


async def writes(control: httpx2.AsyncClient, page: Page, **spec: Any) -> dict[str, Any]:
    """A customer writes through the sandbox; returns once Tertulia answered the webhook with 200."""
    spec.setdefault("from", page.customer)
    spec.setdefault("type", "text")
    response = await control.post("/_sandbox/messages", json={"channel": page.key, **spec})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert [a["status"] for a in result["delivery"]["attempts"]] == [200], result["delivery"]
    return result


async def conversation(client: httpx2.AsyncClient, page: Page) -> dict[str, Any]:
    rows = [r for r in (await client.get("/admin/chats/summary", headers=page.tenant.headers)).json()
            if r["channel_id"] == page.id]
    assert len(rows) == 1, rows
    return dict(rows[0])


async def messages(client: httpx2.AsyncClient, page: Page) -> list[dict[str, Any]]:
    conv = await conversation(client, page)
    response = await client.get(f"/admin/chats/{conv['id']}/messages", headers=page.tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def answered_by_nora(client: httpx2.AsyncClient, page: Page, *, debounce_seconds: float = 0,
                           assistant_id: str | None = None, **channel: Any) -> str:
    """The page answered by an offline assistant (made here unless given); its id."""
    if assistant_id is None:
        made = await client.post("/admin/assistants", headers=page.tenant.headers, json={
            "name": f"Nora {uuid.uuid4().hex[:4]}", "provider": "offline", "debounce_seconds": debounce_seconds})
        assert made.status_code == 201, made.text
        assistant_id = str(made.json()["id"])
    linked = await client.patch(f"/admin/channels/{page.id}", headers=page.tenant.headers,
                                json={"assistant_id": assistant_id, **channel})
    assert linked.status_code == 200, linked.text
    return assistant_id


def sent(sandbox: SandboxServer, page: Page) -> list[dict[str, Any]]:
    return [m.public() for m in sandbox.state.sent_log(page.key) if not m.echo]


# --- connecting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
async def test_a_page_connects_answers_meta_s_verification_and_passes_its_check(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, kind: str) -> None:
    t = await make_tenant()
    page = await connect_page(client, control, live_server, provider_sandbox, t, kind)
    assert page.out["account_id"] == page.key and len(page.out["verify_token"]) >= 16
    assert page.out["webhook_url"].endswith(f"/webhooks/{page.id}")
    assert sorted(page.out["credentials_set"]) == sorted(page.credentials)
    assert page.credentials[TOKEN_FIELD[kind]] not in json.dumps(page.out)
    verified = (await control.post(f"/_sandbox/channels/{page.key}/verify")).json()
    assert verified["ok"] is True, verified

    check = await client.post(f"/admin/channels/{page.id}/check", headers=t.headers)
    assert check.status_code == 200, check.text
    said = json.dumps(check.json()["checks"], ensure_ascii=False)
    assert check.json()["ok"] is True and ("Café Aurora" in said or "negocio.sandbox" in said), said

    wrong = await client.patch(f"/admin/channels/{page.id}", headers=t.headers,
                               json={"credentials": {TOKEN_FIELD[kind]: "EAAG" + secrets.token_hex(24)}})
    assert wrong.status_code == 200, wrong.text
    refused = (await client.post(f"/admin/channels/{page.id}/check", headers=t.headers)).json()
    assert refused["ok"] is False and refused["status"] == "attention"

    missing = await client.post("/admin/channels", headers=t.headers, json={
        "kind": kind, "name": "x", "credentials": {ID_FIELD[kind]: "12345"}})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "invalid_channel_credentials"
    assert "app_secret" in missing.json()["error"]["message"]


# --- what arrives --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_of_customer_event_becomes_what_the_inbox_shows(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, kind: str) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), kind)
    first = await writes(control, page, text="Hola, ¿tienen pastel de fresas?", name="Lucía Pérez")
    await writes(control, page, type="image", text="Este")
    await writes(control, page, type="quick_reply", text="Sí, por favor", payload="CONFIRM_ORDER")
    await writes(control, page, text="¿Y de chocolate?", context=first["message_id"])
    await writes(control, page, type="reaction", target=first["message_id"], emoji="😍")
    gone = await writes(control, page, text="uy, no")
    await writes(control, page, type="revoke", target=gone["message_id"])
    if kind == "instagram":
        await writes(control, page, type="story_mention")
        await writes(control, page, type="story_reply", text="¡Qué rico se ve!", story_id="18000000001")
        await writes(control, page, type="share", url="https://www.instagram.com/p/cafe-aurora/")

    async def arrived() -> list[dict[str, Any]]:
        found = await messages(client, page)
        image = next(m for m in found if m["kind"] == "image")
        assert image["attachments"][0]["status"] == "ready", image["attachments"]  # copied by the media worker
        return found

    found = await eventually(arrived, within=15)
    by_text = {m["content"]: m for m in found}
    hello = by_text["Hola, ¿tienen pastel de fresas?"]
    assert hello["author"] == "contact" and hello["reactions"][0]["emoji"] == "😍"
    image = next(m for m in found if m["kind"] == "image")
    assert image["content"] == "Este" and image["attachments"][0]["url"].startswith("/media/")
    quick = by_text["Sí, por favor"]
    assert quick["kind"] == "button" and quick["extra"]["reply"]["payload"] == "CONFIRM_ORDER"
    assert by_text["¿Y de chocolate?"]["reply_to_id"] == hello["id"]
    assert by_text["uy, no"]["deleted_at"] is not None
    if kind == "instagram":
        mention = next(m for m in found if (m["extra"] or {}).get("story", {}).get("type") == "mention")
        assert mention["content"].startswith("📣") and "/_cdn/" in mention["extra"]["story"]["url"]
        reply = by_text.get("¡Qué rico se ve!\n↩️ Replied to your story: " + str(
            next(m for m in found if (m["extra"] or {}).get("story", {}).get("type") == "reply")["extra"]["story"]["url"]))
        assert reply is not None and reply["extra"]["story"]["id"] == "18000000001"
        share = next(m for m in found if (m["extra"] or {}).get("shares"))
        assert share["extra"]["shares"][0]["url"] == "https://www.instagram.com/p/cafe-aurora/"
    conv = await conversation(client, page)
    assert conv["channel_source"] == kind
    assert conv["display_name"] == "Lucía Pérez"  # the webhook has no name: the profile API gave it
    looked_up = [r for r in provider_sandbox.state.requests if r.get("path", "").endswith(f"/{page.customer}")]
    assert len(looked_up) == 1, looked_up  # once: the contact has its name from then on


async def test_standby_messages_are_kept_but_never_answered(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    page = await connect_page(client, control, live_server, provider_sandbox, t, "facebook")
    await answered_by_nora(client, page, debounce_seconds=60)
    await writes(control, page, text="Hablo con el otro bot", standby=True)
    [stored] = await messages(client, page)
    assert stored["content"] == "Hablo con el otro bot" and stored["extra"]["standby"] is True
    conv_id = uuid.UUID((await conversation(client, page))["id"])

    async def jobs() -> list[AiJob]:
        async with db.read_session(t.id) as session:
            return list((await session.execute(select(AiJob).where(AiJob.conversation_id == conv_id))).scalars())

    assert await jobs() == []  # nobody is asked to answer a thread another app owns
    await writes(control, page, text="Ahora sí, contigo")
    assert len(await jobs()) == 1  # the same conversation in our thread is answered


async def test_signatures_and_another_page_s_entries_are_refused(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "facebook")
    other = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "facebook")
    event = {"sender": {"id": page.customer}, "recipient": {"id": other.key}, "timestamp": int(time.time() * 1000),
             "message": {"mid": "m_" + secrets.token_hex(8), "text": "para otra página"}}
    body = json.dumps({"object": "page", "entry": [{"id": other.key, "time": 1, "messaging": [event]}]}).encode()
    async with httpx2.AsyncClient(timeout=10) as http:
        unsigned = await http.post(page.webhook, content=body, headers={"content-type": "application/json"})
        assert unsigned.status_code == 401
        wrong = await http.post(page.webhook, content=body, headers=other.sign(body))  # another page's secret
        assert wrong.status_code == 401
        foreign = await http.post(page.webhook, content=body, headers=page.sign(body))
        assert foreign.status_code == 200  # logged and set aside: never stored under this tenant
        summary = (await client.get("/admin/chats/summary", headers=page.tenant.headers)).json()
        assert [r for r in summary if r["channel_id"] == page.id] == []


# --- what leaves, and what comes back ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
async def test_a_reply_goes_as_a_response_its_echo_is_stored_once_and_receipts_move_it(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, kind: str) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), kind)
    await writes(control, page, text="¿Abren el domingo?")
    conv = await conversation(client, page)
    queued = await client.post(f"/admin/chats/{conv['id']}/messages", headers=page.tenant.headers,
                               json={"message": "Sí, de 9 a 14 h."})
    assert queued.status_code in (200, 202), queued.text
    message_id = queued.json()["message_id"]

    [out] = await soon(lambda: _one(sent(provider_sandbox, page)))
    assert out["recipient"] == page.customer and out["text"] == "Sí, de 9 a 14 h."
    assert out["request"]["messaging_type"] == "RESPONSE" and "tag" not in out["request"]
    assert out["request"]["message"]["metadata"] == f"tertulia-{message_id}"

    async def status_is(wanted: str) -> dict[str, Any]:
        found = [m for m in await messages(client, page) if m["author"] != "contact"]
        assert len(found) == 1, found  # the echo of our own send is not a second message
        assert found[0]["status"] == wanted, found[0]
        return found[0]

    await eventually(lambda: status_is("sent"))
    # In a thread: the wait must leave this loop free to answer the echo the sandbox is delivering.
    await asyncio.to_thread(provider_sandbox.wait_idle)  # the echo was delivered (and set aside)
    if kind == "facebook":
        response = await control.post("/_sandbox/statuses", json={"message_id": out["message_id"],
                                                                  "status": "delivered"})
        assert response.status_code == 200, response.text
        await eventually(lambda: status_is("delivered"))
    response = await control.post("/_sandbox/statuses", json={"message_id": out["message_id"], "status": "read"})
    assert response.status_code == 200, response.text
    mine = await eventually(lambda: status_is("read"))
    assert mine["author"] == "human" and not mine["is_echo"]
    assert (await conversation(client, page))["is_locked"] is True  # a person wrote: the AI stays out


async def test_a_file_of_ours_is_uploaded_with_the_send(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "facebook")
    await writes(control, page, type="image")

    async def ready() -> str:
        [m] = await messages(client, page)
        assert m["attachments"][0]["status"] == "ready"
        return str(m["attachments"][0]["url"])

    url = await eventually(ready, within=15)
    conv = await conversation(client, page)
    queued = await client.post(f"/admin/chats/{conv['id']}/messages", headers=page.tenant.headers, json={
        "message": "Te lo devuelvo", "attachments": [{"type": "image", "url": url}]})
    assert queued.status_code in (200, 202), queued.text
    text, image = await soon(lambda: _two(sent(provider_sandbox, page)))
    assert text["text"] == "Te lo devuelvo"  # no captions on Messenger: the text goes first
    assert image["type"] == "image" and "/_cdn/" in image["request"]["url"]
    async with httpx2.AsyncClient() as http:
        assert (await http.get(image["request"]["url"])).content[:4] == b"\x89PNG"


@pytest.mark.parametrize("app_id", ["1000000000000099", None])
async def test_a_message_the_page_wrote_elsewhere_is_a_human_echo_and_takes_over(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, app_id: str | None) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "facebook")
    await writes(control, page, text="Hola")
    assert (await conversation(client, page))["is_locked"] is False
    message: dict[str, Any] = {"mid": "m_" + secrets.token_hex(10), "is_echo": True, "text": "Te atiendo yo, Ana"}
    if app_id:
        message["app_id"] = int(app_id)
    event = {"sender": {"id": page.key}, "recipient": {"id": page.customer}, "timestamp": int(time.time() * 1000),
             "message": message}
    body = json.dumps({"object": "page", "entry": [{"id": page.key, "time": 1, "messaging": [event]}]}).encode()
    async with httpx2.AsyncClient(timeout=10) as http:
        for _ in range(2):  # a redelivery changes nothing
            assert (await http.post(page.webhook, content=body, headers=page.sign(body))).status_code == 200
    found = await messages(client, page)
    echo = [m for m in found if m["is_echo"]]
    assert len(echo) == 1 and echo[0]["content"] == "Te atiendo yo, Ana" and echo[0]["author"] == "human"
    assert (await conversation(client, page))["is_locked"] is True


async def test_the_business_suite_echo_through_the_sandbox_takes_over(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "instagram")
    await writes(control, page, text="Hola")
    echoed = await control.post("/_sandbox/echoes", json={"channel": page.key, "to": page.customer,
                                                          "text": "Soy Ana, del equipo"})
    assert echoed.status_code == 200, echoed.text
    found = await messages(client, page)
    assert [m["content"] for m in found if m["is_echo"]] == ["Soy Ana, del equipo"]
    assert (await conversation(client, page))["is_locked"] is True


# --- the windows ------------------------------------------------------------------------------------------

async def test_a_person_may_answer_up_to_seven_days_with_the_human_agent_tag_when_the_channel_allows_it(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "facebook")
    await writes(control, page, text="¿Tienen factura?", timestamp=time.time() - 2 * 86400)
    conv = await conversation(client, page)
    url, headers = f"/admin/chats/{conv['id']}/messages", page.tenant.headers
    refused = await client.post(url, headers=headers, json={"message": "Sí, claro"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "window_closed"
    assert "human_agent_tag" in refused.json()["error"]["message"]

    enabled = await client.patch(f"/admin/channels/{page.id}", headers=headers, json={"human_agent_tag": True})
    assert enabled.status_code == 200 and enabled.json()["human_agent_tag"] is True
    queued = await client.post(url, headers=headers, json={"message": "Sí, claro"})
    assert queued.status_code in (200, 202), queued.text
    [out] = await soon(lambda: _one(sent(provider_sandbox, page)))
    assert out["request"]["messaging_type"] == "MESSAGE_TAG" and out["request"]["tag"] == "HUMAN_AGENT"

    other = await connect_page(client, control, live_server, provider_sandbox, page.tenant, "facebook")
    assert (await client.patch(f"/admin/channels/{other.id}", headers=headers,
                               json={"human_agent_tag": True})).status_code == 200
    await writes(control, other, text="Hola", timestamp=time.time() - 8 * 86400)
    late = await conversation(client, other)
    too_late = await client.post(f"/admin/chats/{late['id']}/messages", headers=headers, json={"message": "Hola"})
    assert too_late.status_code == 409 and too_late.json()["error"]["code"] == "window_closed"

    api_channel = await client.patch(f"/admin/channels/{page.tenant.channel_id}", headers=headers,
                                     json={"human_agent_tag": True})
    assert api_channel.status_code == 422


def test_the_ai_never_uses_the_human_agent_tag() -> None:
    now = utcnow()
    assert page_messaging(now - timedelta(hours=2), human=False, human_agent_tag=True, now=now) == "RESPONSE"
    assert page_messaging(now - timedelta(hours=30), human=False, human_agent_tag=True, now=now) is None
    assert page_messaging(now - timedelta(hours=30), human=True, human_agent_tag=True, now=now) == "HUMAN_AGENT"
    assert page_messaging(now - timedelta(hours=30), human=True, human_agent_tag=False, now=now) is None
    assert page_messaging(now - timedelta(days=8), human=True, human_agent_tag=True, now=now) is None


async def soon(check: Any, within: float = 10.0) -> Any:
    """A plain check's answer once it stops raising AssertionError."""
    async def wrapped() -> Any:
        return check()

    return await eventually(wrapped, within)


def _one(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert len(items) == 1, items
    return items


def _two(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert len(items) == 2, items
    return items


async def test_a_refused_token_pauses_the_channel_and_a_rate_limit_is_retried(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any) -> None:
    page = await connect_page(client, control, live_server, provider_sandbox, await make_tenant(), "instagram")
    await writes(control, page, text="Hola")
    conv = await conversation(client, page)
    url, headers = f"/admin/chats/{conv['id']}/messages", page.tenant.headers
    injected = await control.post("/_sandbox/failures", json={"kind": "429", "channel": page.key})  # Meta's 613
    assert injected.status_code == 201, injected.text
    assert (await client.post(url, headers=headers, json={"message": "Primero"})).status_code in (200, 202)
    await soon(lambda: _one(sent(provider_sandbox, page)))  # it went on a later try

    injected = await control.post("/_sandbox/failures", json={"kind": "190", "channel": page.key})
    assert injected.status_code == 201, injected.text
    assert (await client.post(url, headers=headers, json={"message": "Segundo"})).status_code in (200, 202)

    async def paused() -> dict[str, Any]:
        channel = (await client.get(f"/admin/channels/{page.id}", headers=headers)).json()
        assert channel["status"] == "attention", channel
        return dict(channel)

    channel = await eventually(paused)
    assert "token" in channel["status_reason"]
    assert len(sent(provider_sandbox, page)) == 1  # the second waits for the credentials to be fixed


async def test_the_ai_answers_within_the_window_and_never_after_it_even_with_the_tag(
        client: httpx2.AsyncClient, control: httpx2.AsyncClient, live_server: LiveServer,
        provider_sandbox: SandboxServer, make_tenant: Any, db: Database) -> None:
    t = await make_tenant()
    page = await connect_page(client, control, live_server, provider_sandbox, t, "facebook")
    assistant_id = await answered_by_nora(client, page, debounce_seconds=0, human_agent_tag=True)
    await writes(control, page, text="Hola, ¿a qué hora abren?")
    [reply] = await soon(lambda: _one(sent(provider_sandbox, page)), within=15)
    assert reply["request"]["messaging_type"] == "RESPONSE" and "tag" not in reply["request"]
    assert any(a["action"] == "typing_on" for a in provider_sandbox.state.actions if a["channel"] == page.key)

    other = await connect_page(client, control, live_server, provider_sandbox, t, "facebook")
    await answered_by_nora(client, other, assistant_id=assistant_id, human_agent_tag=True)
    await writes(control, other, text="¿Siguen ahí?", timestamp=time.time() - 2 * 86400)
    conv_id = uuid.UUID((await conversation(client, other))["id"])

    async def skipped() -> AiTrace:
        async with db.read_session(t.id) as session:
            traces = list((await session.execute(select(AiTrace).where(AiTrace.conversation_id == conv_id))).scalars())
        assert len(traces) == 1, traces
        return traces[0]

    trace = await eventually(skipped, within=15)
    assert trace.outcome != "replied" and "window" in (trace.error or ""), (trace.outcome, trace.error)
    assert sent(provider_sandbox, other) == []  # the AI never writes past 24 hours, tag or not
