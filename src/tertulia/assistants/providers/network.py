"""What the network providers share: retries with exponential backoff and jitter on transient
failures, tracking of what was streamed, parsing of tool-call arguments.

The SDKs can retry on their own, but we switch that off and do it here so that every attempt is
logged, the delays are ours to tune (and to shorten in tests), and a failure after the first
streamed delta is never retried behind the orchestrator's back (the customer-facing text would
be duplicated).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import structlog

from tertulia.assistants.providers.base import (
    OnDelta,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    StreamDelta,
    ToolCall,
)
from tertulia.kit.egress import fenced_client, find_egress_error

log = structlog.get_logger("tertulia.assistants.providers")


@dataclass
class Backoff:
    base: float = 0.5  # first delay, doubled on each attempt
    cap: float = 8.0  # no single wait longer than this, even when the server asks for more

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        # "Equal jitter": half the exponential step is kept, half is random, so that many
        # replies failing together do not come back in lockstep.
        step = min(self.cap, self.base * (2.0**attempt))
        wait = step / 2 + random.uniform(0, step / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


class StreamTracker:
    """Wraps the caller's on_delta and remembers whether anything reached it."""

    def __init__(self, on_delta: OnDelta | None) -> None:
        self._on_delta = on_delta
        self.started = False

    async def emit(self, text: str = "", reasoning: str = "") -> None:
        if not text and not reasoning:
            return
        self.started = True
        if self._on_delta is not None:
            await self._on_delta(StreamDelta(text=text, reasoning=reasoning))


@dataclass
class Failure:
    """An SDK exception translated into our terms."""

    error: ProviderError
    retry_after: float | None = None


async def run_with_retries(
    attempt: Callable[[StreamTracker], Awaitable[ProviderResult]],
    classify: Callable[[BaseException], Failure | None],
    *,
    on_delta: OnDelta | None,
    provider: str,
    target: str,
    max_retries: int,
    backoff: Backoff,
) -> ProviderResult:
    """Run `attempt` until it succeeds, a non-retryable error occurs, or retries run out.

    `classify` turns an SDK exception into a Failure (or None to let it propagate: a bug, not a
    provider failure). After retries the error is `provider_unavailable`, still retryable so
    the orchestrator may try again later before handing the conversation to a human.
    """
    last: ProviderError | None = None
    for n in range(max_retries + 1):
        tracker = StreamTracker(on_delta)
        try:
            return await attempt(tracker)
        except ProviderError:
            raise
        except Exception as exc:
            failure = _egress_failure(exc, target) or classify(exc)
            if failure is None:
                raise
            err = failure.error
            if not err.retryable:
                log.warning("provider_failed", action="ai_provider", provider=provider, target=target,
                            code=err.code, status=err.status_code, error=err.message, retryable=False)
                raise err from exc
            if tracker.started:
                # Part of the answer already went out through on_delta: retrying here would send
                # it twice. The orchestrator decides what to do with an interrupted reply.
                log.warning("provider_stream_interrupted", action="ai_provider", provider=provider,
                            target=target, error=err.message)
                raise ProviderError(f"the stream from {target} broke off mid-answer: {err.message}",
                                    retryable=True, code="provider_interrupted",
                                    status_code=err.status_code) from exc
            last = err
            if n == max_retries:
                break
            wait = backoff.delay(n, failure.retry_after)
            log.warning("provider_retry", action="ai_provider", provider=provider, target=target,
                        attempt=n + 1, max_retries=max_retries, code=err.code, status=err.status_code,
                        error=err.message, wait_seconds=round(wait, 3))
            await asyncio.sleep(wait)
    assert last is not None
    log.error("provider_unavailable", action="ai_provider", provider=provider, target=target,
              attempts=max_retries + 1, error=last.message)
    raise ProviderError(
        f"{target} did not answer after {max_retries + 1} attempts: {last.message}",
        retryable=True, code="provider_unavailable", status_code=last.status_code,
    )


