"""The Anthropic provider against a local server speaking the Messages API streaming wire format."""

from __future__ import annotations

import asyncio
import time

import pytest

from tertulia.assistants.providers.anthropic_provider import AnthropicProvider
from tertulia.assistants.providers.base import (
    ChatMessage,
    ProviderError,
    ProviderRequest,
    ToolCall,
    ToolSpec,
)
from tests.assistants.provider_helpers import FAST, TAG_TOOL, Collector
from tests.fakes import FakeAnthropicServer, ToolUseScript


def request(*messages: ChatMessage, tools: list[ToolSpec] | None = None, **kw: object) -> ProviderRequest:
    msgs = list(messages) or [ChatMessage("system", "Eres Nora."), ChatMessage("user", "Hola")]
    return ProviderRequest(model="claude-sonnet-5-5", messages=msgs, tools=tools or [], **kw)  # type: ignore[arg-type]


def provider(fake: FakeAnthropicServer, key: str | None = "sk-ant-test", **kw: object) -> AnthropicProvider:
    opts: dict[str, object] = {"timeout": 5, "max_retries": 3, "backoff": FAST, **kw}
    return AnthropicProvider(fake.base_url, key, **opts)  # type: ignore[arg-type]


async def test_streams_text_and_thinking_with_usage_and_a_separate_system_prompt(
        fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.api_key = "sk-ant-test"
    fake_anthropic.reply(["Hola, ", "soy Nora."], thinking="Saludo cordial.", input_tokens=30, output_tokens=12)
    seen = Collector()
    result = await provider(fake_anthropic).complete(request(temperature=1.4, max_output_tokens=300), seen)

    assert seen.text == ["Hola, ", "soy Nora."]
    assert [d.reasoning for d in seen.deltas if d.reasoning] == ["Saludo ", "cordial."]
    assert seen.deltas.index(next(d for d in seen.deltas if d.text)) > 0  # thinking came first
    assert result.text == "Hola, soy Nora." and result.reasoning == "Saludo cordial."
    assert (result.tokens_in, result.tokens_out) == (30, 12)
    assert result.finish_reason == "end_turn" and result.model == "claude-sonnet-5-5"

    sent = fake_anthropic.last_request
    assert sent.path == "/v1/messages" and sent.headers["authorization"] == "Bearer sk-ant-test"
    assert "anthropic-version" in sent.headers
    assert sent.json["system"] == "Eres Nora."
    assert sent.json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hola"}]}]
    assert sent.json["stream"] is True and sent.json["max_tokens"] == 300
    assert "temperature" not in sent.json  # the current API version rejects sampling parameters


async def test_tool_use_blocks_become_tool_calls(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("Te etiqueto.", tool_uses=[ToolUseScript("add_tag", {"tag": "vip"}, id="toolu_1"),
                                                    ToolUseScript("search_knowledge", {"query": "envíos"},
                                                                  id="toolu_2")])
    result = await provider(fake_anthropic).complete(request(tools=[TAG_TOOL]))
    assert result.finish_reason == "tool_use" and result.text == "Te etiqueto."
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("toolu_1", "add_tag", {"tag": "vip"}), ("toolu_2", "search_knowledge", {"query": "envíos"})]
    assert fake_anthropic.last_request.json["tools"] == [
        {"name": "add_tag", "description": "Tag the conversation", "input_schema": TAG_TOOL.parameters}]


async def test_tool_without_arguments_and_invalid_json(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply(tool_uses=[ToolUseScript("handoff_to_human", {}), ToolUseScript("add_tag", '{"tag": ')])
    result = await provider(fake_anthropic).complete(request(tools=[TAG_TOOL]))
    first, second = result.tool_calls
    assert (first.name, first.arguments, first.raw_arguments) == ("handoff_to_human", {}, "")
    assert (second.name, second.arguments, second.raw_arguments) == ("add_tag", {}, '{"tag": ')


async def test_tool_results_go_back_as_one_user_turn(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("Hecho.")
    history = [
        ChatMessage("system", "Eres Nora."),
        ChatMessage("system", "Responde en español."),
        ChatMessage("user", "Soy VIP y quiero hablar con alguien"),
        ChatMessage("assistant", "Un momento.", tool_calls=[ToolCall("toolu_1", "add_tag", {"tag": "vip"}),
                                                            ToolCall("toolu_2", "handoff_to_human", {"reason": "pide"})]),
        ChatMessage("tool", '{"ok": true}', tool_call_id="toolu_1", name="add_tag"),
        ChatMessage("tool", '{"ok": true}', tool_call_id="toolu_2", name="handoff_to_human"),
    ]
    await provider(fake_anthropic).complete(request(*history, tools=[TAG_TOOL]))
    sent = fake_anthropic.last_request.json
    assert sent["system"] == "Eres Nora.\n\nResponde en español."
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Soy VIP y quiero hablar con alguien"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Un momento."},
            {"type": "tool_use", "id": "toolu_1", "name": "add_tag", "input": {"tag": "vip"}},
            {"type": "tool_use", "id": "toolu_2", "name": "handoff_to_human", "input": {"reason": "pide"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"ok": true}'},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": '{"ok": true}'}]},
    ]


@pytest.mark.parametrize("status", [429, 500, 529])
async def test_transient_errors_are_retried_then_succeed(fake_anthropic: FakeAnthropicServer, status: int) -> None:
    fake_anthropic.fail(status, times=2)
    fake_anthropic.reply("Ya estoy.")
    result = await provider(fake_anthropic).complete(request())
    assert result.text == "Ya estoy." and len(fake_anthropic.requests) == 3


async def test_overloaded_inside_the_stream_is_retried_when_nothing_was_said(
        fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply(stream_error="overloaded_error")
    fake_anthropic.reply("Segundo intento.")
    result = await provider(fake_anthropic).complete(request())
    assert result.text == "Segundo intento." and len(fake_anthropic.requests) == 2


async def test_gives_up_after_retries(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.fail(529, times=2)
    with pytest.raises(ProviderError) as caught:
        await provider(fake_anthropic, max_retries=1).complete(request())
    assert caught.value.code == "provider_unavailable" and caught.value.retryable
    assert "Overloaded" in caught.value.message and "2 attempts" in caught.value.message


async def test_rejected_key_is_not_retried_and_says_so(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.api_key = "sk-ant-right"
    with pytest.raises(ProviderError) as caught:
        await provider(fake_anthropic, key="sk-ant-wrong").complete(request())
    err = caught.value
    assert (err.code, err.retryable, err.status_code) == ("provider_auth", False, 401)
    assert f"the API key was rejected by {fake_anthropic.base_url}" in err.message and "invalid x-api-key" in err.message
    assert len(fake_anthropic.requests) == 1


async def test_a_stall_times_out_as_a_retryable_error(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("tarde", hold=fake_anthropic.gate())
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await provider(fake_anthropic, timeout=0.3, max_retries=0).complete(request())
    assert caught.value.retryable and "did not answer within 0.3 s" in caught.value.message
    assert time.monotonic() - started < 10  # bounded by the timeout, not the 60 s default (slack for a busy machine)


async def test_a_held_stream_continues_when_released(fake_anthropic: FakeAnthropicServer) -> None:
    gate = fake_anthropic.gate()
    fake_anthropic.reply(["Uno ", "dos ", "tres."], hold=gate, hold_after=1)
    seen = Collector()
    task = asyncio.create_task(provider(fake_anthropic).complete(request(), seen))
    await gate.wait_reached()
    await seen.wait_for_text(1)
    assert seen.text == ["Uno "]  # and nothing more while the server holds the rest
    gate.release()
    assert (await asyncio.wait_for(task, 5)).text == "Uno dos tres."


async def test_a_history_opening_with_the_assistant_is_accepted(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("Claro.")
    history = [ChatMessage("system", "Eres Nora."), ChatMessage("assistant", "¡Hola! Soy Nora."),
               ChatMessage("user", "¿Abrís el domingo?")]
    assert (await provider(fake_anthropic).complete(request(*history))).text == "Claro."
    sent = fake_anthropic.last_request.json["messages"]
    assert sent[0]["role"] == "user" and sent[1] == {"role": "assistant",
                                                     "content": [{"type": "text", "text": "¡Hola! Soy Nora."}]}


async def test_a_malformed_history_is_a_clear_non_retryable_error(fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("nunca")
    history = [ChatMessage("user", "Hola"),
               ChatMessage("assistant", "", tool_calls=[ToolCall("toolu_1", "add_tag", {"tag": "vip"})])]
    with pytest.raises(ProviderError) as caught:
        await provider(fake_anthropic).complete(request(*history))
    assert caught.value.code == "provider_bad_request" and not caught.value.retryable
    assert "toolu_1" in caught.value.message and len(fake_anthropic.requests) == 1


async def test_a_final_round_without_tools_still_declares_the_ones_in_the_history(
        fake_anthropic: FakeAnthropicServer) -> None:
    fake_anthropic.reply("Aquí tienes la respuesta final.")
    history = [ChatMessage("user", "Etiquétame"),
               ChatMessage("assistant", "", tool_calls=[ToolCall("toolu_1", "add_tag", {"tag": "vip"})]),
               ChatMessage("tool", '{"ok": true}', tool_call_id="toolu_1", name="add_tag")]
    result = await provider(fake_anthropic).complete(request(*history))  # no tools offered this round
    assert result.text == "Aquí tienes la respuesta final." and result.tool_calls == []
    sent = fake_anthropic.last_request.json
    assert [t["name"] for t in sent["tools"]] == ["add_tag"] and sent["tool_choice"] == {"type": "none"}
