"""Auto-replies through the real OpenAI-compatible provider, against the local server speaking
OpenAI's wire format: what the customer and the agent see, and what the model was sent."""

from __future__ import annotations

import json
from typing import Any

from tests.assistants.conftest import ai_messages, make_assistant, messages_of, trace_of, wait_until
from tests.fakes import FakeOpenAIServer
from tests.helpers import post_inbound


async def test_reply_streams_from_the_server_with_usage_and_reasoning_in_the_trace(
        client: Any, make_tenant: Any, fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant("e2e-openai")
    fake_openai.api_key = "sk-tienda"
    nora = await make_assistant(client, t, provider="openai", model="qwen3:8b", base_url=fake_openai.base_url,
                                api_key="sk-tienda", instructions="Eres Nora, de Café Aurora.")
    fake_openai.reply(["Abrimos ", "de 9:00 ", "a 19:00."], reasoning="Pregunta por el horario.",
                      prompt_tokens=120, completion_tokens=14)

    conv = (await post_inbound(client, t, "¿A qué hora abren?")).json()["conversation_id"]
    [reply] = await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    assert reply["content"] == "Abrimos de 9:00 a 19:00."

    trace = await trace_of(client, t, reply["correlation_id"])
    assert (trace["provider"], trace["model"], trace["outcome"]) == ("openai", "qwen3:8b", "sent")
    assert (trace["tokens_in"], trace["tokens_out"]) == (120, 14)
    assert trace["reasoning"] == ["Pregunta por el horario."]
    assert "Pregunta por el horario" not in reply["content"]

    sent = fake_openai.last_request
    assert sent.headers["authorization"] == "Bearer sk-tienda"  # the stored key, decrypted for the call
    assert sent.json["model"] == "qwen3:8b" and sent.json["stream"] is True
    assert sent.json["messages"][0]["role"] == "system" and "Eres Nora" in sent.json["messages"][0]["content"]
    assert sent.json["messages"][-1] == {"role": "user", "content": "¿A qué hora abren?"}
    assert {"add_tag", "handoff_to_human"} <= {tool["function"]["name"] for tool in sent.json["tools"]}
    assert nora["has_api_key"] is True


async def test_a_tool_call_runs_and_its_result_goes_back_to_the_model(
        client: Any, make_tenant: Any, fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant("e2e-openai")
    await make_assistant(client, t, provider="openai", model="qwen3:8b", base_url=fake_openai.base_url)
    fake_openai.tool_call("add_tag", {"name": "Cliente VIP"})
    fake_openai.reply("Listo, te marqué como cliente VIP.")

    conv = (await post_inbound(client, t, "soy cliente frecuente")).json()["conversation_id"]
    [reply] = await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    assert reply["content"] == "Listo, te marqué como cliente VIP."
    listing = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert [tag["name"] for tag in next(c for c in listing if c["id"] == conv)["tags"]] == ["Cliente VIP"]

    _, second = fake_openai.requests
    call = second.json["messages"][-2]
    assert call["role"] == "assistant" and call["tool_calls"][0]["function"]["name"] == "add_tag"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"name": "Cliente VIP"}
    result = second.json["messages"][-1]
    assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
    assert "Cliente VIP" in result["content"]


async def test_a_rejected_key_hands_the_conversation_to_a_person_with_the_reason(
        client: Any, make_tenant: Any, fake_openai: FakeOpenAIServer) -> None:
    t = await make_tenant("e2e-openai")
    fake_openai.api_key = "sk-correcta"
    await make_assistant(client, t, provider="openai", model="qwen3:8b", base_url=fake_openai.base_url,
                         api_key="sk-caducada")

    conv = (await post_inbound(client, t, "Hola, ¿hacen envíos?")).json()["conversation_id"]

    async def system_note() -> list[dict[str, Any]]:
        return [m for m in await messages_of(client, t, conv) if m.get("author") == "system"]

    [note] = await wait_until(system_note, what="the handoff note")
    assert f"the API key was rejected by {fake_openai.base_url}" in note["content"]
    assert len(fake_openai.requests) == 1  # bad credentials are not retried
    msgs = await messages_of(client, t, conv)
    assert msgs[0]["content"] == "Hola, ¿hacen envíos?"  # the customer's message is kept
    listing = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert next(c for c in listing if c["id"] == conv)["is_locked"] is True
