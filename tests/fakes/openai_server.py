"""A local server that speaks OpenAI's chat completions wire format, scripted per test.

Streaming answers are `data: {chat.completion.chunk}\\n\\n` events ending with `data: [DONE]`, in the
order OpenAI sends them: a first chunk with the role, reasoning chunks (`reasoning_content`, as
vLLM, llama.cpp and DeepSeek send it), content chunks, tool-call fragments (id, type and name in
the first fragment of each call, then argument pieces, keyed by `index`), a chunk with the
`finish_reason`, and a usage chunk with empty `choices` when the request asked for
`stream_options.include_usage`. Errors use OpenAI's `{"error": {...}}` body.

Usage in a test:

    fake_openai.reply(text="Hola, ¿en qué te ayudo?")
    fake_openai.reply(tool_calls=[ToolCallScript("add_tag", {"tag": "vip"})])
    fake_openai.fail(429, times=2)
    gate = fake_openai.gate(); fake_openai.reply(text="...", hold=gate, hold_after=1)
    provider = OpenAIProvider(fake_openai.base_url, "sk-test")
    ... fake_openai.last_request.json["messages"]
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.harness import Failing, FakeVendorServer, ScriptCommon, split_text


@dataclass
class ToolCallScript:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)  # a str is sent verbatim (even invalid JSON)
    id: str | None = None

    @property
    def raw_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class OpenAIReply(ScriptCommon):
    text: str | list[str] = ""
    reasoning: str | list[str] = ""
    tool_calls: list[ToolCallScript] = field(default_factory=list)
    prompt_tokens: int = 21
    completion_tokens: int = 9
    finish_reason: str | None = None  # default: "tool_calls" when there are tool calls, else "stop"
    model: str | None = None  # default: the model the request named
    reasoning_field: str = "reasoning_content"  # some servers call it "reasoning"


_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_denied",
                404: "invalid_request_error", 429: "rate_limit_exceeded"}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def error_body(status: int, message: str) -> dict[str, Any]:
    default = {401: "Incorrect API key provided.", 429: "Rate limit reached for requests.",
               404: "The model does not exist or you do not have access to it."}.get(
        status, "The server had an error while processing your request.")
    return {"error": {"message": message or default, "type": _ERROR_TYPES.get(status, "server_error"),
                      "param": None, "code": _ERROR_CODES.get(status)}}


class FakeOpenAIServer(FakeVendorServer):
    @property
    def base_url(self) -> str:
        """What to give the provider as base_url (the SDK appends /chat/completions)."""
        return f"{self.url}/v1"

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    def reply(self, text: str | list[str] = "", **kwargs: Any) -> OpenAIReply:
        """Queue one answer (text chunks, reasoning, tool calls, usage, stalls)."""
        return self.enqueue(OpenAIReply(text=text, **kwargs))  # type: ignore[no-any-return]

    def tool_call(self, name: str, arguments: dict[str, Any] | str | None = None, **kwargs: Any) -> OpenAIReply:
        return self.reply(tool_calls=[ToolCallScript(name, arguments if arguments is not None else {})], **kwargs)

    def _authorized(self, request: Request) -> bool:
        return self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"

    async def _models(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(error_body(401, ""), status_code=401)
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model",
                                                         "created": 0, "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Response:
        rec = await self._record(request)
        if not self._authorized(request):
            return JSONResponse(error_body(401, ""), status_code=401)
        script = self._next()
        if script is None:
            return JSONResponse(error_body(500, "fake OpenAI server: no scripted response left for this request"),
                                status_code=500)
        if isinstance(script, Failing):
            return await self.answer_failure(request, script, error_body)
        body = rec.json
        problem = _check_messages(body)
        if problem:  # what the real API refuses, so a malformed history fails the test visibly
            return JSONResponse(error_body(400, problem), status_code=400)
        model = script.model or str(body.get("model", "fake-model"))
        if not body.get("stream"):
            return JSONResponse(_completion(script, model))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await self.stream_events(request, script, _chunks(script, model, include_usage))


def _check_messages(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages:
        return "[] is too short - 'messages'"
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value for 'messages[{i}].role': {role!r}"
        if role == "tool":
            if m.get("tool_call_id") not in open_calls:
                return ("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                        "message with 'tool_calls'.")
            open_calls.discard(m["tool_call_id"])
            continue
        if open_calls:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                    f"{', '.join(sorted(open_calls))}")
        if role == "assistant":
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
    if open_calls:
        return f"tool_call_ids without response messages: {', '.join(sorted(open_calls))}"
    return ""


def _pieces(script: OpenAIReply) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("reasoning", r) for r in split_text(script.reasoning)]
    out += [("text", t) for t in split_text(script.text)]
    for i, call in enumerate(script.tool_calls):
        raw = call.raw_arguments
        # Arguments arrive in a few fragments, like a model generating them token by token.
        size = max(1, len(raw) // 3)
        frags = [raw[j:j + size] for j in range(0, len(raw), size)] or [""]
        out.append(("call_start", (i, call, frags[0])))
        out += [("call_args", (i, f)) for f in frags[1:]]
    return out


def _chunks(script: OpenAIReply, model: str, include_usage: bool) -> list[tuple[str, bool]]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data: dict[str, Any] = {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            data["usage"] = None
        return f"data: {json.dumps(data)}\n\n"

    events: list[tuple[str, bool]] = [(chunk({"role": "assistant", "content": ""}), False)]
    for kind, value in _pieces(script):
        if kind == "reasoning":
            events.append((chunk({script.reasoning_field: value}), True))
        elif kind == "text":
            events.append((chunk({"content": value}), True))
        elif kind == "call_start":
            i, call, first = value
            events.append((chunk({"tool_calls": [{
                "index": i, "id": call.id or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                "function": {"name": call.name, "arguments": first}}]}), True))
        else:
            i, frag = value
            events.append((chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}), True))
    finish = script.finish_reason or ("tool_calls" if script.tool_calls else "stop")
    events.append((chunk({}, finish), False))
    if include_usage:
        usage = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "system_fingerprint": "fp_fake", "choices": [],
                 "usage": {"prompt_tokens": script.prompt_tokens, "completion_tokens": script.completion_tokens,
                           "total_tokens": script.prompt_tokens + script.completion_tokens}}
        events.append((f"data: {json.dumps(usage)}\n\n", False))
    events.append(("data: [DONE]\n\n", False))
    return events


def _completion(script: OpenAIReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(split_text(script.text)) or None}
    if script.reasoning:
        message[script.reasoning_field] = "".join(split_text(script.reasoning))
    if script.tool_calls:
        message["tool_calls"] = [{"id": c.id or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                                  "function": {"name": c.name, "arguments": c.raw_arguments}}
                                 for c in script.tool_calls]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": script.finish_reason or ("tool_calls" if script.tool_calls else "stop")}],
        "usage": {"prompt_tokens": script.prompt_tokens, "completion_tokens": script.completion_tokens,
                  "total_tokens": script.prompt_tokens + script.completion_tokens},
    }
