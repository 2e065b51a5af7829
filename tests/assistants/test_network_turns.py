"""Whole AI turns against the local OpenAI- and Anthropic-compatible servers: streaming, tool
rounds, reasoning in the trace, a stalled stream overtaken by a human, failures handed off."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import tertulia.assistants.providers as providers_module
from tertulia.assistants.models import AiTrace
from tests.assistants.conftest import add_knowledge, ai_messages, make_assistant, messages_of, trace_of, wait_until
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer, ToolCallScript
from tests.helpers import post_inbound


@pytest.fixture
def no_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The provider's own retries use real backoff delays; the engine's retry (shortened) is enough here.
    monkeypatch.setattr(providers_module, "NETWORK_MAX_RETRIES", 0)


async def test_openai_turn_with_a_tool_round_and_reasoning(client: Any, make_tenant: Any,
                                                           fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant()
    fake_openai.api_key = "sk-test"
    nora = await make_assistant(client, t, provider="openai", model="qwen3:8b", base_url=fake_openai.base_url,
                                api_key="sk-test", instructions="Eres Nora, de la tienda Relojes Sol.")
    await add_knowledge(client, t, nora["id"], "Garantía", "Todos los relojes tienen garantía de un año.")
    fake_openai.reply(reasoning="El cliente pregunta por garantía; lo marco como interesado.",
                      tool_calls=[ToolCallScript("add_tag", {"name": "Interesado"})])
    fake_openai.reply(["Sí, ", "todos los relojes ", "tienen garantía de un año ", "(«Garantía»)."])
    conv = (await post_inbound(client, t, "¿Los relojes tienen garantía?")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="the reply"))[0]
    assert reply["content"] == "Sí, todos los relojes tienen garantía de un año («Garantía»)."
    first, second = fake_openai.requests[:2]
    system = first.json["messages"][0]["content"]
    assert "Eres Nora, de la tienda Relojes Sol." in system and "garantía de un año" in system  # retrieved
    assert {t_["function"]["name"] for t_ in first.json["tools"]} >= {"add_tag", "search_knowledge"}
    assert first.json["stream"] is True
    assert second.json["messages"][-1]["role"] == "tool" and "Interesado" in second.json["messages"][-1]["content"]
    trace = await trace_of(client, t, reply["correlation_id"])
    assert trace["provider"] == "openai" and trace["model"] == "qwen3:8b" and trace["outcome"] == "sent"
    assert trace["reasoning"] == ["El cliente pregunta por garantía; lo marco como interesado."]
    assert trace["tools_used"][0]["name"] == "add_tag" and trace["tools_used"][0]["result"]["tag"] == "Interesado"
    assert trace["sources"][0]["title"] == "Garantía"
    assert trace["tokens_in"] > 0 and trace["tokens_out"] > 0 and trace["ttft_ms"] is not None


async def test_a_stalled_stream_overtaken_by_a_human_sends_nothing(client: Any, make_tenant: Any, db: Any,
                                                                  fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant()
    await make_assistant(client, t, provider="openai", model="m", base_url=fake_openai.base_url)
    gate = fake_openai.gate()
    fake_openai.reply("Esta respuesta llega tarde.", hold=gate, hold_after=2)
    conv = (await post_inbound(client, t, "¿Tienen envío gratis?")).json()["conversation_id"]
    await gate.wait_reached()  # two chunks are out, the stream is stalled
    r = await client.post("/admin/whatsapp/send", json={"conversation_id": conv, "message": "Te atiendo yo.",
                                                        "channel_source": "api"}, headers=t.headers)
    assert r.status_code in (200, 201, 202), r.text
    gate.release()

    async def superseded() -> Any:
        msgs = await messages_of(client, t, conv)
        return msgs if any(m["author"] == "human" for m in msgs) else None

    await wait_until(superseded, what="the human's message")
    await fake_openai.wait_for_requests(1)

    async def trace_written() -> Any:
        async with db.read_session(t.id) as s:
            return (await s.execute(select(AiTrace).where(AiTrace.tenant_id == t.id))).scalars().first()

    trace = await wait_until(trace_written, what="the superseded trace")
    assert trace.outcome == "superseded" and "person took over" in trace.error
    assert await ai_messages(client, t, conv) == []


async def test_bad_credentials_hand_off_at_once_with_a_clear_reason(client: Any, make_tenant: Any,
                                                                   fake_openai: FakeOpenAIServer,
                                                                   no_sdk_retries: None) -> None:
    t = await make_tenant()
    fake_openai.api_key = "sk-right"
    await make_assistant(client, t, provider="openai", model="m", base_url=fake_openai.base_url, api_key="sk-wrong")
    conv = (await post_inbound(client, t, "hola, ¿precio?")).json()["conversation_id"]

    async def system_note() -> Any:
        return [m for m in await messages_of(client, t, conv) if m["author"] == "system"]

    note = (await wait_until(system_note, what="the handoff note"))[0]
    assert "provider failed" in note["content"]
    assert len(fake_openai.requests) == 1  # not retried: retrying cannot fix a wrong key
    trace = await trace_of(client, t, note["correlation_id"])
    assert trace["outcome"] == "handoff" and trace["error"]


async def test_anthropic_turn_streams_a_reply(client: Any, make_tenant: Any,
                                              fake_anthropic: FakeAnthropicServer) -> None:
    t = await make_tenant()
    await make_assistant(client, t, provider="anthropic", model="claude-test", base_url=fake_anthropic.url,
                         api_key="sk-ant-test", language="en")
    fake_anthropic.reply("We open at nine.")
    conv = (await post_inbound(client, t, "When do you open?")).json()["conversation_id"]
    reply = (await wait_until(lambda: ai_messages(client, t, conv), what="the reply"))[0]
    assert reply["content"] == "We open at nine."
    body = fake_anthropic.requests[0].json
    assert "English" in str(body.get("system")) and body["messages"][-1]["role"] == "user"
    trace = await trace_of(client, t, reply["correlation_id"])
    assert trace["provider"] == "anthropic" and trace["outcome"] == "sent"
