"""Helpers for the assistant's tests: an assistant linked to the tenant's channel, a scripted
provider injected per assistant (held at a gate to be "slow", or failing), and waiting on
conditions with deadlines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest

from tertulia.assistants.providers import provider_overrides
from tertulia.assistants.providers.base import (
    ProviderError,
    ProviderRequest,
    ProviderResult,
    StreamDelta,
    ToolCall,
)
from tests.helpers import TenantCtx

Step = ProviderResult | ProviderError | Callable[[ProviderRequest], Awaitable[ProviderResult]]


async def wait_until(check: Callable[[], Awaitable[Any]], *, within: float = 10.0, what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class ScriptedProvider:
    """Answers from a script, one step per call (the last step repeats). A step may be a result,
    an error to raise, or a coroutine function (e.g. one that waits on a gate first)."""

    name = "scripted"

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps) or [ProviderResult(text="ok")]
        self.requests: list[ProviderRequest] = []
        self.started = asyncio.Event()

    async def complete(self, request: ProviderRequest, on_delta: Any = None) -> ProviderResult:
        snapshot = ProviderRequest(model=request.model, messages=list(request.messages), tools=list(request.tools),
                                   temperature=request.temperature, max_output_tokens=request.max_output_tokens)
        self.requests.append(snapshot)
        step = self.steps[min(len(self.requests) - 1, len(self.steps) - 1)]
        self.started.set()
        if isinstance(step, ProviderError):
            raise step
        result = await step(request) if callable(step) else step
        if on_delta is not None and result.text:
            for word in result.text.split(" "):
                await on_delta(StreamDelta(text=word + " "))
        return result


def text(reply: str) -> ProviderResult:
    return ProviderResult(text=reply, tokens_in=12, tokens_out=len(reply.split()), model="scripted-1")


def call(tool: str, **arguments: Any) -> ProviderResult:
    return ProviderResult(text="", tool_calls=[ToolCall(id=f"call_{uuid.uuid4().hex[:8]}", name=tool,
                                                        arguments=arguments)], model="scripted-1")


def held(gate: asyncio.Event, result: ProviderResult) -> Callable[[ProviderRequest], Awaitable[ProviderResult]]:
    async def step(_: ProviderRequest) -> ProviderResult:
        await asyncio.wait_for(gate.wait(), 20)
        return result
    return step


@pytest.fixture
def inject() -> Any:
    """Put a provider behind an assistant for one test: `inject(assistant_id, provider)`."""
    used: list[uuid.UUID] = []

    def put(assistant_id: uuid.UUID | str, provider: Any) -> Any:
        key = uuid.UUID(str(assistant_id))
        provider_overrides[key] = lambda _assistant: provider
        used.append(key)
        return provider

    yield put
    for key in used:
        provider_overrides.pop(key, None)


async def make_assistant(client: httpx2.AsyncClient, t: TenantCtx, *, link: bool = True,
                         **fields: Any) -> dict[str, Any]:
    body = {"name": "Nora", "debounce_seconds": 0, **fields}
    r = await client.post("/admin/assistants", json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    assistant: dict[str, Any] = r.json()
    if link:
        r = await client.patch(f"/admin/channels/{t.channel_id}", json={"assistant_id": assistant["id"]},
                               headers=t.headers)
        assert r.status_code == 200, r.text
    return assistant


async def add_knowledge(client: httpx2.AsyncClient, t: TenantCtx, assistant_id: str, title: str,
                        content: str) -> dict[str, Any]:
    r = await client.post(f"/admin/assistants/{assistant_id}/knowledge", json={"title": title, "content": content},
                          headers=t.headers)
    assert r.status_code == 201, r.text
    entry: dict[str, Any] = r.json()
    return entry


async def messages_of(client: httpx2.AsyncClient, t: TenantCtx, conversation_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/admin/chats/{conversation_id}/messages", headers=t.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()
    return data


async def ai_messages(client: httpx2.AsyncClient, t: TenantCtx, conversation_id: str) -> list[dict[str, Any]]:
    return [m for m in await messages_of(client, t, conversation_id) if m.get("author") == "ai"]


async def trace_of(client: httpx2.AsyncClient, t: TenantCtx, correlation_id: str) -> dict[str, Any]:
    r = await client.get(f"/admin/logs/ai/{correlation_id}", headers=t.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


@pytest.fixture
async def fast_engine(app: Any) -> AsyncIterator[Any]:
    """Shorten the engine's retry delays for a test, and put them back afterwards."""
    config = app.state.ai_worker.config
    saved = (config.retry_backoff_seconds, config.job_retry_seconds, config.lease_seconds)
    config.retry_backoff_seconds, config.job_retry_seconds = 0.01, 0.05
    yield config
    config.retry_backoff_seconds, config.job_retry_seconds, config.lease_seconds = saved
