"""One AI turn, from a claimed job to a posted reply (or a handoff, or nothing).

1. Read the context in at most three statements on one read connection: assistant, conversation,
   contact and tags; the history up to the turn's last inbound message (a burst of customer
   messages merged into one); and for network models the knowledge retrieved for this turn.
2. Call the provider, streaming, running tool calls between rounds (at most 5 rounds). Each tool
   call commits on its own; `handoff_to_human` ends the turn.
3. Post in one transaction that locks the conversation row and re-checks, at that instant, that
   the AI still owns the conversation, that no newer customer message arrived and that nobody
   answered this turn yet. Otherwise nothing is sent and the trace says `superseded`.

A trace is written for every run, and one log line `action=ai_reply`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

import structlog
from sqlalchemy.exc import IntegrityError

from tertulia.assistants import repository as repo
from tertulia.assistants.models import AiTrace, Assistant
from tertulia.assistants.providers import build_provider
from tertulia.assistants.providers.base import (
    ChatMessage,
    Provider,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    Role,
    StreamDelta,
    ToolSpec,
)
from tertulia.assistants.repository import ClaimedJob
from tertulia.assistants.service import hand_off
from tertulia.assistants.text import topical_words
from tertulia.assistants.tools import (
    BUILTIN_TOOLS,
    HANDOFF_TOOL,
    SEARCH_TOOL,
    ToolContext,
    ToolError,
    available_tools,
    result_text,
    run_mcp_tool,
    run_tool,
)
from tertulia.conversations import repository as conversations_repo
from tertulia.conversations import service as conversations
from tertulia.conversations.window import window_is_closed
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, Reader, utcnow

log = structlog.get_logger("tertulia.assistants.orchestrator")

LANGUAGE_NAMES = {"es": "Spanish", "en": "English", "pt": "Portuguese", "fr": "French", "it": "Italian",
                  "de": "German", "ca": "Catalan"}
ATTACHMENT_WORDS = {"image": "an image", "video": "a video", "audio": "a voice note", "document": "a document"}


@dataclass
class EngineConfig:
    lease_seconds: float = 120.0  # a run not finished by then is presumed dead and taken over
    max_tool_rounds: int = 5
    provider_retries: int = 1  # extra attempts on a retryable failure before anything streamed
    retry_backoff_seconds: float = 0.5
    history_limit: int = 20
    knowledge_hits: int = 4
    max_job_attempts: int = 3  # runs of one turn that crashed before the engine hands off
    job_retry_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class ReplyPiece:
    """A moment of a reply as it is written, for whoever shows it live (the web widget): `start`
    (the turn began), `delta` (`text` is the next piece), `discard` (what streamed was a preamble
    to tool calls, not the answer), `end` (`text` is the outcome: sent, handoff, superseded...)."""

    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    channel_source: str
    turn: str  # the run's correlation id, which the posted reply carries
    kind: Literal["start", "delta", "discard", "end"]
    text: str = ""


ReplyStream = Callable[[ReplyPiece], Awaitable[None]]


@dataclass
class RunState:
    correlation_id: str
    started: float
    provider: str = ""
    model: str = ""
    input_messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    first_token_at: float | None = None
    output: str = ""
    handoff_reason: str | None = None
    error: str | None = None
    provider_requested_at: float | None = None
    channel_source: str = ""  # set once the turn's conversation is read; "" for a scratch turn
    streamed: bool = False  # text of this round reached the reply stream

    def elapsed_ms(self, at: float | None = None) -> float:
        return round(((at if at is not None else time.perf_counter()) - self.started) * 1000, 3)


def message_dict(m: ChatMessage) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        d["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]
    if m.tool_call_id:
        d["tool_call_id"] = m.tool_call_id
    if m.name:
        d["name"] = m.name
    return d


class HistoryItem(Protocol):
    """A message as the history needs it (a Message, or a row of its three columns)."""

    @property
    def author(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def attachments(self) -> list[dict[str, Any]]: ...


def history_messages(messages: Sequence[HistoryItem]) -> list[ChatMessage]:
    """The conversation as chat turns; consecutive customer messages (a burst) become one turn."""
    out: list[ChatMessage] = []
    for m in messages:
        if m.author == "system":
            continue
        text = m.content.strip()
        if m.attachments:
            kinds = ", ".join(ATTACHMENT_WORDS.get(a.get("type", ""), "a file") for a in m.attachments)
            text = f"{text}\n[sent {kinds}]".strip()
        if not text:
            continue
        role: Role = "user" if m.author == "contact" else "assistant"
        if out and out[-1].role == role:
            out[-1].content = f"{out[-1].content}\n{text}"
        else:
            out.append(ChatMessage(role=role, content=text))
    return out


class Orchestrator:
    def __init__(self, db: Database, secret_box: SecretBox, config: EngineConfig | None = None,
                 stream: ReplyStream | None = None) -> None:
        self.db = db
        self.secret_box = secret_box
        self.config = config or EngineConfig()
        self.stream = stream

    async def _stream(self, job: ClaimedJob | None, state: RunState, kind: Literal["start", "delta", "discard", "end"],
                      text: str = "") -> None:
        """Tell the reply stream (a turn of a real conversation only); its failure never fails the turn."""
        if self.stream is None or job is None or not state.channel_source:
            return
        try:
            await self.stream(ReplyPiece(job.tenant_id, job.conversation_id, state.channel_source,
                                         state.correlation_id, kind, text))
        except Exception as exc:
            log.warning("reply_stream_failed", correlation_id=state.correlation_id,
                        error=f"{type(exc).__name__}: {exc}")

    # -- the turn ------------------------------------------------------------------------

    async def run_job(self, job: ClaimedJob) -> str:
        """Run one claimed turn to its end; returns the outcome. Never raises for a turn's own
        failures: they become a retry, a handoff or an `error` trace."""
        state = RunState(correlation_id=str(uuid.uuid4()), started=time.perf_counter())
        try:
            return await self._run(job, state)
        except asyncio.CancelledError:
            raise  # shutting down: the lease expires and another worker takes the turn over
        except Exception as exc:  # a bug or the database failing: retry, then hand off
            state.error = f"{type(exc).__name__}: {exc}"
            log.exception("ai_turn_failed", correlation_id=state.correlation_id, tenant_id=str(job.tenant_id))
            outcome = await self._after_crash(job, state)
            await self._stream(job, state, "end", outcome)
            return outcome

    async def _run(self, job: ClaimedJob, state: RunState) -> str:
        if job.attempts > self.config.max_job_attempts:
            state.handoff_reason = f"the AI could not complete its reply after {job.attempts - 1} attempts"
            state.error = state.handoff_reason
            return await self._post(job, state, outcome_if_posted="handoff", assistant=None)
        loaded = await self._load(job, state)
        if isinstance(loaded, str):  # nothing to answer any more: do not spend a model call on it
            return await self._post(job, state, outcome_if_posted="superseded", assistant=None,
                                    superseded_reason=loaded)
        assistant, request, ctx = loaded
        try:
            provider = build_provider(assistant, self.secret_box)
        except ProviderError as exc:
            state.handoff_reason = f"the AI provider could not be set up: {exc.message}"
            state.error = exc.message
            return await self._post(job, state, outcome_if_posted="handoff", assistant=assistant)
        state.provider = getattr(provider, "name", assistant.provider)
        await self._stream(job, state, "start")
        await self._converse(job, provider, request, ctx, state)
        outcome = await self._post(job, state, outcome_if_posted="handoff" if state.handoff_reason else "sent",
                                   assistant=assistant, ctx=ctx)
        await self._stream(job, state, "end", outcome)
        return outcome

    async def _load(self, job: ClaimedJob, state: RunState) -> tuple[Assistant, ProviderRequest, ToolContext] | str:
        """The turn's context, or why there is no turn to answer any more. This is most of the time
        between a customer's message and the model's request, so it is at most three statements
        (plus the MCP servers' lookup when the tenant has any): the conversation, assistant,
        contact and tags; the history; the knowledge (posting re-checks what matters)."""
        tenant_id = job.tenant_id
        async with self.db.read_session(tenant_id) as session:
            turn = await repo.turn_context(session, tenant_id, job.conversation_id, job.assistant_id)
            # Still the channel's assistant, and still enabled (it may have changed since scheduling).
            if turn is None:
                return "the conversation no longer exists"
            assistant = turn.assistant
            if assistant is None or assistant.id != job.assistant_id:
                return "the assistant is disabled or was unlinked from the channel"
            if turn.ai_state != "ai_active":
                return "a person took over the conversation"
            if (turn.last_inbound_message_id or 0) > job.turn_message_id:
                return "a newer customer message arrived"
            if window_is_closed(turn.channel_source, turn.last_inbound_at):
                return "the 24-hour window is closed: the AI may not write to the customer any more"
            state.provider, state.model = assistant.provider, assistant.model or assistant.provider
            state.channel_source = turn.channel_source
            history = history_messages(await repo.turn_history(session, tenant_id, job.conversation_id,
                                                               job.turn_message_id, self.config.history_limit))
            hits, tools = await self._retrieve(session, tenant_id, assistant, history,
                                               has_knowledge=turn.has_knowledge, has_mcp_servers=turn.has_mcp_servers)
        ctx = ToolContext(tenant_id=tenant_id, conversation_id=job.conversation_id, contact_id=turn.contact_id,
                          assistant_id=assistant.id, language=assistant.language)
        contact_line = ""
        if turn.contact_name is not None:
            contact_line = f"Customer: {turn.contact_name}"
            if turn.contact_phone:
                contact_line += f" ({turn.contact_phone})"
            if turn.tags:
                contact_line += f". Tags: {', '.join(turn.tags)}"
            if turn.contact_notes:
                contact_line += f". Notes: {turn.contact_notes[:1000]}"
        request = self._request(assistant, contact_line, hits, tools, history, ctx, state)
        return assistant, request, ctx

    async def _retrieve(self, session: Reader, tenant_id: uuid.UUID, assistant: Assistant,
                        history: list[ChatMessage], *,
                        has_knowledge: bool, has_mcp_servers: bool) -> tuple[list[repo.Hit], list[ToolSpec]]:
        """The knowledge retrieved for the turn's text and the tools offered to the model."""
        if assistant.provider == "offline":  # it looks things up itself (a search_knowledge call in the trace)
            return [], [BUILTIN_TOOLS[SEARCH_TOOL].spec, BUILTIN_TOOLS[HANDOFF_TOOL].spec]
        text = history[-1].content if history and history[-1].role == "user" else ""
        hits: list[repo.Hit] = []
        if text and has_knowledge:
            hits = await repo.search_chunks(session, tenant_id, assistant.id,
                                            topical_words(text, assistant.language), assistant.language,
                                            limit=self.config.knowledge_hits)
        tools = await available_tools(session, tenant_id, list(assistant.enabled_tools or []),
                                      mcp_servers=has_mcp_servers)
        return hits, tools

    def _request(self, assistant: Assistant, contact_line: str, hits: list[repo.Hit], tools: list[ToolSpec],
                 history: list[ChatMessage], ctx: ToolContext, state: RunState) -> ProviderRequest:
        ctx.sources.extend({"entry_id": str(h.entry_id), "chunk_id": h.chunk_id, "title": h.title,
                            "content": h.content, "score": round(h.score, 4)} for h in hits)
        knowledge = "\n".join(f"[{i}] «{h.title}»: {h.content}" for i, h in enumerate(hits, 1))
        system = self._system_prompt(assistant, contact_line, knowledge, tools)
        prompt = [ChatMessage(role="system", content=system), *history]
        state.input_messages = [message_dict(m) for m in prompt]
        return ProviderRequest(model=assistant.model, messages=prompt, tools=tools,
                               temperature=assistant.temperature, max_output_tokens=assistant.max_output_tokens)

    # -- a scratch turn (the settings' "try it") ---------------------------------------------

    async def preview(self, assistant: Assistant, history: list[ChatMessage], *, contact_line: str = "",
                      conversation_id: uuid.UUID | None = None) -> tuple[RunState, ToolContext]:
        """Run the assistant on a scratch conversation: the same prompt, retrieval, provider and
        tool loop as a real turn, but without a conversation. Nothing is posted or stored, tools
        that act on a contact are not offered, and the run (its trace) is returned to the caller.
        The demo (demo/tenant.py) runs its turns so, naming the customer and the conversation."""
        state = RunState(correlation_id=str(uuid.uuid4()), started=time.perf_counter(),
                         provider=assistant.provider, model=assistant.model or assistant.provider)
        ctx = ToolContext(tenant_id=assistant.tenant_id, assistant_id=assistant.id, language=assistant.language,
                          conversation_id=conversation_id)
        async with self.db.read_session(assistant.tenant_id) as session:
            hits, tools = await self._retrieve(session, assistant.tenant_id, assistant, history, has_knowledge=True,
                                               has_mcp_servers=True)
        tools = [t for t in tools if t.name == HANDOFF_TOOL
                 or not (t.name in BUILTIN_TOOLS and BUILTIN_TOOLS[t.name].needs_contact)]
        request = self._request(assistant, contact_line, hits, tools, history, ctx, state)
        try:
            provider = build_provider(assistant, self.secret_box)
        except ProviderError as exc:
            state.handoff_reason = f"the AI provider could not be set up: {exc.message}"
            state.error = exc.message
            return state, ctx
        state.provider = getattr(provider, "name", assistant.provider)
        await self._converse(None, provider, request, ctx, state)
        return state, ctx

    @staticmethod
    def _system_prompt(assistant: Assistant, contact_line: str, knowledge: str, tools: list[ToolSpec]) -> str:
        language = LANGUAGE_NAMES.get(assistant.language[:2], assistant.language)
        parts = [assistant.instructions.strip()] if assistant.instructions.strip() else []
        parts.append(f"You are {assistant.name}, answering a business's customers in a chat. Always answer in "
                     f"{language}, briefly and kindly. Answer only from what you know below or find with your "
                     "tools, and name the source you answer from.")
        if any(t.name == HANDOFF_TOOL for t in tools):
            parts.append(f"When you cannot answer, or the customer asks for a person, call {HANDOFF_TOOL} with the "
                         "reason instead of guessing.")
        if contact_line:
            parts.append(contact_line)
        if knowledge:
            parts.append("Knowledge retrieved for this message (cite the title in «»):\n" + knowledge)
        return "\n\n".join(parts)

    async def _converse(self, job: ClaimedJob | None, provider: Provider, request: ProviderRequest, ctx: ToolContext,
                        state: RunState) -> None:
        rounds = 0
        while True:
            offer_tools = rounds < self.config.max_tool_rounds
            round_request = request if offer_tools else ProviderRequest(
                model=request.model, messages=request.messages, tools=[], temperature=request.temperature,
                max_output_tokens=request.max_output_tokens)
            try:
                result = await self._complete(provider, round_request, state, rounds, job)
            except ProviderError as exc:
                state.error = f"{exc.code}: {exc.message}"
                state.handoff_reason = f"the AI provider failed: {exc.message}"
                if state.streamed:
                    await self._stream(job, state, "discard")
                return
            calls = result.tool_calls if offer_tools else []
            if calls and state.streamed:  # a preamble to tool calls: not the answer
                state.streamed = False
                await self._stream(job, state, "discard")
            if not calls:
                state.output = result.text.strip()
                if not state.output:
                    state.handoff_reason = "the AI produced no answer"
                return
            rounds += 1
            request.messages.append(ChatMessage(role="assistant", content=result.text, tool_calls=calls))
            for call in calls:
                if call.name == HANDOFF_TOOL:
                    reason = str(call.arguments.get("reason") or "").strip() or "the AI asked for a person"
                    state.steps.append({"type": "tool", "round": rounds, "name": call.name,
                                        "arguments": call.arguments, "result": {"handoff": True},
                                        "duration_ms": 0.0})
                    state.handoff_reason = reason
                    return
                content = await self._call_tool(call.name, call.arguments, call.raw_arguments, ctx, request.tools,
                                                state, rounds)
                request.messages.append(ChatMessage(role="tool", content=content, tool_call_id=call.id,
                                                    name=call.name))
            if rounds % 2 == 0 and job is not None:
                async with self.db.session(job.tenant_id) as session:
                    await repo.extend_lease(session, job, utcnow() + timedelta(seconds=self.config.lease_seconds))

    async def _complete(self, provider: Provider, request: ProviderRequest, state: RunState,
                        round_no: int, job: ClaimedJob | None = None) -> ProviderResult:
        attempt = 0
        while True:
            streamed = False
            started = time.perf_counter()

            async def on_delta(delta: StreamDelta) -> None:
                nonlocal streamed
                streamed = True
                if state.first_token_at is None and (delta.text or delta.reasoning):
                    state.first_token_at = time.perf_counter()
                if delta.text:
                    state.streamed = True
                    await self._stream(job, state, "delta", delta.text)

            if state.provider_requested_at is None:
                state.provider_requested_at = started
            try:
                result = await provider.complete(request, on_delta)
            except ProviderError as exc:
                state.steps.append({"type": "error", "round": round_no, "attempt": attempt + 1, "code": exc.code,
                                    "message": exc.message, "retryable": exc.retryable,
                                    "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
                # Once text reached the stream a retry would say it twice: give up instead.
                if not exc.retryable or streamed or attempt >= self.config.provider_retries:
                    raise
                attempt += 1
                delay = self.config.retry_backoff_seconds * (2 ** (attempt - 1))
                await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
                continue
            except Exception as exc:  # a provider bug is a provider failure, not a crash of the engine
                raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=False, code="provider_crashed") from exc
            state.tokens_in += result.tokens_in
            state.tokens_out += result.tokens_out
            if result.model:
                state.model = result.model
            state.steps.append({
                "type": "model", "round": round_no, "text": result.text, "reasoning": result.reasoning,
                "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.tool_calls],
                "tokens_in": result.tokens_in, "tokens_out": result.tokens_out, "finish_reason": result.finish_reason,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            })
            return result

    async def _call_tool(self, name: str, arguments: dict[str, Any], raw: str, ctx: ToolContext,
                         offered: list[ToolSpec], state: RunState, round_no: int) -> str:
        started = time.perf_counter()
        step: dict[str, Any] = {"type": "tool", "round": round_no, "name": name, "arguments": arguments}
        if raw and not arguments and raw.strip() not in ("", "{}"):
            step["raw_arguments"] = raw
        try:
            if name.startswith("mcp__"):
                # An MCP tool only reads its server's settings and may take seconds: a read session
                # keeps SQLite's single write lock free for inbound messages meanwhile.
                async with self.db.read_session(ctx.tenant_id) as read:
                    result = await run_mcp_tool(read, ctx, name, arguments, offered)
            else:
                async with self.db.session(ctx.tenant_id) as session:
                    result = await run_tool(session, ctx, name, arguments, offered)
            step["result"] = result
            content = result_text(result)
        except ToolError as exc:
            step["error"] = exc.message
            content = json.dumps({"error": exc.message}, ensure_ascii=False)
        except Exception as exc:  # the model hears that the tool broke and may try something else
            step["error"] = f"the tool failed: {type(exc).__name__}: {exc}"
            content = json.dumps({"error": step["error"]}, ensure_ascii=False)
            log.warning("ai_tool_failed", tool=name, correlation_id=state.correlation_id, error=step["error"])
        step["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        state.steps.append(step)
        return content

    # -- posting ---------------------------------------------------------------------------

    async def _post(self, job: ClaimedJob, state: RunState, *, outcome_if_posted: str, assistant: Assistant | None,
                    ctx: ToolContext | None = None, superseded_reason: str | None = None) -> str:
        sources = ctx.sources if ctx is not None else []
        async with self.db.session(job.tenant_id) as session:
            conv = await conversations_repo.lock_conversation(session, job.tenant_id, job.conversation_id)
            if assistant is None:  # a crashed or abandoned run still hands off in the assistant's words
                assistant = await repo.get_assistant(session, job.tenant_id, job.assistant_id)
            reason = superseded_reason
            if conv is None:
                reason = "the conversation no longer exists"
            elif await repo.turn_answered(session, job.tenant_id, conv.id, job.turn_message_id):
                reason = "this turn was already answered"
            elif conv.ai_state != "ai_active":
                reason = "a person took over the conversation"
            elif (conv.last_inbound_message_id or 0) > job.turn_message_id:
                reason = "a newer customer message arrived"
            outcome = "superseded" if reason else outcome_if_posted
            trace = self._trace(job, state, assistant, outcome, sources)
            if reason:
                trace.error = reason if state.error is None else f"{reason} ({state.error})"
                session.add(trace)
            else:
                assert conv is not None
                trace.answered_message_id = job.turn_message_id
                try:  # the unique (conversation, answered turn) is the last word on "one reply per turn"
                    async with session.begin_nested():
                        session.add(trace)
                        await session.flush()
                except IntegrityError:  # (the savepoint's rollback dropped the pending trace)
                    outcome = "superseded"
                    trace = self._trace(job, state, assistant, outcome, sources)
                    trace.error = "this turn was already answered"
                    session.add(trace)
                else:
                    if outcome == "sent":
                        bubbles = await conversations.add_ai_reply(session, conv, state.output, state.correlation_id)
                        trace.reply_message_id = bubbles[0].id
                    else:
                        language = assistant.language if assistant is not None else "es"
                        reason_text = state.handoff_reason or "handoff"
                        trace.error = reason_text if state.error is None else state.error
                        await hand_off(session, job.tenant_id, conv.id, reason_text,
                                       correlation_id=state.correlation_id, language=language,
                                       customer_message=assistant.handoff_message if assistant is not None else None)
            trace.latency_ms = state.elapsed_ms()
            await repo.finish_job(session, job)
        log.info("ai_reply", action="ai_reply", correlation_id=state.correlation_id, outcome=outcome,
                 latency_ms=trace.latency_ms, ttft_ms=trace.ttft_ms, tenant_id=str(job.tenant_id),
                 conversation_id=str(job.conversation_id), provider=trace.provider, model=trace.model,
                 tokens_in=state.tokens_in, tokens_out=state.tokens_out, error=trace.error)
        return outcome

    def _trace(self, job: ClaimedJob, state: RunState, assistant: Assistant | None, outcome: str,
               sources: list[dict[str, Any]]) -> AiTrace:
        return AiTrace(
            tenant_id=job.tenant_id, correlation_id=state.correlation_id, conversation_id=job.conversation_id,
            assistant_id=assistant.id if assistant is not None else job.assistant_id,
            turn_message_id=job.turn_message_id, provider=state.provider or (assistant.provider if assistant else ""),
            model=state.model, input_messages=state.input_messages, sources=list(sources), steps=list(state.steps),
            output=state.output if outcome == "sent" else "", tokens_in=state.tokens_in, tokens_out=state.tokens_out,
            ttft_ms=state.elapsed_ms(state.first_token_at) if state.first_token_at is not None else None,
            latency_ms=state.elapsed_ms(), outcome=outcome, error=state.error, created_at=utcnow(),
        )

    async def _after_crash(self, job: ClaimedJob, state: RunState) -> str:
        """An unexpected failure: keep the turn (retry later) until the attempts run out, then
        hand off; either way the run leaves an `error` trace."""
        try:
            if job.attempts < self.config.max_job_attempts:
                async with self.db.session(job.tenant_id) as session:
                    trace = self._trace(job, state, None, "error", [])
                    session.add(trace)
                    await repo.retry_job(session, job, utcnow() + timedelta(seconds=self.config.job_retry_seconds
                                                                             * job.attempts), state.error or "")
                log.info("ai_reply", action="ai_reply", correlation_id=state.correlation_id, outcome="error",
                         latency_ms=state.elapsed_ms(), tenant_id=str(job.tenant_id), error=state.error, retry=True)
                return "error"
            state.handoff_reason = f"the AI failed: {state.error}"
            return await self._post(job, state, outcome_if_posted="handoff", assistant=None)
        except Exception:
            log.exception("ai_turn_recovery_failed", correlation_id=state.correlation_id)
            return "error"

