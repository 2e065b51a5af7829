"""The small interface every AI provider implements (offline, OpenAI-compatible, Anthropic).

The orchestrator speaks only this: a list of chat messages and tool specs in, streamed deltas out
through a callback, one `ProviderResult` at the end. Tool calls are returned, not executed: the
orchestrator runs them and calls `complete` again with their results (at most 5 rounds).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolSpec:
    name: str  # ^[a-zA-Z0-9_-]{1,64}$ (the strictest vendor rule); MCP tools are "mcp__<server>__<tool>"
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str = ""  # as the model sent them, kept for the trace when they were not valid JSON


@dataclass
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant turns that asked for tools
    tool_call_id: str | None = None  # tool results answer this call
    name: str | None = None  # tool name on tool results


@dataclass
class StreamDelta:
    text: str = ""
    reasoning: str = ""


@dataclass
class ProviderRequest:
    model: str
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_output_tokens: int | None = None


@dataclass
class ProviderResult:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""
    finish_reason: str = ""


OnDelta = Callable[[StreamDelta], Awaitable[None]]


class ProviderError(Exception):
    """A provider call that failed. `retryable` (429, 5xx, network, timeout) lets the orchestrator
    back off and try again; otherwise (bad credentials, bad request) it hands off at once."""

    def __init__(self, message: str, *, retryable: bool, code: str = "provider_error",
                 status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status_code = status_code


class Provider(Protocol):
    name: str

    async def complete(self, request: ProviderRequest, on_delta: OnDelta | None = None) -> ProviderResult: ...
