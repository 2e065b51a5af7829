"""What the panel chatbot does with a client frame (`user_message` or `tool_call`), streaming its
answer as frames through `send`: `assistant_delta` pieces, then `assistant_done` (with
`metadata.result` and `metadata.tool` after a tool run) or an `error` frame with the seed's code.

- A slash command runs offline (webchat/commands.py).
- Other text goes to the tenant's assistant (its provider and model) with the panel's tools: the
  built-in inbox tools, the report tools and, for owners and admins, the tenant's MCP servers. A
  tenant whose assistant is offline (or that has none) gets the commands' help.
- A tool run stores a `tool` row ("call:<Tool>" and its arguments), streams "↻ Ejecutando
  <Tool>…" and the tool's progress, then stores and streams the answer.

Every row is stored in a short transaction of its own: nothing holds the database while a model
thinks or a report is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from tertulia.assistants import repository as assistants_repo
from tertulia.assistants.models import Assistant
from tertulia.assistants.providers import build_provider
from tertulia.assistants.providers.base import ChatMessage as ModelMessage
from tertulia.assistants.providers.base import ProviderError, ProviderRequest, StreamDelta, ToolCall, ToolSpec
from tertulia.assistants.tools import (
    EXTRA_TOOLS,
    ToolContext,
    ToolError,
    mcp_specs,
    result_text,
    run_mcp_tool,
    run_tool,
)
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.kit.storage import FileStore, InvalidKey
from tertulia.reports.tools import REPETITIVIDAD, REPORT_TOOLS, upload_key
from tertulia.tenancy.auth import MANAGER_ROLES
from tertulia.webchat import commands, metrics
from tertulia.webchat import repository as repo
from tertulia.webchat.inbox_tools import FIND, INBOX_TOOLS, TODAY, WAITING
from tertulia.webchat.service import ChatUser, add_message

log = structlog.get_logger("tertulia.webchat")

Send = Callable[[dict[str, Any]], Awaitable[None]]
MAX_TOOL_ROUNDS = 5
HISTORY_TURNS = 20
MAX_CONTENT = 20_000
MAX_ATTACHMENTS = 10

LANGUAGES = {"es": "Spanish", "en": "English", "pt": "Portuguese", "fr": "French", "it": "Italian", "de": "German",
             "ca": "Catalan"}


class ChatError(Exception):
    """A turn that ends in an `error` frame with the seed's code (and a stored row saying so)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_frame(code: str, message: str) -> dict[str, Any]:
    metrics.ERRORS.labels(code).inc()
    return {"type": "error", "content": message, "metadata": {"code": code}}


def panel_tool_names() -> list[str]:
    """The tools the panel offers besides MCP: the inbox's and the reports'."""
    return [*INBOX_TOOLS, *REPORT_TOOLS]


def check_role(tool: str, role: str) -> None:
    """MCP servers act with the business's own credentials on outside systems: in the panel, where
    arguments are typed by hand, only owners and admins run them. Every member runs the rest."""
    if tool.startswith("mcp__") and role not in MANAGER_ROLES:
        raise ChatError("TOOL_FORBIDDEN", f"solo propietarios y administradores pueden usar {tool}")


