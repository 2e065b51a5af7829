"""Any OpenAI-compatible chat server (OpenAI, Ollama, vLLM, llama.cpp, DeepSeek...) through the
official `openai` SDK, streamed.

Tool calls arrive in fragments keyed by `index` and are put together here; reasoning text is read
from the non-standard `reasoning_content` / `reasoning` delta fields that vLLM, llama.cpp and
DeepSeek send, or from a leading `<think>...</think>` block in the content (models served without
a reasoning parser), so it never reaches a customer.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

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

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(NetworkProvider):
    name = "openai"
    default_base_url = OPENAI_DEFAULT_BASE_URL

    async def _stream(self, http: httpx2.AsyncClient, params: dict[str, Any], tracker: StreamTracker,
                      model: str) -> ProviderResult:
        async with AsyncOpenAI(base_url=self.target, api_key=self.api_key, timeout=self.timeout, max_retries=0,
                               http_client=http) as client:
            stream = await client.chat.completions.create(**params)
            async with stream:
                return await _read_stream(stream, tracker, model)

    def _params(self, request: ProviderRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [_message_param(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            params["tools"] = [
                {"type": "function",
                 "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in request.tools
            ]
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_output_tokens:
            # OpenAI's own API rejects `max_tokens` for reasoning models; most compatible servers
            # only know `max_tokens`.
            key = "max_completion_tokens" if self.target.startswith(OPENAI_DEFAULT_BASE_URL) else "max_tokens"
            params[key] = request.max_output_tokens
        return params

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, openai.APITimeoutError):
            return self._timed_out()
        if isinstance(exc, openai.APIConnectionError):
            return self._unreachable(exc)
        if isinstance(exc, openai.APIStatusError):
            return self._refused(exc.status_code, _error_detail(exc.body) or exc.message,
                                 exc.response.headers.get("retry-after"))
        if isinstance(exc, openai.APIError):
            # An error event inside a 200 stream (e.g. the server ran out of memory mid-answer).
            detail = _error_detail(exc.body) or exc.message
            return Failure(ProviderError(f"{self.target} reported an error while streaming: {detail}",
                                         retryable=True, code="provider_server_error"))
        return None


def _error_detail(body: object) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str):
        return body[:500]
    return ""


def _message_param(m: ChatMessage) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or None,
            "tool_calls": [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments)}}
                for c in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


class _ToolCallParts:
    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class _ThinkSplitter:
    """Routes a leading `<think>...</think>` block of streamed content to reasoning.

    Models served without a reasoning parser put their chain of thought inline; it must not be
    sent to a customer. Only a block at the very start counts (the way those models emit it), and
    tags split across chunks are handled by holding back a few characters.
    """

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self.state = "start"  # start -> thinking -> text, or start -> text
        self.pending = ""

    def feed(self, chunk: str) -> tuple[str, str]:
        """Returns (text, reasoning) that can be released now."""
        self.pending += chunk
        text = reasoning = ""
        if self.state == "start":
            stripped = self.pending.lstrip()
            if stripped.startswith(self.OPEN):
                self.state = "thinking"
                self.pending = stripped[len(self.OPEN):]
            elif self.OPEN.startswith(stripped):
                return "", ""  # could still become "<think>"; wait for more
            else:
                self.state = "text"
        if self.state == "thinking":
            end = self.pending.find(self.CLOSE)
            if end >= 0:
                reasoning = self.pending[:end]
                self.pending = self.pending[end + len(self.CLOSE):].lstrip()
                self.state = "text"
            else:
                keep = _partial_suffix(self.pending, self.CLOSE)
                reasoning = self.pending[: len(self.pending) - keep]
                self.pending = self.pending[len(self.pending) - keep:]
                return "", reasoning
        if self.state == "text":
            text, self.pending = self.pending, ""
        return text, reasoning

    def flush(self) -> tuple[str, str]:
        rest, self.pending = self.pending, ""
        if self.state == "thinking":
            return "", rest
        return rest, ""


def _partial_suffix(s: str, tag: str) -> int:
    """Length of the longest suffix of `s` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(s)), 0, -1):
        if tag.startswith(s[-n:]):
            return n
    return 0


def _delta_reasoning(delta: Any) -> str:
    for field in ("reasoning_content", "reasoning"):
        value = getattr(delta, field, None)
        if isinstance(value, str) and value:
            return value
    return ""


async def _read_stream(stream: Any, tracker: StreamTracker, requested_model: str) -> ProviderResult:
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, _ToolCallParts] = {}
    splitter = _ThinkSplitter()
    tokens_in = tokens_out = 0
    model = requested_model
    finish_reason = ""

    async for chunk in stream:
        if getattr(chunk, "model", None):
            model = chunk.model
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
            tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        for choice in getattr(chunk, "choices", None) or []:
            if getattr(choice, "index", 0) not in (0, None):
                continue  # we never ask for n > 1
            if choice.finish_reason:
                finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            think = _delta_reasoning(delta)
            said = ""
            if delta.content:
                said, inline_think = splitter.feed(delta.content)
                think += inline_think
            if think:
                reasoning.append(think)
            if said:
                text.append(said)
            await tracker.emit(text=said, reasoning=think)
            for position, part in enumerate(delta.tool_calls or []):
                # Some servers omit `index` when they send each call whole; fall back to order.
                index = getattr(part, "index", None)
                key = index if isinstance(index, int) else len(calls) + position
                parts = calls.setdefault(key, _ToolCallParts())
                if part.id:
                    parts.id = part.id
                if part.function is not None:
                    if part.function.name:
                        parts.name = part.function.name
                    if part.function.arguments:
                        parts.arguments.append(part.function.arguments)

    said, think = splitter.flush()
    if said or think:
        text.append(said)
        reasoning.append(think)
        await tracker.emit(text=said, reasoning=think)

    return ProviderResult(
        text="".join(text),
        tool_calls=[_finish_call(calls[k]) for k in sorted(calls)],
        reasoning="".join(reasoning),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        model=model,
        finish_reason=finish_reason,
    )


def _finish_call(parts: _ToolCallParts) -> ToolCall:
    return parse_tool_call(parts.id or f"call_{uuid.uuid4().hex[:24]}", parts.name, "".join(parts.arguments))

