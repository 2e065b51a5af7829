"""The OpenAI-compatible provider against a local server speaking OpenAI's streaming wire format."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tertulia.assistants.providers.base import (
    ChatMessage,
    ProviderError,
    ProviderRequest,
    ToolCall,
    ToolSpec,
)
from tertulia.assistants.providers.network import Backoff
from tertulia.assistants.providers.openai_provider import OpenAIProvider
from tests.assistants.provider_helpers import FAST, TAG_TOOL, Collector
from tests.fakes import FakeOpenAIServer, ToolCallScript


def request(*messages: ChatMessage, tools: list[ToolSpec] | None = None, **kw: object) -> ProviderRequest:
    msgs = list(messages) or [ChatMessage("system", "Eres Nora."), ChatMessage("user", "Hola")]
    return ProviderRequest(model="qwen3:8b", messages=msgs, tools=tools or [], **kw)  # type: ignore[arg-type]


def provider(fake: FakeOpenAIServer, key: str | None = "sk-test", **kw: object) -> OpenAIProvider:
    opts: dict[str, object] = {"timeout": 5, "max_retries": 3, "backoff": FAST, **kw}
    return OpenAIProvider(fake.base_url, key, **opts)  # type: ignore[arg-type]


async def test_streams_text_in_order_with_usage_and_sends_what_it_was_given(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.api_key = "sk-test"
    fake_openai.reply(["Hola", ", soy ", "Nora. ", "¿En qué te ayudo?"], prompt_tokens=42, completion_tokens=8)
    seen = Collector()
    result = await provider(fake_openai).complete(request(temperature=0.3, max_output_tokens=200), seen)

    assert seen.text == ["Hola", ", soy ", "Nora. ", "¿En qué te ayudo?"]
    assert result.text == "Hola, soy Nora. ¿En qué te ayudo?"
    assert (result.tokens_in, result.tokens_out) == (42, 8)
    assert result.finish_reason == "stop" and result.model == "qwen3:8b" and result.tool_calls == []

    sent = fake_openai.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "qwen3:8b" and sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.json["messages"] == [{"role": "system", "content": "Eres Nora."}, {"role": "user", "content": "Hola"}]
    assert sent.json["temperature"] == 0.3 and sent.json["max_tokens"] == 200
    assert "tools" not in sent.json


async def test_tool_calls_are_assembled_from_fragments(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply(tool_calls=[ToolCallScript("add_tag", {"tag": "vip"}, id="call_1"),
                                  ToolCallScript("handoff_to_human", {"reason": "pide reembolso"}, id="call_2")])
    result = await provider(fake_openai).complete(request(tools=[TAG_TOOL]))

    assert result.finish_reason == "tool_calls" and result.text == ""
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in result.tool_calls] == [
        ("call_1", "add_tag", {"tag": "vip"}, ""),
        ("call_2", "handoff_to_human", {"reason": "pide reembolso"}, ""),
    ]
    assert fake_openai.last_request.json["tools"] == [{"type": "function", "function": {
        "name": "add_tag", "description": "Tag the conversation", "parameters": TAG_TOOL.parameters}}]


async def test_invalid_tool_arguments_are_kept_raw(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.tool_call("add_tag", '{"tag": "vip"')  # the model stopped mid-JSON
    result = await provider(fake_openai).complete(request(tools=[TAG_TOOL]))
    [call] = result.tool_calls
    assert call.name == "add_tag" and call.arguments == {} and call.raw_arguments == '{"tag": "vip"'
    assert call.id.startswith("call_")


async def test_tool_round_trip_is_sent_in_openai_shape(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("Listo, te he etiquetado.")
    history = [
        ChatMessage("system", "Eres Nora."),
        ChatMessage("user", "Soy cliente VIP"),
        ChatMessage("assistant", "", tool_calls=[ToolCall("call_9", "add_tag", {"tag": "vip"})]),
        ChatMessage("tool", '{"ok": true}', tool_call_id="call_9", name="add_tag"),
    ]
    result = await provider(fake_openai).complete(request(*history, tools=[TAG_TOOL]))
    assert result.text == "Listo, te he etiquetado."
    assert fake_openai.last_request.json["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "add_tag", "arguments": '{"tag": "vip"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": '{"ok": true}'},
    ]


async def test_reasoning_is_captured_and_never_mixed_into_the_text(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("El envío tarda 48 h.", reasoning="El cliente pregunta por plazos. ")
    fake_openai.reply(["<think>Busco la política", " de envíos.</think>\n\n", "Tarda ", "48 h."],
                      reasoning_field="reasoning")
    p = provider(fake_openai)

    seen = Collector()
    first = await p.complete(request(), seen)
    assert first.reasoning == "El cliente pregunta por plazos. "
    assert first.text == "El envío tarda 48 h."
    assert seen.deltas[0].reasoning and not seen.deltas[0].text  # reasoning streams first

    seen = Collector()
    second = await p.complete(request(), seen)
    assert second.reasoning == "Busco la política de envíos."
    assert second.text == "Tarda 48 h."
    assert "".join(seen.text) == "Tarda 48 h."
    assert all("<think>" not in d.text and "</think>" not in d.text for d in seen.deltas)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_errors_are_retried_then_succeed(fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.fail(status, times=2)
    fake_openai.reply("Ya estoy aquí.")
    result = await provider(fake_openai).complete(request())
    assert result.text == "Ya estoy aquí."
    assert len(fake_openai.requests) == 3


async def test_retry_after_is_honoured_within_the_cap(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(429, retry_after=0.3)
    fake_openai.reply("ok")
    started = time.monotonic()
    await provider(fake_openai, backoff=Backoff(base=0.01, cap=1.0)).complete(request())
    assert time.monotonic() - started >= 0.3


async def test_gives_up_after_retries_with_a_retryable_unavailable_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(500, times=3, message="CUDA out of memory")
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai, max_retries=2).complete(request())
    err = caught.value
    assert err.code == "provider_unavailable" and err.retryable
    assert "3 attempts" in err.message and "CUDA out of memory" in err.message and fake_openai.base_url in err.message
    assert len(fake_openai.requests) == 3


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_key_is_not_retried_and_says_so(fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.fail(status)
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai, key="sk-wrong").complete(request())
    err = caught.value
    assert (err.code, err.retryable, err.status_code) == ("provider_auth", False, status)
    assert f"the API key was rejected by {fake_openai.base_url}" in err.message
    assert len(fake_openai.requests) == 1


async def test_server_checking_the_key_rejects_a_wrong_one(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.api_key = "sk-right"
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai, key="sk-wrong").complete(request())
    assert caught.value.code == "provider_auth" and "Incorrect API key" in caught.value.message


async def test_empty_key_sends_a_placeholder_for_local_servers(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("hola")
    await provider(fake_openai, key=None).complete(request())
    assert fake_openai.last_request.headers["authorization"].startswith("Bearer ")


async def test_bad_request_is_not_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(404, message="model 'qwen9' not found")
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai).complete(request())
    assert caught.value.code == "provider_not_found" and not caught.value.retryable
    assert "model 'qwen9' not found" in caught.value.message
    assert len(fake_openai.requests) == 1


async def test_a_stall_before_the_first_byte_times_out_and_is_retryable(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("tarde", hold=fake_openai.gate())
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai, timeout=0.3, max_retries=0).complete(request())
    assert caught.value.retryable and caught.value.code == "provider_unavailable"
    assert "did not answer within 0.3 s" in caught.value.message
    assert time.monotonic() - started < 10  # bounded by the timeout, not the 60 s default (slack for a busy machine)


async def test_a_stall_then_a_good_answer_on_retry(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("tarde", hold=fake_openai.gate())
    fake_openai.reply("a tiempo")
    result = await provider(fake_openai, timeout=0.3, max_retries=1).complete(request())
    assert result.text == "a tiempo" and len(fake_openai.requests) == 2


async def test_a_stall_mid_stream_is_not_retried_behind_the_callers_back(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply(["Primera parte. ", "Segunda parte."], hold=fake_openai.gate(), hold_after=1)
    fake_openai.reply("otra respuesta")
    seen = Collector()
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai, timeout=0.3).complete(request(), seen)
    assert caught.value.code == "provider_interrupted" and caught.value.retryable
    assert seen.text == ["Primera parte. "]
    assert len(fake_openai.requests) == 1 and fake_openai.pending == 1


async def test_a_held_stream_continues_when_released(fake_openai: FakeOpenAIServer) -> None:
    gate = fake_openai.gate()
    fake_openai.reply(["Uno ", "dos ", "tres."], hold=gate, hold_after=2)
    seen = Collector()
    task = asyncio.create_task(provider(fake_openai).complete(request(), seen))
    await gate.wait_reached()
    await seen.wait_for_text(2)
    assert seen.text == ["Uno ", "dos "]  # and nothing more while the server holds the rest
    gate.release()
    result = await asyncio.wait_for(task, 5)
    assert result.text == "Uno dos tres."


async def test_a_dropped_connection_before_any_text_is_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("nunca llega", drop_after=0)
    fake_openai.reply("segunda vez")
    result = await provider(fake_openai).complete(request())
    assert result.text == "segunda vez"


async def test_an_unreachable_server_is_a_retryable_connection_failure() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = OpenAIProvider(f"http://127.0.0.1:{port}/v1", None, timeout=2, max_retries=1, backoff=FAST)
    with pytest.raises(ProviderError) as caught:
        await p.complete(request())
    assert caught.value.retryable and caught.value.code == "provider_unavailable"
    assert "could not reach" in caught.value.message


async def test_a_tool_result_without_its_call_is_a_clear_non_retryable_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.reply("nunca")
    history = [ChatMessage("user", "Hola"), ChatMessage("tool", "{}", tool_call_id="call_x", name="add_tag")]
    with pytest.raises(ProviderError) as caught:
        await provider(fake_openai).complete(request(*history))
    assert caught.value.code == "provider_bad_request" and not caught.value.retryable
    assert "role 'tool' must be a response" in caught.value.message and len(fake_openai.requests) == 1