def _egress_failure(exc: BaseException, target: str) -> Failure | None:
    """The egress fence stopped the request (an address the operator has not allowed, an answer
    too large): trying again cannot help, and the reason is what the trace must show."""
    stopped = find_egress_error(exc)
    if stopped is None:
        return None
    return Failure(ProviderError(f"the request to {target} was stopped: {stopped}", retryable=False, code=stopped.code))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for APIs and ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def parse_tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    """A tool call from its streamed JSON arguments. Arguments that are not a JSON object are kept
    verbatim in raw_arguments (with empty arguments) so the orchestrator can tell the model they
    were invalid and the trace shows what was sent."""
    if not raw.strip():
        return ToolCall(id=call_id, name=name, arguments={})
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments=parsed)
    return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=raw)


# The longest a whole streamed answer may take; `timeout` bounds each wait within it.
ANSWER_LIMIT_SECONDS = 600.0

# Local servers (Ollama, llama.cpp, vLLM without --api-key, compatible gateways) ignore the key,
# but the SDKs want one.
PLACEHOLDER_API_KEY = "not-needed"


class NetworkProvider:
    """What the network providers share: where they send, with which key, and how they retry.

    `timeout` bounds each wait on the network (connecting, the first byte, the gap between two
    streamed chunks), not the whole answer; `max_retries` more attempts follow a transient failure
    (429, 5xx, timeouts, connection errors) as long as nothing was streamed yet."""

    default_base_url = ""

    def __init__(self, base_url: str | None, api_key: str | None, *, timeout: float = 60,
                 max_retries: int = 3, backoff: Backoff | None = None) -> None:
        self.base_url = (base_url or "").strip().rstrip("/") or None
        self.api_key = api_key or PLACEHOLDER_API_KEY
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()

    @property
    def target(self) -> str:
        return self.base_url or self.default_base_url

    def http_client(self) -> httpx2.AsyncClient:
        """The SDK's HTTP client: through the egress fence, since the base URL is the tenant's."""
        return fenced_client(timeout=self.timeout, total_timeout=ANSWER_LIMIT_SECONDS)

    async def complete(self, request: ProviderRequest, on_delta: OnDelta | None = None) -> ProviderResult:
        params = self._params(request)

        async def attempt(tracker: StreamTracker) -> ProviderResult:
            # One client per call: providers are built per assistant and per run, and a client
            # left open would hold its connection pool until garbage collection.
            async with self.http_client() as http:
                return await self._stream(http, params, tracker, request.model)

        return await run_with_retries(attempt, self._classify, on_delta=on_delta, provider=self.name,
                                      target=self.target, max_retries=self.max_retries, backoff=self.backoff)

    # -- what each provider says: its request, its SDK's stream, its SDK's errors --------------------
    name = ""

    def _params(self, request: ProviderRequest) -> dict[str, Any]:
        raise NotImplementedError

    async def _stream(self, http: httpx2.AsyncClient, params: dict[str, Any], tracker: StreamTracker,
                      model: str) -> ProviderResult:
        """One attempt: the SDK's client over `http`, its streamed answer read through `tracker`."""
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> Failure | None:
        raise NotImplementedError

    # -- the failures both SDKs report alike ---------------------------------------------------------
    def _timed_out(self) -> Failure:
        return Failure(ProviderError(f"{self.target} did not answer within {self.timeout:g} s",
                                     retryable=True, code="provider_timeout"))

    def _unreachable(self, exc: BaseException) -> Failure:
        cause = exc.__cause__ or exc
        return Failure(ProviderError(f"could not reach {self.target}: {type(cause).__name__}: {cause}",
                                     retryable=True, code="provider_connection"))

    def _refused(self, status: int, detail: str, retry_after: str | None) -> Failure:
        """An HTTP error status: a rejected key, a transient answer (retried), a wrong URL or model."""
        target = self.target
        if status in (401, 403):
            return Failure(ProviderError(f"the API key was rejected by {target} ({status}): {detail}",
                                         retryable=False, code="provider_auth", status_code=status))
        if status == 429 or status >= 500 or status in (408, 409):
            return Failure(ProviderError(f"{target} answered {status}: {detail}", retryable=True,
                                         code="provider_rate_limited" if status == 429 else "provider_server_error",
                                         status_code=status),
                           retry_after=parse_retry_after(retry_after))
        if status == 404:
            return Failure(ProviderError(f"{target} answered 404: {detail} (check the base URL and the model name)",
                                         retryable=False, code="provider_not_found", status_code=status))
        return Failure(ProviderError(f"{target} rejected the request ({status}): {detail}",
                                     retryable=False, code="provider_bad_request", status_code=status))

