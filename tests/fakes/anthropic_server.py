"""A local server that speaks Anthropic's Messages API wire format, scripted per test.

Streaming answers are named SSE events (`event: <type>\\ndata: {...}\\n\\n`) in the documented order:
`message_start` (a Message with empty content and the input usage), a `ping`, then for each content
block `content_block_start`, its `content_block_delta`s (`thinking_delta` + `signature_delta` for
thinking, `text_delta` for text, `input_json_delta` for tool_use) and `content_block_stop`, then
`message_delta` (stop_reason and cumulative output usage) and `message_stop`. Errors use
Anthropic's `{"type": "error", "error": {"type", "message"}}` body; `stream_error` sends an
`event: error` inside a 200 stream, as Anthropic does when overloaded mid-answer.

    fake_anthropic.reply(text="Hola", thinking="El cliente saluda.")
    fake_anthropic.tool_use("add_tag", {"tag": "vip"})
    provider = AnthropicProvider(fake_anthropic.base_url, "sk-ant-test")
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.harness import Failing, FakeVendorServer, ScriptCommon, split_text


@dataclass
class ToolUseScript:
    name: str
    input: dict[str, Any] | str = field(default_factory=dict)  # a str is sent verbatim as partial JSON
    id: str | None = None

    @property
    def raw_input(self) -> str:
        return self.input if isinstance(self.input, str) else json.dumps(self.input)


@dataclass
class AnthropicReply(ScriptCommon):
    text: str | list[str] = ""
    thinking: str | list[str] = ""
    tool_uses: list[ToolUseScript] = field(default_factory=list)
    input_tokens: int = 25
    output_tokens: int = 11
    stop_reason: str | None = None  # default: "tool_use" when there are tool uses, else "end_turn"
    model: str | None = None
    stream_error: str | None = None  # an error type (e.g. "overloaded_error") sent as `event: error` at the end


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                529: "overloaded_error"}


def error_body(status: int, message: str) -> dict[str, Any]:
    default = {401: "invalid x-api-key", 429: "Number of request tokens has exceeded your rate limit.",
               529: "Overloaded"}.get(status, "Internal server error")
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message or default},
            "request_id": f"req_{uuid.uuid4().hex[:24]}"}


def _check_messages(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages:
        return "messages: at least one message is required"
    if messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    uses_tools = any(isinstance(m.get("content"), list) and any(b.get("type") in ("tool_use", "tool_result")
                                                                for b in m["content"]) for m in messages)
    if uses_tools and not body.get("tools"):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    pending: set[str] = set()
    for i, m in enumerate(messages):
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
        results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if pending and results != pending:
            return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(sorted(pending - results))}")
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"} if m.get("role") == "assistant" else set()
    if pending:
        return f"`tool_use` ids were found without `tool_result` blocks: {', '.join(sorted(pending))}"
    return ""


def _sent_key(request: Request) -> str | None:
    # SDK 2.x sends `Authorization: Bearer`; the API also takes `x-api-key`, preferring it.
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else None


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


class FakeAnthropicServer(FakeVendorServer):
    @property
    def base_url(self) -> str:
        """What to give the provider as base_url (the SDK appends /v1/messages)."""
        return self.url

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self._messages, methods=["POST"])]

    def reply(self, text: str | list[str] = "", **kwargs: Any) -> AnthropicReply:
        return self.enqueue(AnthropicReply(text=text, **kwargs))  # type: ignore[no-any-return]

    def tool_use(self, name: str, input: dict[str, Any] | str | None = None, **kwargs: Any) -> AnthropicReply:
        return self.reply(tool_uses=[ToolUseScript(name, input if input is not None else {})], **kwargs)

    async def _messages(self, request: Request) -> Response:
        rec = await self._record(request)
        if self.api_key is not None and _sent_key(request) != self.api_key:
            return JSONResponse(error_body(401, ""), status_code=401)
        script = self._next()
        if script is None:
            return JSONResponse(error_body(500, "fake Anthropic server: no scripted response left"), status_code=500)
        if isinstance(script, Failing):
            return await self.answer_failure(request, script, error_body)
        body = rec.json
        problem = _check_messages(body)
        if problem:  # what the real API refuses, so a malformed history fails the test visibly
            return JSONResponse(error_body(400, problem), status_code=400)
        model = script.model or str(body.get("model", "claude-fake"))
        if not body.get("stream"):
            return JSONResponse(_message(script, model))
        return await self.stream_events(request, script, _events(script, model),
                                        headers={"request-id": f"req_{uuid.uuid4().hex[:24]}"})


def _events(script: AnthropicReply, model: str) -> list[tuple[str, bool]]:
    msg_id = f"msg_{uuid.uuid4().hex[:24]}"
    events: list[tuple[str, bool]] = [(_event("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": script.input_tokens, "output_tokens": 1,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}), False),
        (_event("ping", {"type": "ping"}), False)]
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]], extra: list[dict[str, Any]] | None = None) -> None:
        nonlocal index
        events.append((_event("content_block_start", {"type": "content_block_start", "index": index,
                                                      "content_block": start}), False))
        for d in deltas:
            events.append((_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": d}), True))
        for d in extra or []:
            events.append((_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": d}), False))
        events.append((_event("content_block_stop", {"type": "content_block_stop", "index": index}), False))
        index += 1

    if script.thinking:
        block({"type": "thinking", "thinking": "", "signature": ""},
              [{"type": "thinking_delta", "thinking": t} for t in split_text(script.thinking)],
              [{"type": "signature_delta", "signature": "fake-signature-" + uuid.uuid4().hex}])
    if script.text:
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in split_text(script.text)])
    for use in script.tool_uses:
        raw = use.raw_input
        size = max(1, len(raw) // 3)
        # Anthropic starts input_json with an empty fragment, then sends pieces.
        frags = [""] + [raw[j:j + size] for j in range(0, len(raw), size)]
        block({"type": "tool_use", "id": use.id or f"toolu_{uuid.uuid4().hex[:24]}", "name": use.name, "input": {}},
              [{"type": "input_json_delta", "partial_json": f} for f in frags])
    if script.stream_error:
        events.append((_event("error", {"type": "error", "error": {"type": script.stream_error,
                                                                   "message": "Overloaded"}}), False))
        return events
    stop = script.stop_reason or ("tool_use" if script.tool_uses else "end_turn")
    events.append((_event("message_delta", {"type": "message_delta",
                                            "delta": {"stop_reason": stop, "stop_sequence": None},
                                            "usage": {"output_tokens": script.output_tokens}}), False))
    events.append((_event("message_stop", {"type": "message_stop"}), False))
    return events


def _message(script: AnthropicReply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if script.thinking:
        content.append({"type": "thinking", "thinking": "".join(split_text(script.thinking)), "signature": "fake"})
    if script.text:
        content.append({"type": "text", "text": "".join(split_text(script.text))})
    for use in script.tool_uses:
        content.append({"type": "tool_use", "id": use.id or f"toolu_{uuid.uuid4().hex[:24]}", "name": use.name,
                        "input": json.loads(use.raw_input) if not isinstance(use.input, str) else {}})
    return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "content": content,
            "model": model, "stop_reason": script.stop_reason or ("tool_use" if script.tool_uses else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": script.input_tokens, "output_tokens": script.output_tokens}}
