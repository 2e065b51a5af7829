"""Anthropic's Messages API through the official `anthropic` SDK, streamed.

The Messages API differs from chat completions in ways this module hides from the orchestrator:
the system prompt is a separate parameter, tool calls are `tool_use` content blocks whose input
arrives as JSON fragments, tool results go back as `tool_result` blocks inside a *user* turn,
and reasoning comes as `thinking` blocks. The assistant's temperature is not sent (see _params).
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic

from tertulia.assistants.providers.base import (
    ChatMessage,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    ToolCall,
)
from tertulia.assistants.providers.network import (
    Failure,
    NetworkProvider,
    StreamTracker,
    parse_tool_call,
)

ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"
# The Messages API requires max_tokens; this is enough for a chat reply.
DEFAULT_MAX_TOKENS = 1024
# Error types Anthropic reports inside a 200 stream that are worth another attempt.
TRANSIENT_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


class AnthropicProvider(NetworkProvider):
    name = "anthropic"
    default_base_url = ANTHROPIC_DEFAULT_BASE_URL

    async def _stream(self, http: httpx2.AsyncClient, params: dict[str, Any], tracker: StreamTracker,
                      model: str) -> ProviderResult:
        async with AsyncAnthropic(base_url=self.target, api_key=self.api_key, timeout=self.timeout, max_retries=0,
                                  http_client=http) as client:
            stream = await client.messages.create(**params)
            async with stream:
                return await _read_stream(stream, tracker, model)

    def _params(self, request: ProviderRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": to_anthropic_messages(request.messages),
            "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                               for t in request.tools]
        else:
            used = sorted({c.name for m in request.messages for c in m.tool_calls})
            if used:
                # A last round without tools (the orchestrator's way to ask for a final answer) still
                # carries tool_use/tool_result blocks, and the API refuses those unless tools are
                # defined: declare the ones used and forbid calling them.
                params["tools"] = [{"name": n, "description": "not available now", "input_schema": {"type": "object"}}
                                   for n in used]
                params["tool_choice"] = {"type": "none"}
        # No temperature: API version 2026-10-21 (what SDK 2.x speaks) rejects sampling parameters
        # with a 400, and the SDK no longer accepts them.
        return params

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, anthropic.APITimeoutError):
            return self._timed_out()
        if isinstance(exc, anthropic.APIConnectionError):
            return self._unreachable(exc)
        if isinstance(exc, anthropic.APIStatusError):
            kind, detail = _error_detail(exc.body)
            detail = detail or exc.message
            if exc.status_code < 400 and kind:
                # An `event: error` inside a 200 stream, e.g. overloaded_error under heavy load.
                return Failure(ProviderError(f"{self.target} reported {kind} while streaming: {detail}",
                                             retryable=kind in TRANSIENT_ERROR_TYPES, code="provider_server_error"))
            return self._refused(exc.status_code, detail, exc.response.headers.get("retry-after"))
        if isinstance(exc, anthropic.APIError):
            return Failure(ProviderError(f"{self.target} failed while streaming: {exc.message}",
                                         retryable=True, code="provider_server_error"))
        return None


def _error_detail(body: object) -> tuple[str, str]:
    """(error type, message) from Anthropic's {"type": "error", "error": {"type", "message"}}."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type") or ""), str(inner.get("message") or "")
    if isinstance(body, str):
        return "", body[:500]
    return "", ""


def to_anthropic_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Chat messages as Messages API turns: system prompts removed (they go in `system`), tool
    results as `tool_result` blocks of a user turn, and consecutive turns of one role merged, since
    every tool result of an assistant turn must come back together in the next user turn."""
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                          "content": m.content or "(no output)"}])
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            blocks.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                          for c in m.tool_calls)
            add("assistant", blocks)
        elif m.content:
            add("user", [{"type": "text", "text": m.content}])
    if turns and turns[0]["role"] != "user":
        # The Messages API rejects a conversation that opens with the assistant (a greeting sent
        # first, or a history window that starts mid-conversation).
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation so far)"}]})
    return turns


class _Block:
    def __init__(self, kind: str, tool_id: str = "", name: str = "", initial_input: Any = None) -> None:
        self.kind = kind
        self.tool_id = tool_id
        self.name = name
        self.initial_input = initial_input
        self.json_parts: list[str] = []


async def _read_stream(stream: Any, tracker: StreamTracker, requested_model: str) -> ProviderResult:
    text: list[str] = []
    reasoning: list[str] = []
    blocks: dict[int, _Block] = {}
    tool_calls: list[ToolCall] = []
    tokens_in = tokens_out = 0
    model = requested_model
    finish_reason = ""

    async for event in stream:
        kind = getattr(event, "type", "")
        if kind == "message_start":
            message = event.message
            model = getattr(message, "model", None) or model
            usage = getattr(message, "usage", None)
            if usage is not None:
                tokens_in = _input_tokens(usage)
                tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        elif kind == "content_block_start":
            block = event.content_block
            btype = getattr(block, "type", "")
            if btype == "tool_use":
                blocks[event.index] = _Block("tool_use", block.id, block.name, getattr(block, "input", None))
            else:
                blocks[event.index] = _Block(btype)
                # A compatible server may put the first piece of text in the start event.
                initial = getattr(block, "text", None) if btype == "text" else getattr(block, "thinking", None)
                if isinstance(initial, str) and initial:
                    await _emit(tracker, text, reasoning, btype, initial)
        elif kind == "content_block_delta":
            delta = event.delta
            dtype = getattr(delta, "type", "")
            if dtype == "text_delta":
                await _emit(tracker, text, reasoning, "text", delta.text)
            elif dtype == "thinking_delta":
                await _emit(tracker, text, reasoning, "thinking", delta.thinking)
            elif dtype == "input_json_delta":
                current = blocks.get(event.index)
                if current is not None:
                    current.json_parts.append(delta.partial_json)
            # signature_delta and citations_delta carry nothing we keep.
        elif kind == "content_block_stop":
            done = blocks.get(event.index)
            if done is not None and done.kind == "tool_use":
                tool_calls.append(_finish_tool_use(done))
        elif kind == "message_delta":
            stop = getattr(event.delta, "stop_reason", None)
            if stop:
                finish_reason = stop
            usage = getattr(event, "usage", None)
            if usage is not None:
                # Cumulative counts: output always, input on newer API versions.
                tokens_out = int(getattr(usage, "output_tokens", 0) or tokens_out)
                if getattr(usage, "input_tokens", None):
                    tokens_in = _input_tokens(usage)

    return ProviderResult(text="".join(text), tool_calls=tool_calls, reasoning="".join(reasoning),
                          tokens_in=tokens_in, tokens_out=tokens_out, model=model, finish_reason=finish_reason)


async def _emit(tracker: StreamTracker, text: list[str], reasoning: list[str], kind: str, piece: str) -> None:
    if not piece:
        return
    if kind == "text":
        text.append(piece)
        await tracker.emit(text=piece)
    elif kind == "thinking":
        reasoning.append(piece)
        await tracker.emit(reasoning=piece)


def _input_tokens(usage: Any) -> int:
    # Cached prompt tokens are counted apart from input_tokens; all of them were read.
    return sum(int(getattr(usage, f, 0) or 0)
               for f in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def _finish_tool_use(block: _Block) -> ToolCall:
    raw = "".join(block.json_parts)
    if not raw and isinstance(block.initial_input, dict):
        return ToolCall(id=block.tool_id, name=block.name, arguments=block.initial_input)
    return parse_tool_call(block.tool_id, block.name, raw)
