"""Reactions, edits and revokes: shown on the message they apply to (never as new messages), each
announced as `message.updated`; one whose message is not stored yet waits as a failed event until a
replay applies it (`tertulia webhooks replay`)."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import pytest

from tertulia.config import Settings
from tertulia.kit.db import Database
from tertulia.sandbox.server import SandboxServer
from tests.channels.conftest import (
    Connected,
    connect,
    conversation_of,
    customer_writes,
    events_of,
    messages_of,
    meta_envelope,
    post_signed,
)
from tests.channels.test_statuses_echoes import send_through_provider, shown, store_sent
from tests.core.test_cli import cli
from tests.realtime.conftest import LiveServer

PROVIDERS = ["whatsapp_cloud", "ycloud"]


async def updates_of(client: httpx2.AsyncClient, ch: Connected, message_id: int) -> list[dict[str, Any]]:
    events = (await client.get("/admin/events", headers=ch.tenant.headers, params={"limit": 1000})).json()
    return [e["data"] for e in events if e["type"] == "message.updated" and e["data"]["id"] == message_id]


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_reactions_edits_and_revokes_change_the_message_they_name(
        kind: str, client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        sandbox: SandboxServer, db: Database) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), kind)
    written = await customer_writes(http, ch, text="Reservo para las 8")
    conv = await conversation_of(client, ch)
    ids = await send_through_provider(sandbox, ch, "¡Reservado!")
    ours = await store_sent(db, ch, conv["id"], "¡Reservado!", ids["wamid"])

    await customer_writes(http, ch, type="reaction", target=ids["wamid"], emoji="👍")
    await customer_writes(http, ch, type="reaction", target=ids["wamid"], emoji="❤️")  # replaces the first
    reactions = (await shown(client, ch, ours))["reactions"]
    assert [(r["emoji"], r["by"]) for r in reactions] == [("❤️", "contact")]
    await customer_writes(http, ch, type="reaction", target=ids["wamid"], emoji="")  # removed
    assert (await shown(client, ch, ours))["reactions"] == []
    assert [u["reactions"][0]["emoji"] if u["reactions"] else "" for u in await updates_of(client, ch, ours)] == [
        "👍", "❤️", ""]

    first = (await messages_of(client, ch))[0]
    await customer_writes(http, ch, type="edit", target=written["message_id"], text="Reservo para las 9 en terraza")
    edited = await shown(client, ch, first["id"])
    assert edited["content"] == "Reservo para las 9 en terraza" and edited["edited_at"] is not None
    assert edited["extra"] == {"original": "Reservo para las 8"}  # the team sees both
    # The inbox search finds the edited text (on PostgreSQL the day's words are rebuilt).
    found = await client.get("/admin/chats/summary", params={"q": "terraza", "limit": 1}, headers=ch.tenant.headers)
    assert [r["id"] for r in found.json()] == [conv["id"]]
    await customer_writes(http, ch, type="revoke", target=written["message_id"])
    revoked = await shown(client, ch, first["id"])
    assert revoked["deleted_at"] is not None and revoked["content"] == "Reservo para las 9 en terraza"

    assert len(await messages_of(client, ch)) == 2  # none of them became a message
    assert (await conversation_of(client, ch))["unread_count"] == 1
    assert {e.outcome for e in await events_of(db, ch)} == {"processed"}


async def test_the_business_reacting_from_its_phone_is_the_business_reaction(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud")
    written = await customer_writes(http, ch, text="¡Gracias!")
    await customer_writes(http, ch, type="reaction", target=written["message_id"], emoji="🙏")
    echo = meta_envelope(ch, {"message_echoes": [{
        "from": "34910000000", "to": ch.customer, "id": "wamid.ECHO-REACTION", "timestamp": str(int(time.time())),
        "type": "reaction", "reaction": {"message_id": written["message_id"], "emoji": "😊"}}]},
        field="smb_message_echoes")
    async with httpx2.AsyncClient(timeout=10) as live:
        assert (await post_signed(live, ch, echo)).status_code == 200
    [message] = await messages_of(client, ch)
    assert sorted((r["emoji"], r["by"]) for r in message["reactions"]) == [("😊", "business"), ("🙏", "contact")]


async def test_a_change_to_a_message_not_stored_yet_waits_for_the_replay(
        client: httpx2.AsyncClient, http: httpx2.AsyncClient, live_server: LiveServer, make_tenant: Any,
        sandbox: SandboxServer, db: Database, settings: Settings) -> None:
    ch = await connect(client, http, live_server, await make_tenant(), "whatsapp_cloud")
    await customer_writes(http, ch, text="hola")
    conv = await conversation_of(client, ch)
    ids = await send_through_provider(sandbox, ch, "¿Qué tal?")
    # the customer reacts before the send's answer was stored
    await customer_writes(http, ch, type="reaction", target=ids["wamid"], emoji="😂")
    failed = (await events_of(db, ch))[-1]
    assert failed.outcome == "failed"
    assert failed.error is not None and ids["wamid"] in failed.error and "replay" in failed.error

    ours = await store_sent(db, ch, conv["id"], "¿Qué tal?", ids["wamid"])
    assert (await shown(client, ch, ours))["reactions"] == []
    replayed = await cli(settings, "webhooks", "replay", "--channel", str(ch.id), "--failed")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip().splitlines()[-1] == "replayed 1 webhook event: 1 processed, 0 rejected, 0 failed"
    assert [r["emoji"] for r in (await shown(client, ch, ours))["reactions"]] == ["😂"]
    events = await events_of(db, ch)
    assert events[-1].outcome == "processed" and events[-1].error is None and events[-1].attempts == 2

    before = await messages_of(client, ch)
    again = await cli(settings, "webhooks", "replay", "--channel", str(ch.id), "--since", "2000-01-01")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "replayed 2 webhook events: 2 processed, 0 rejected, 0 failed"
    assert await messages_of(client, ch) == before  # idempotent: nothing moved
    assert (await conversation_of(client, ch))["unread_count"] == 1

    for bad in (["--channel", "nope"], ["--since", "yesterday"]):
        refused = await cli(settings, "webhooks", "replay", *bad)
        assert refused.returncode != 0 and refused.stderr.startswith("error: ")
