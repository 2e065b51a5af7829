"""Auto-replies end to end: customer messages go in through the inbound API, the in-process
worker runs the turn, and what a user would see comes out of the inbox API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog.testing
from sqlalchemy import select, update

from tertulia.assistants.models import AiJob, AiTrace
from tertulia.assistants.orchestrator import Orchestrator
from tertulia.assistants.providers.base import ProviderError
from tertulia.assistants.repository import ClaimedJob
from tertulia.assistants.tasks import AiWorker
from tertulia.kit.db import utcnow
from tests.assistants.conftest import (
    ScriptedProvider,
    add_knowledge,
    ai_messages,
    call,
    held,
    make_assistant,
    messages_of,
    text,
    trace_of,
    wait_until,
)
from tests.helpers import post_inbound


async def traces(db: Any, tenant_id: uuid.UUID, conversation_id: str) -> list[AiTrace]:
    async with db.read_session(tenant_id) as s:
        rows = await s.execute(select(AiTrace).where(AiTrace.tenant_id == tenant_id,
                                                     AiTrace.conversation_id == uuid.UUID(conversation_id))
                               .order_by(AiTrace.id))
        return list(rows.scalars())


async def job_idle(db: Any, tenant_id: uuid.UUID, conversation_id: str) -> bool:
    async with db.read_session(tenant_id) as s:
        state = (await s.execute(select(AiJob.state).where(
            AiJob.tenant_id == tenant_id, AiJob.conversation_id == uuid.UUID(conversation_id)))).scalar_one_or_none()
    return state == "idle"


async def test_offline_answers_from_knowledge_naming_its_source(client: Any, make_tenant: Any, db: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "Horario de atención",
                        "Atendemos de lunes a viernes de 9:00 a 19:00 y los sábados de 10:00 a 14:00.")
    await add_knowledge(client, t, nora["id"], "Envíos", "Hacemos envíos a todo el país en 48 horas.")
    r = await post_inbound(client, t, "¿Cuál es su horario de atención?")
    conv = r.json()["conversation_id"]
    replies = await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    assert len(replies) == 1
    reply = replies[0]
    assert "lunes a viernes de 9:00 a 19:00" in reply["content"]
    assert "Horario de atención" in reply["content"]  # names its source
    assert reply["sender"] == "agent" and reply["correlation_id"] and reply["status"] in ("queued", "sent")
    trace = await trace_of(client, t, reply["correlation_id"])
    assert trace["outcome"] == "sent" and trace["provider"] == "offline"
    assert trace["sources"][0]["title"] == "Horario de atención"
    assert trace["tools_used"][0]["name"] == "search_knowledge"
    assert trace["tools_used"][0]["arguments"]["query"] == "¿Cuál es su horario de atención?"
    assert trace["output"] == reply["content"] and trace["latency_ms"] > 0 and trace["ttft_ms"] is not None
    # Accents and plurals do not matter to the customer.
    r = await post_inbound(client, t, "hacen envios?", external_id="cust-2")
    conv2 = r.json()["conversation_id"]
    replies = await wait_until(lambda: ai_messages(client, t, conv2), what="the second reply")
    assert "48 horas" in replies[0]["content"] and "Envíos" in replies[0]["content"]


async def test_offline_hands_off_when_nothing_relevant(client: Any, make_tenant: Any, db: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, handoff_message="Te paso con una persona del equipo.")
    await add_knowledge(client, t, nora["id"], "Horario", "Atendemos de lunes a viernes de 9:00 a 19:00.")
    r = await post_inbound(client, t, "¿Venden repuestos para bicicletas eléctricas?")
    conv = r.json()["conversation_id"]

    async def locked() -> bool:
        rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
        return any(c["id"] == conv and c["is_locked"] for c in rows)

    await wait_until(locked, what="the conversation to be handed to a human")
    msgs = await messages_of(client, t, conv)
    ai = [m for m in msgs if m["author"] == "ai"]
    notes = [m for m in msgs if m["author"] == "system"]
    assert [m["content"] for m in ai] == ["Te paso con una persona del equipo."]
    assert len(notes) == 1 and "repuestos para bicicletas" in notes[0]["content"]
    trace = await trace_of(client, t, ai[0]["correlation_id"])
    assert trace["outcome"] == "handoff" and "repuestos para bicicletas" in trace["error"]
    # While a person owns it, the AI stays quiet.
    await post_inbound(client, t, "¿Hola?")
    await wait_until(lambda: _inbound_count(client, t, conv, 2), what="the second inbound")
    assert len(await ai_messages(client, t, conv)) == 1


async def _inbound_count(client: Any, t: Any, conv: str, n: int) -> bool:
    return len([m for m in await messages_of(client, t, conv) if m["author"] == "contact"]) >= n


async def test_a_burst_becomes_one_turn_and_one_reply(client: Any, make_tenant: Any, db: Any, inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, debounce_seconds=0.4, provider="offline")
    provider = inject(nora["id"], ScriptedProvider(text("Claro, te ayudo con eso.")))
    first = await post_inbound(client, t, "hola")
    conv = first.json()["conversation_id"]
    await post_inbound(client, t, "quería preguntar")
    await post_inbound(client, t, "¿tienen talla M?")
    await wait_until(lambda: ai_messages(client, t, conv), what="the reply")
    await wait_until(lambda: job_idle(db, t.id, conv), what="the turn to finish")
    assert len(await ai_messages(client, t, conv)) == 1
    assert len(provider.requests) == 1
    last = provider.requests[0].messages[-1]
    assert last.role == "user" and last.content == "hola\nquería preguntar\n¿tienen talla M?"


async def test_human_takes_over_while_the_reply_is_generated(client: Any, make_tenant: Any, db: Any,
                                                             inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    gate = asyncio.Event()
    provider = inject(nora["id"], ScriptedProvider(held(gate, text("Respuesta tardía"))))
    conv = (await post_inbound(client, t, "¿Tienen stock?")).json()["conversation_id"]
    await asyncio.wait_for(provider.started.wait(), 10)
    r = await client.post(f"/admin/conversations/{conv}/human-override", json={"locked": True}, headers=t.headers)
    assert r.status_code == 200 and r.json()["locked"] is True
    gate.set()
    rows = await wait_until(lambda: traces(db, t.id, conv), what="the trace")
    assert rows[0].outcome == "superseded" and "person took over" in (rows[0].error or "")
    assert await ai_messages(client, t, conv) == []


async def test_a_newer_message_supersedes_the_reply_under_way(client: Any, make_tenant: Any, db: Any,
                                                              inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    gate = asyncio.Event()
    provider = inject(nora["id"], ScriptedProvider(held(gate, text("Respuesta a lo primero")),
                                                   text("Respuesta a todo")))
    conv = (await post_inbound(client, t, "primera pregunta")).json()["conversation_id"]
    await asyncio.wait_for(provider.started.wait(), 10)
    await post_inbound(client, t, "segunda pregunta")
    gate.set()
    replies = await wait_until(lambda: ai_messages(client, t, conv), what="the reply to the newer turn")
    await wait_until(lambda: job_idle(db, t.id, conv), what="the turn to finish")
    assert [m["content"] for m in await ai_messages(client, t, conv)] == ["Respuesta a todo"]
    outcomes = [(tr.outcome, tr.error) for tr in await traces(db, t.id, conv)]
    assert ("superseded", "a newer customer message arrived") in outcomes
    assert [o for o, _ in outcomes].count("sent") == 1
    assert replies[0]["correlation_id"]


async def test_a_turn_run_twice_replies_once(client: Any, make_tenant: Any, db: Any, inject: Any, app: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, debounce_seconds=120)  # the worker leaves it to us
    inject(nora["id"], ScriptedProvider(text("Una sola respuesta")))
    conv = (await post_inbound(client, t, "hola, ¿precio?")).json()["conversation_id"]
    async with db.session(t.id) as s:
        job = (await s.execute(select(AiJob).where(AiJob.tenant_id == t.id,
                                                   AiJob.conversation_id == uuid.UUID(conv)))).scalar_one()
        job.state, job.lease_token, job.locked_until = "running", "lease-1", utcnow()
        claimed = ClaimedJob(job.id, t.id, job.conversation_id, job.assistant_id, job.last_inbound_message_id,
                             "lease-1", 1)
    engine = Orchestrator(db, app.state.secret_box, app.state.ai_worker.config)
    outcomes = await asyncio.gather(engine.run_job(claimed), engine.run_job(claimed))
    assert sorted(outcomes) == ["sent", "superseded"]
    assert [m["content"] for m in await ai_messages(client, t, conv)] == ["Una sola respuesta"]
    assert "already answered" in (next(tr for tr in await traces(db, t.id, conv) if tr.outcome == "superseded").error
                                  or "")


async def test_a_dead_workers_turn_is_taken_over_once(client: Any, make_tenant: Any, db: Any, inject: Any,
                                                       app: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, debounce_seconds=120)
    inject(nora["id"], ScriptedProvider(text("Retomado")))
    conv = (await post_inbound(client, t, "¿siguen ahí?")).json()["conversation_id"]
    # A worker claimed the turn and died: its lease is all that is left, and it runs out.
    async with db.session(t.id) as s:
        await s.execute(update(AiJob).where(AiJob.tenant_id == t.id, AiJob.conversation_id == uuid.UUID(conv))
                        .values(state="running", lease_token="dead-worker", attempts=1, locked_until=utcnow()))
    app.state.ai_worker.notify()
    replies = await wait_until(lambda: ai_messages(client, t, conv), what="the reply of the surviving worker")
    await wait_until(lambda: job_idle(db, t.id, conv), what="the turn to finish")
    assert [m["content"] for m in replies] == ["Retomado"]
    assert len(await ai_messages(client, t, conv)) == 1


async def test_provider_failure_hands_off_with_the_reason(client: Any, make_tenant: Any, db: Any, inject: Any,
                                                          fast_engine: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t)
    provider = inject(nora["id"], ScriptedProvider(ProviderError("upstream returned 503", retryable=True,
                                                                 code="server_error", status_code=503)))
    conv = (await post_inbound(client, t, "¿Hacen factura?")).json()["conversation_id"]
    rows = await wait_until(lambda: traces(db, t.id, conv), what="the trace")
    trace = rows[0]
    assert trace.outcome == "handoff"
    assert "upstream returned 503" in (trace.error or "")
    assert len(provider.requests) == 1 + fast_engine.provider_retries  # retried, then gave up
    assert [s["type"] for s in trace.steps].count("error") == len(provider.requests)
    msgs = await messages_of(client, t, conv)
    assert [m["author"] for m in msgs] == ["contact", "ai", "system"]  # nothing lost, the customer is told
    assert "upstream returned 503" in msgs[-1]["content"]
    listing = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert next(c for c in listing if c["id"] == conv)["is_locked"] is True


async def test_tool_rounds_errors_go_back_to_the_model(client: Any, make_tenant: Any, db: Any,
                                                       inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="openai", model="scripted-1")
    provider = inject(nora["id"], ScriptedProvider(
        call("add_tag", nombre="VIP"),  # wrong argument name
        call("add_tag", name="Cliente VIP"),
        text("Listo, te marqué como cliente VIP.")))
    conv = (await post_inbound(client, t, "soy cliente frecuente")).json()["conversation_id"]
    replies = await wait_until(lambda: ai_messages(client, t, conv), what="the reply")
    trace = await trace_of(client, t, replies[0]["correlation_id"])
    tools = trace["tools_used"]
    assert [s["name"] for s in tools] == ["add_tag", "add_tag"]
    assert "invalid arguments" in tools[0]["error"] and "name" in tools[0]["error"]
    assert tools[1]["result"]["tag"] == "Cliente VIP" and tools[1]["duration_ms"] >= 0
    # The model saw the error as the tool's result.
    second = provider.requests[1].messages[-1]
    assert second.role == "tool" and "invalid arguments" in second.content
    listing = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert [tag["name"] for tag in next(c for c in listing if c["id"] == conv)["tags"]] == ["Cliente VIP"]


async def test_at_most_five_tool_rounds(client: Any, make_tenant: Any, db: Any, inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="openai", model="scripted-1")
    await add_knowledge(client, t, nora["id"], "Precios", "La camiseta cuesta 20 euros.")

    async def final_or_search(request: Any) -> Any:
        return call("search_knowledge", query="precio") if request.tools else text("Cuesta 20 euros.")

    provider = inject(nora["id"], ScriptedProvider(final_or_search))
    conv = (await post_inbound(client, t, "¿precio de la camiseta?")).json()["conversation_id"]
    replies = await wait_until(lambda: ai_messages(client, t, conv), what="the reply")
    assert replies[0]["content"] == "Cuesta 20 euros."
    assert len(provider.requests) == 6 and provider.requests[-1].tools == []
    trace = await trace_of(client, t, replies[0]["correlation_id"])
    assert len(trace["tools_used"]) == 5 and trace["sources"][0]["title"] == "Precios"


async def test_disabled_assistant_or_unlinked_channel_stays_silent(client: Any, make_tenant: Any, db: Any) -> None:
    t = await make_tenant()
    await make_assistant(client, t, enabled=False)
    conv = (await post_inbound(client, t, "hola")).json()["conversation_id"]
    async with db.read_session(t.id) as s:
        jobs = (await s.execute(select(AiJob).where(AiJob.tenant_id == t.id))).scalars().all()
    assert jobs == []
    assert await ai_messages(client, t, conv) == []


async def test_two_workers_share_the_queue_without_double_replies(client: Any, make_tenant: Any, db: Any,
                                                                 inject: Any, app: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="openai", model="scripted-1")
    inject(nora["id"], ScriptedProvider(text("Respuesta")))
    other = AiWorker(db, app.state.secret_box, concurrency=4, poll_seconds=0.02)  # as `tertulia worker` would
    runner = asyncio.create_task(other.run())
    try:
        posted = await asyncio.gather(*(post_inbound(client, t, f"pregunta {i}", external_id=f"c{i}")
                                        for i in range(12)))
        convs = [r.json()["conversation_id"] for r in posted]
        for conv in convs:
            await wait_until(lambda conv=conv: job_idle(db, t.id, conv), what="every turn to finish")
        for conv in convs:
            assert [m["content"] for m in await ai_messages(client, t, conv)] == ["Respuesta"]
    finally:
        await other.stop()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_each_run_writes_one_ai_reply_log_line(client: Any, make_tenant: Any, inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="openai", model="scripted-1")
    inject(nora["id"], ScriptedProvider(text("Hola")))
    with structlog.testing.capture_logs() as logs:
        conv = (await post_inbound(client, t, "hola")).json()["conversation_id"]
        reply = (await wait_until(lambda: ai_messages(client, t, conv), what="the reply"))[0]
        lines = await wait_until(lambda: _ai_reply_lines(logs, reply["correlation_id"]), what="the log line")
    assert len(lines) == 1
    assert lines[0]["outcome"] == "sent" and lines[0]["latency_ms"] > 0 and lines[0]["conversation_id"] == conv


async def _ai_reply_lines(logs: list[dict[str, Any]], correlation_id: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry.get("action") == "ai_reply" and entry.get("correlation_id") == correlation_id]


async def test_a_private_note_is_never_part_of_what_the_ai_reads(client: Any, make_tenant: Any, db: Any,
                                                                  inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, provider="offline")
    provider = inject(nora["id"], ScriptedProvider(text("Claro."), text("Con gusto.")))
    conv = (await post_inbound(client, t, "¿Tienen talla M?")).json()["conversation_id"]
    await wait_until(lambda: ai_messages(client, t, conv), what="the first reply")
    r = await client.post(f"/admin/chats/{conv}/notes", headers=t.headers,
                          json={"content": "Ojo: cliente moroso, no ofrecer crédito"})
    assert r.status_code == 201, r.text
    await post_inbound(client, t, "¿Y a crédito?")

    async def two_replies() -> bool:
        return len(await ai_messages(client, t, conv)) == 2
    await wait_until(two_replies, what="the second reply (the note took nothing over)")
    second = provider.requests[1].messages
    assert [m.content for m in second if m.role != "system"] == ["¿Tienen talla M?", "Claro.", "¿Y a crédito?"]
    assert "moroso" not in repr(second)