class ChatEngine:
    def __init__(self, db: Database, secret_box: SecretBox, store: FileStore, settings: Any) -> None:
        self.db = db
        self.secret_box = secret_box
        self.store = store
        self.settings = settings

    # -- frames ----------------------------------------------------------------------------

    async def user_message(self, user: ChatUser, session_id: int, content: str,
                           attachments: list[dict[str, Any]], send: Send) -> None:
        started = time.perf_counter()
        kept = self._kept_attachments(user, attachments)
        text = content.strip()
        if not text and not kept:
            await self._store(user, session_id, "user", content, attachments=kept, error_code="WS_BAD_REQUEST")
            await send(error_frame("WS_BAD_REQUEST", "el mensaje está vacío"))
            return
        await self._store(user, session_id, "user", text, attachments=kept)
        command = commands.parse(text)
        if command is not None:
            await self._command(user, session_id, command, kept, send, started)
        elif not text:  # only a file: say what can be done with it
            names = ", ".join(a["name"] for a in kept)
            await self._answer(user, session_id, f"Recibí {names}. "
                               + commands.help_text("¿Qué hago con él?"), send, started)
        else:
            await self._converse(user, session_id, send, started)

    async def tool_call(self, user: ChatUser, session_id: int, tool: str, args: dict[str, Any],
                        attachments: list[dict[str, Any]], send: Send) -> None:
        started = time.perf_counter()
        kept = self._kept_attachments(user, attachments)
        args = dict(args)
        if tool == REPETITIVIDAD and "file_path" not in args and kept:
            args["file_path"] = kept[0]["path"]
        try:
            result = await self.run_tool(user, session_id, tool, args, send)
        except ChatError as exc:
            await self._failed(user, session_id, tool, exc, send, started)
            return
        await self._tool_answer(user, session_id, tool, result, send, started)

    # -- commands --------------------------------------------------------------------------

    async def _command(self, user: ChatUser, session_id: int, command: commands.Command,
                       attachments: list[dict[str, Any]], send: Send, started: float) -> None:
        spec = commands.COMMANDS.get(command.name)
        if spec is None:
            await self._answer(user, session_id, commands.unknown_text(command.name), send, started)
            return
        if spec.tool is None:
            await self._answer(user, session_id, commands.help_text(), send, started)
            return
        args = dict(command.args)
        if spec.tool == REPETITIVIDAD and "file_path" not in args:
            files = attachments or await self._last_attachments(user, session_id)
            if files:
                args["file_path"] = files[0]["path"]
        if spec.tool == FIND and command.text:
            args.setdefault("query", command.text)
        if spec.tool == TODAY and command.text:
            args.setdefault("tag", command.text)
        try:
            if spec.tool == REPETITIVIDAD and "file_path" not in args:
                raise ChatError("INVALID_TOOL_ARGS", "adjunta la planilla de reclamos (o súbela antes) y repite "
                                f"el comando: `{spec.usage}`")
            result = await self.run_tool(user, session_id, spec.tool, args, send)
        except ChatError as exc:
            await self._failed(user, session_id, spec.tool, exc, send, started)
            return
        await self._tool_answer(user, session_id, spec.tool, result, send, started)

    # -- tools -----------------------------------------------------------------------------

    async def run_tool(self, user: ChatUser, session_id: int, tool: str, args: dict[str, Any], send: Send,
                       offered: list[ToolSpec] | None = None) -> Any:
        """Store the call, stream its progress, run it; ChatError with the tool's code on failure."""
        if tool not in panel_tool_names() and not tool.startswith("mcp__"):
            raise ChatError("TOOL_NOT_FOUND", f"no existe la herramienta '{tool}'")
        check_role(tool, user.role)
        await self._store(user, session_id, "tool", f"call:{tool}", tool_name=tool, tool_args=args)
        await send({"type": "assistant_delta", "content": f"↻ Ejecutando {tool}…\n"})

        async def progress(line: str) -> None:
            await send({"type": "assistant_delta", "content": f"{line}\n"})

        ctx = ToolContext(tenant_id=user.tenant_id, store=self.store, settings=self.settings, progress=progress)
        started = time.perf_counter()
        try:
            if tool.startswith("mcp__"):
                # An MCP call may take seconds and only reads its server's settings.
                async with self.db.read_session(user.tenant_id) as read:
                    result = await run_mcp_tool(read, ctx, tool, args, offered or None)
            else:
                # A session opens its transaction on first use: a report, which touches no
                # table, never holds one (nor SQLite's writer) while it works.
                async with self.db.session(user.tenant_id) as session:
                    result = await run_tool(session, ctx, tool, args)
        except ToolError as exc:
            code = exc.code or {"unknown_tool": "TOOL_NOT_FOUND", "invalid_arguments": "INVALID_TOOL_ARGS"}.get(
                exc.kind, "WS_TOOL_ERROR")
            metrics.TOOL_CALLS.labels(tool, code).inc()
            raise ChatError(code, exc.message) from exc
        except Exception as exc:
            metrics.TOOL_CALLS.labels(tool, "TOOL_INTERNAL_ERROR").inc()
            log.exception("mcp_tool_call_failed", action="mcp_tool_call", tool=tool, user_id=str(user.user_id),
                          tenant_id=str(user.tenant_id))
            raise ChatError("TOOL_INTERNAL_ERROR", f"la herramienta {tool} falló: {type(exc).__name__}") from exc
        latency = round((time.perf_counter() - started) * 1000, 1)
        metrics.TOOL_CALLS.labels(tool, "ok").inc()
        log.info("mcp_tool_call", action="mcp_tool_call", tool=tool, user_id=str(user.user_id),
                 tenant_id=str(user.tenant_id), latency_ms=latency)
        return result

    async def _tool_answer(self, user: ChatUser, session_id: int, tool: str, result: Any, send: Send,
                           started: float) -> None:
        text = describe_result(tool, result)
        latency = self._elapsed(started)
        await self._store(user, session_id, "assistant", text, tool_name=tool,
                          result=result if isinstance(result, dict) else {"value": result}, latency_ms=latency)
        metrics.LATENCY.labels(tool).observe(latency / 1000)
        await send({"type": "assistant_delta", "content": text})
        await send({"type": "assistant_done", "content": text,
                    "metadata": {"result": result, "tool": tool}})

    async def _failed(self, user: ChatUser, session_id: int, tool: str | None, exc: ChatError, send: Send,
                      started: float) -> None:
        await self._store(user, session_id, "assistant", exc.message, tool_name=tool, error_code=exc.code,
                          latency_ms=self._elapsed(started))
        await send(error_frame(exc.code, exc.message))

    # -- the model -------------------------------------------------------------------------

    async def _converse(self, user: ChatUser, session_id: int, send: Send, started: float) -> None:
        async with self.db.read_session(user.tenant_id) as read:
            assistant = await panel_assistant(read, user)
            turns = await repo.history(read, user.tenant_id, session_id, HISTORY_TURNS)
            mcp = await mcp_specs(read, user.tenant_id) if user.role in MANAGER_ROLES and assistant else []
        if assistant is None:
            await self._answer(user, session_id, commands.offline_text(), send, started)
            return
        try:
            provider = build_provider(assistant, self.secret_box)
        except ProviderError as exc:
            await self._failed(user, session_id, None, ChatError("WS_INTERNAL_ERROR", exc.message), send, started)
            return
        tools = [*(t.spec for t in INBOX_TOOLS.values()), *(EXTRA_TOOLS[n].spec for n in REPORT_TOOLS
                                                            if n in EXTRA_TOOLS), *mcp]
        messages = [ModelMessage(role="system", content=system_prompt(assistant, user)),
                    *(ModelMessage(role="user" if m.role == "user" else "assistant", content=m.content)
                      for m in turns if m.content)]
        request = ProviderRequest(model=assistant.model, messages=messages, tools=tools,
                                  temperature=assistant.temperature, max_output_tokens=assistant.max_output_tokens)
        streamed: list[str] = []
        last_tool: tuple[str, Any] | None = None

        async def on_delta(delta: StreamDelta) -> None:
            if delta.text:
                streamed.append(delta.text)
                await send({"type": "assistant_delta", "content": delta.text})

        try:
            for round_no in range(MAX_TOOL_ROUNDS + 1):
                if round_no == MAX_TOOL_ROUNDS:
                    request.tools = []  # the last round must answer
                result = await provider.complete(request, on_delta)
                if not result.tool_calls:
                    break
                request.messages.append(ModelMessage(role="assistant", content=result.text,
                                                     tool_calls=result.tool_calls))
                for call in result.tool_calls:
                    content, outcome = await self._model_tool(user, session_id, call, send, mcp)
                    if outcome is not None:
                        last_tool = (call.name, outcome)
                    request.messages.append(ModelMessage(role="tool", content=content, tool_call_id=call.id,
                                                         name=call.name))
        except ProviderError as exc:
            await self._failed(user, session_id, None, ChatError(
                "WS_INTERNAL_ERROR", f"el proveedor de IA falló: {exc.message}"), send, started)
            return
        text = "".join(streamed).strip() or result.text.strip()
        latency = self._elapsed(started)
        tool_name, tool_result = last_tool if last_tool else (None, None)
        await self._store(user, session_id, "assistant", text, tool_name=tool_name,
                          result=tool_result if isinstance(tool_result, dict) else None, latency_ms=latency)
        metrics.LATENCY.labels(tool_name or "").observe(latency / 1000)
        await send({"type": "assistant_done", "content": text,
                    "metadata": {"result": tool_result, "tool": tool_name}})

    async def _model_tool(self, user: ChatUser, session_id: int, call: ToolCall, send: Send,
                          mcp: list[ToolSpec]) -> tuple[str, Any]:
        """Run a tool the model asked for; its result (or error) goes back to the model."""
        try:
            result = await self.run_tool(user, session_id, call.name, call.arguments, send, offered=mcp)
        except ChatError as exc:
            await send({"type": "assistant_delta", "content": f"✗ {exc.message}\n"})
            return json.dumps({"error": exc.message, "code": exc.code}, ensure_ascii=False), None
        return result_text(result), result

    # -- helpers ---------------------------------------------------------------------------

    async def _answer(self, user: ChatUser, session_id: int, text: str, send: Send, started: float) -> None:
        latency = self._elapsed(started)
        await self._store(user, session_id, "assistant", text, latency_ms=latency)
        metrics.LATENCY.labels("").observe(latency / 1000)
        await send({"type": "assistant_delta", "content": text})
        await send({"type": "assistant_done", "content": text, "metadata": {"result": None, "tool": None}})

    async def _store(self, user: ChatUser, session_id: int, role: str, content: str, **fields: Any) -> None:
        await add_message(self.db, user, session_id, role, content, **fields)
        metrics.MESSAGES.labels(role).inc()

    def _kept_attachments(self, user: ChatUser, attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The attachments that name a file of the tenant's upload folder (others are dropped:
        `../secret.txt`, absolute paths, folders)."""
        kept = []
        for a in attachments[:MAX_ATTACHMENTS]:
            path = str(a.get("path") or "")
            try:
                upload_key(self.settings, user.tenant_id, path)
            except InvalidKey:
                log.info("chat_attachment_dropped", action="chat_attachment_dropped", path=path[:200],
                         user_id=str(user.user_id))
                continue
            kept.append({"name": str(a.get("name") or path)[:240], "path": path})
        return kept

    async def _last_attachments(self, user: ChatUser, session_id: int) -> list[dict[str, Any]]:
        async with self.db.read_session(user.tenant_id) as read:
            return await repo.last_attachment(read, user.tenant_id, session_id)

    @staticmethod
    def _elapsed(started: float) -> float:
        return round((time.perf_counter() - started) * 1000, 1)


async def panel_assistant(session: Any, user: ChatUser) -> Assistant | None:
    """The tenant's assistant for the panel: its first enabled assistant with a model provider
    (offline assistants answer customers from the knowledge base; here they cannot help)."""
    for assistant in await assistants_repo.list_assistants(session, user.tenant_id):
        if assistant.enabled and assistant.provider != "offline":
            return assistant
    return None


def system_prompt(assistant: Assistant, user: ChatUser) -> str:
    language = LANGUAGES.get(assistant.language[:2], assistant.language)
    parts = [assistant.instructions.strip()] if assistant.instructions.strip() else []
    parts.append(
        f"You are {assistant.name}, the assistant of the business's own team inside their inbox panel (not the "
        f"customers'). You are talking with {user.name} ({user.role}). Answer in {language}, briefly, in Markdown. "
        "Use your tools to answer questions about the inbox (who is waiting, today's conversations, finding a "
        "customer) and to make reports from the files the person uploaded (their `path` is the tool's "
        "`file_path`). Never invent figures: say what the tools returned, with their links.")
    return "\n\n".join(parts)


def describe_result(tool: str, result: Any) -> str:
    """A tool's result as the answer a person reads (Markdown)."""
    if isinstance(result, dict) and tool in REPORT_TOOLS:
        links = [(label, result.get(key)) for key, label in (("docx", "Documento Word"), ("pdf", "PDF"),
                                                              ("map", "Mapa"), ("csv", "Detalle (CSV)"))]
        lines = [f"**{tool}** listo." + (f" {result['summary']}." if result.get("summary") else "")]
        lines += [f"- [{label}]({url})" for label, url in links if url]
        if tool == REPETITIVIDAD and not result.get("map"):
            lines.append("- Mapa: no disponible (sin datos georreferenciados)")
        return "\n".join(lines)
    if isinstance(result, dict) and tool == WAITING:
        lines = [f"**{result['waiting']}** conversaciones esperan a una persona."]
        lines += [_conversation_line(c, c.get("last_inbound_at")) for c in result["longest_waiting"]]
        return "\n".join(lines)
    if isinstance(result, dict) and tool == TODAY:
        tag = f" con la etiqueta «{result['tag']}»" if result.get("tag") else ""
        lines = [f"**{result['count']}** conversaciones hoy{tag}."]
        lines += [_conversation_line(c, c.get("last_message_at")) for c in result["conversations"]]
        return "\n".join(lines)
    if isinstance(result, dict) and tool == FIND:
        if not result["found"]:
            return f"No encontré conversaciones para «{result['query']}»."
        return "\n".join([f"Conversaciones para «{result['query']}»:",
                          *(_conversation_line(c, c.get("last_message_at")) for c in result["found"])])
    return f"Resultado de {tool}:\n```json\n{result_text(result)}\n```"


def _conversation_line(c: dict[str, Any], at: str | None) -> str:
    preview = (c.get("last_message_preview") or "").replace("\n", " ")[:80]
    when = f" ({at[11:16]})" if at else ""
    return f"- [{c['contact'] or c['conversation_id'][:8]}]({c['url']}){when}: {preview}"
