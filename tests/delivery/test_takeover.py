"""The takeover's return: with `ai_resumes_after_minutes` set, a conversation a person took over goes
back to the AI once no person has written in it for that long; unset, it stays with the people."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx2

from tertulia.conversations.service import lock_conversation
from tertulia.conversations.takeover import return_idle_takeovers
from tertulia.kit.db import utcnow
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, customer_writes, make_shop


async def test_a_quiet_takeover_goes_back_to_the_ai_after_the_tenants_time(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    quiet = (await customer_writes(shop, control, "Hola"))["conversation_id"]
    busy = (await customer_writes(shop, control, "Hola", customer="34600444555"))["conversation_id"]
    for conv in (quiet, busy):
        r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers, json={"message": "Te atiendo yo."})
        assert r.json()["is_locked"] is True
    db = out_app.state.db
    later = utcnow() + timedelta(minutes=90)
    assert await return_idle_takeovers(db, later) == 0  # the tenant has not asked for it: never

    r = await api.patch("/admin/tenant", headers=shop.headers, json={"ai_resumes_after_minutes": 60})
    assert r.status_code == 200 and r.json()["ai_resumes_after_minutes"] == 60, r.text
    # A person wrote again in one of them 40 minutes in: its clock starts again.
    async with db.session(shop.tenant_id) as session:
        conv = await lock_conversation(session, shop.tenant_id, uuid.UUID(busy))
        conv.last_human_at = utcnow() + timedelta(minutes=40)
    events = (await api.get("/admin/events", headers=shop.headers)).json()
    assert await return_idle_takeovers(db, later) == 1
    chats = {c["id"]: c for c in (await api.get("/admin/chats/summary", headers=shop.headers)).json()}
    assert chats[quiet]["is_locked"] is False and chats[busy]["is_locked"] is True
    updates = [e for e in (await api.get("/admin/events", headers=shop.headers,
                                         params={"after": events[-1]["seq"]})).json()
               if e["type"] == "conversation.updated"]
    assert [(e["data"]["id"], e["data"]["is_locked"]) for e in updates] == [(quiet, False)]
    assert await return_idle_takeovers(db, later) == 0  # given back once

    # A panel takeover starts the clock too; null turns the return off again.
    lock = await api.post(f"/admin/conversations/{quiet}/human-override", headers=shop.headers,
                          json={"locked": True})
    assert lock.json() == {"locked": True}
    assert await return_idle_takeovers(db, utcnow() + timedelta(minutes=30)) == 0
    r = await api.patch("/admin/tenant", headers=shop.headers, json={"ai_resumes_after_minutes": None})
    assert r.json()["ai_resumes_after_minutes"] is None
    assert await return_idle_takeovers(db, utcnow() + timedelta(days=3)) == 0
    bad = await api.patch("/admin/tenant", headers=shop.headers, json={"ai_resumes_after_minutes": 0})
    assert bad.status_code == 422
