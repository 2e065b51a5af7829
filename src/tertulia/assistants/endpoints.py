"""The assistant's API: assistants and knowledge (owners/admins), AI traces and conversation
summaries (any member), and `POST /mcp/invoke` (seed 002) to run one tool by hand."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from tertulia.assistants import repository as repo
from tertulia.assistants import service
from tertulia.assistants.documents import SUFFIXES as UPLOAD_SUFFIXES
from tertulia.assistants.documents import unsupported
from tertulia.assistants.models import AiTrace
from tertulia.assistants.orchestrator import Orchestrator, history_messages
from tertulia.assistants.schemas import (
    AssistantCreate,
    AssistantOut,
    AssistantUpdate,
    InvokeBody,
    KnowledgeCreate,
    KnowledgeHit,
    KnowledgeOut,
    KnowledgeUpdate,
    SummaryOut,
    ToolOut,
    TraceOut,
    TryRequest,
    TryResult,
)
from tertulia.assistants.summaries import control_of, current_summary, refresh_summary
from tertulia.assistants.text import topical_words
from tertulia.assistants.tools import EXTRA_TOOLS, ToolContext, ToolError, available_tools, result_text, run_tool
from tertulia.conversations import service as conversations
from tertulia.kit.db import utcnow
from tertulia.kit.errors import Invalid, NotFound, TertuliaError
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.web import DbSession, ReadDb
from tertulia.tenancy.auth import CurrentManager, CurrentPrincipal

log = structlog.get_logger("tertulia.assistants.api")

router = APIRouter(prefix="/admin", tags=["assistant"], route_class=JsonBodyRoute)
mcp_router = APIRouter(tags=["assistant"], route_class=JsonBodyRoute)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
CorrelationId = Annotated[str, Path(min_length=1, max_length=64)]


# --- assistants ---------------------------------------------------------------------------

@router.get("/assistants", response_model=list[AssistantOut])
async def list_assistants(principal: CurrentManager, db: ReadDb) -> list[AssistantOut]:
    return [await service.assistant_out(db, a) for a in await repo.list_assistants(db, principal.tenant_id)]


@router.post("/assistants", response_model=AssistantOut, status_code=201)
async def create_assistant(body: AssistantCreate, principal: CurrentManager, db: DbSession,
                           request: Request) -> AssistantOut:
    """Create an assistant. Link it to channels with `PATCH /admin/channels/{id} {assistant_id}`."""
    assistant = await service.create_assistant(db, request.app.state.secret_box, principal.tenant_id, body)
    return await service.assistant_out(db, assistant)


@router.get("/assistants/{assistant_id}", response_model=AssistantOut)
async def get_assistant(assistant_id: uuid.UUID, principal: CurrentManager, db: ReadDb) -> AssistantOut:
    return await service.assistant_out(db, await service.require_assistant(db, principal.tenant_id, assistant_id))


@router.patch("/assistants/{assistant_id}", response_model=AssistantOut)
async def update_assistant(assistant_id: uuid.UUID, body: AssistantUpdate, principal: CurrentManager,
                           db: DbSession, request: Request) -> AssistantOut:
    """Change any field; `api_key` replaces the stored key (`null` or `""` removes it)."""
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    await service.update_assistant(db, request.app.state.secret_box, assistant, body)
    return await service.assistant_out(db, assistant)


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(assistant_id: uuid.UUID, principal: CurrentManager, db: DbSession) -> Response:
    await service.delete_assistant(db, await service.require_assistant(db, principal.tenant_id, assistant_id))
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/try", response_model=TryResult)
async def try_assistant(assistant_id: uuid.UUID, body: TryRequest, principal: CurrentManager, db: DbSession,
                        request: Request) -> TryResult:
    """Run the assistant (as saved) on a scratch conversation and return its reply with the
    trace of the run. Nothing is sent, stored or handed off: the conversation lives in the
    caller, who sends it whole each turn, ending with the customer's message. Tools that act on
    a contact are not offered; a disabled assistant can be tried too."""
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    if body.messages[-1].role != "user":
        raise Invalid("the scratch conversation must end with the customer's message", code="try_needs_customer")
    # The run's tool calls open sessions of their own: this request's must not hold SQLite's writer.
    # (Detached first, the assistant keeps its loaded values through the rollback.)
    db.expunge(assistant)
    await db.rollback()
    history = history_messages([TryTurn(m.role, m.content) for m in body.messages])
    orchestrator = Orchestrator(request.app.state.db, request.app.state.secret_box)
    state, ctx = await orchestrator.preview(assistant, history)
    outcome = "handoff" if state.handoff_reason else "sent"
    trace = AiTrace(
        tenant_id=principal.tenant_id, correlation_id=state.correlation_id, conversation_id=None,
        assistant_id=assistant.id, provider=state.provider, model=state.model, input_messages=state.input_messages,
        sources=ctx.sources, steps=state.steps, output=state.output if outcome == "sent" else "",
        tokens_in=state.tokens_in, tokens_out=state.tokens_out,
        ttft_ms=state.elapsed_ms(state.first_token_at) if state.first_token_at is not None else None,
        latency_ms=state.elapsed_ms(), outcome=outcome, error=state.error, created_at=utcnow())
    return TryResult(reply=trace.output, outcome=outcome, handoff_reason=state.handoff_reason,
                     handoff_message=assistant.handoff_message if outcome == "handoff" else None,
                     trace=trace_out(trace))


@dataclass(frozen=True)
class TryTurn:
    """A scratch message as the history reads it (customer or assistant, text only)."""

    role: str
    content: str
    attachments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def author(self) -> str:
        return "contact" if self.role == "user" else "ai"


@router.get("/assistants/{assistant_id}/tools", response_model=list[ToolOut])
async def list_tools(assistant_id: uuid.UUID, principal: CurrentManager, db: ReadDb) -> list[ToolOut]:
    """The tools this assistant may call (built-in and MCP), as offered to the model."""
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    specs = await available_tools(db, principal.tenant_id, list(assistant.enabled_tools or []))
    return [ToolOut(name=s.name, description=s.description, parameters=s.parameters) for s in specs]


# --- knowledge ----------------------------------------------------------------------------

@router.get("/assistants/{assistant_id}/knowledge", response_model=list[KnowledgeOut])
async def list_knowledge(assistant_id: uuid.UUID, principal: CurrentManager, db: ReadDb) -> list[KnowledgeOut]:
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    return [service.knowledge_out(e) for e in await repo.list_entries(db, principal.tenant_id, assistant.id)]


@router.post("/assistants/{assistant_id}/knowledge", response_model=KnowledgeOut, status_code=201)
async def add_knowledge(assistant_id: uuid.UUID, body: KnowledgeCreate, principal: CurrentManager,
                        db: DbSession) -> KnowledgeOut:
    """Add an entry (an FAQ answer, a policy, product text); it is searchable at once."""
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    return service.knowledge_out(await service.add_knowledge(db, assistant, body))


@router.post("/assistants/{assistant_id}/knowledge/upload", response_model=KnowledgeOut, status_code=201)
async def upload_knowledge(
    assistant_id: uuid.UUID, principal: CurrentManager, db: DbSession,
    file: Annotated[UploadFile | None, File(description="a .txt, .md (UTF-8), .pdf or .docx document, "
                                                        "up to 10 MB")] = None,
    title: Annotated[str | None, Form(max_length=300)] = None,
) -> KnowledgeOut:
    """Upload a document as one entry (multipart field `file`, optional `title`): `.txt`/`.md`
    as UTF-8 text, the text of a `.pdf` or of a `.docx` (headings kept as Markdown)."""
    # The assistant is checked first: another tenant's id is a 404 whatever the body holds.
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    if file is None:
        raise Invalid("send the document as the multipart field 'file'", code="file_required")
    filename = (file.filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:300]
    if not filename.lower().endswith(UPLOAD_SUFFIXES):
        raise unsupported("only .txt, .md, .pdf and .docx documents can be uploaded as knowledge")
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise TertuliaError("the document is larger than 10 MB; split it into several",
                            code="payload_too_large", status_code=413)
    # Reading a PDF or a Word file takes CPU time: off the event loop.
    body = await asyncio.to_thread(service.knowledge_from_upload, filename, raw,
                                   title.strip() if title and title.strip() else None)
    return service.knowledge_out(await service.add_knowledge(db, assistant, body, source_filename=filename))


@router.get("/assistants/{assistant_id}/knowledge/search", response_model=list[KnowledgeHit])
async def search_knowledge(assistant_id: uuid.UUID, principal: CurrentManager, db: ReadDb,
                           q: Annotated[str, Query(min_length=1, max_length=500)],
                           limit: Annotated[int, Query(ge=1, le=10)] = 4) -> list[KnowledgeHit]:
    """What the assistant would find for this question: the passages its knowledge search returns,
    best first (the same search its replies use)."""
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    hits = await repo.search_chunks(db, principal.tenant_id, assistant.id, topical_words(q, assistant.language),
                                    assistant.language, limit=limit)
    return [KnowledgeHit(entry_id=h.entry_id, chunk_id=h.chunk_id, title=h.title, content=h.content,
                         score=round(h.score, 4)) for h in hits]


@router.patch("/assistants/{assistant_id}/knowledge/{entry_id}", response_model=KnowledgeOut)
async def update_knowledge(assistant_id: uuid.UUID, entry_id: uuid.UUID, body: KnowledgeUpdate,
                           principal: CurrentManager, db: DbSession) -> KnowledgeOut:
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    entry = await service.require_entry(db, assistant, entry_id)
    return service.knowledge_out(await service.update_knowledge(db, assistant, entry, body))


@router.delete("/assistants/{assistant_id}/knowledge/{entry_id}", status_code=204)
async def delete_knowledge(assistant_id: uuid.UUID, entry_id: uuid.UUID, principal: CurrentManager,
                           db: DbSession) -> Response:
    assistant = await service.require_assistant(db, principal.tenant_id, assistant_id)
    await service.delete_knowledge(db, await service.require_entry(db, assistant, entry_id))
    return Response(status_code=204)


# --- traces and summaries -----------------------------------------------------------------

def trace_out(trace: AiTrace) -> TraceOut:
    steps = list(trace.steps or [])
    return TraceOut(
        correlation_id=trace.correlation_id, conversation_id=trace.conversation_id, assistant_id=trace.assistant_id,
        provider=trace.provider, model=trace.model, input_messages=list(trace.input_messages or []),
        sources=list(trace.sources or []), steps=steps,
        reasoning=[s["reasoning"] for s in steps if s.get("type") == "model" and s.get("reasoning")],
        tools_used=[s for s in steps if s.get("type") == "tool"], output=trace.output, tokens_in=trace.tokens_in,
        tokens_out=trace.tokens_out, ttft_ms=trace.ttft_ms, latency_ms=trace.latency_ms, outcome=trace.outcome,
        error=trace.error, reply_message_id=trace.reply_message_id, created_at=trace.created_at,
    )


@router.get("/logs/ai/{correlation_id}", response_model=TraceOut)
async def get_ai_log(correlation_id: CorrelationId, principal: CurrentPrincipal, db: ReadDb) -> TraceOut:
    """What happened behind one AI reply: the input, the sources retrieved, each step (reasoning,
    tool calls with arguments, results and durations), tokens, latency and outcome."""
    trace = await repo.get_trace(db, principal.tenant_id, correlation_id)
    if trace is None:
        raise NotFound("no AI trace with this correlation id", code="trace_not_found")
    return trace_out(trace)


def summary_out(row: Any, control: str) -> SummaryOut:
    """The stored (or fresh) summary, with who has the conversation now said at the end."""
    return SummaryOut(summary=f"{row.summary}\n{control}", generated_at=row.generated_at,
                      message_count=row.message_count, handoff_brief=row.handoff_brief, control=control)


@router.get("/chats/{conversation_id}/summary", response_model=SummaryOut)
async def get_chat_summary(conversation_id: uuid.UUID, principal: CurrentPrincipal, db: ReadDb,
                           request: Request) -> SummaryOut:
    """The conversation's rolling summary: the stored one while no newer message exists, else
    one made now (stored by the POST, or by the next reply)."""
    conv = await conversations.require_conversation(db, principal.tenant_id, conversation_id)
    return summary_out(await current_summary(db, conv), await control_of(db, conv))


@router.post("/chats/{conversation_id}/summary", response_model=SummaryOut)
async def regenerate_chat_summary(conversation_id: uuid.UUID, principal: CurrentPrincipal,
                                  db: DbSession) -> SummaryOut:
    """Regenerate the summary now."""
    conv = await conversations.require_conversation(db, principal.tenant_id, conversation_id)
    return summary_out(await refresh_summary(db, conv, force=True), await control_of(db, conv))


# --- manual tool invocation (seed 002) ----------------------------------------------------

def _uuid_arg(args: dict[str, Any], name: str, given: uuid.UUID | None) -> uuid.UUID | None:
    raw = args.pop(name, None)
    if given is not None:
        return given
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise Invalid(f"{name} must be a UUID", code="invalid_arguments") from exc


TOOL_ERROR_STATUS = {"unknown_tool": (404, "unknown_tool"), "invalid_arguments": (422, "invalid_arguments"),
                     "failed": (409, "tool_refused")}
# Tools with codes of their own (seed 002's reports) answer with them, lower-cased like ours.
TOOL_CODE_STATUS = {"FILE_NOT_FOUND": (404, "file_not_found"), "INVALID_TOOL_ARGS": (422, "invalid_arguments"),
                    "INVALID_FILE": (422, "invalid_file"), "MISSING_COLUMNS": (422, "missing_columns"),
                    "TOOL_FORBIDDEN": (403, "tool_forbidden")}


@mcp_router.post("/mcp/invoke")
async def invoke_tool(body: InvokeBody, principal: CurrentPrincipal, db: DbSession, request: Request) -> Any:
    """Run one tool for the caller's tenant (built-in, registered, or `mcp__<server>__<tool>`) and
    return the events it produced, ending with `assistant_done` carrying `metadata.result`.
    Conversation tools (`add_tag`, `remove_tag`, `update_contact`, `handoff_to_human`) need a
    `conversation_id`; `search_knowledge` uses the conversation's assistant or `assistant_id`."""
    args = dict(body.args)
    conversation_id = _uuid_arg(args, "conversation_id", body.conversation_id)
    assistant_id = _uuid_arg(args, "assistant_id", body.assistant_id)
    events: list[dict[str, Any]] = [{"type": "tool_call", "metadata": {"tool": body.tool, "args": args}}]
    ctx = ToolContext(tenant_id=principal.tenant_id, assistant_id=assistant_id, store=request.app.state.store,
                      settings=request.app.state.settings)
    if conversation_id is not None:
        conv = await conversations.require_conversation(db, principal.tenant_id, conversation_id)
        ctx.conversation_id, ctx.contact_id = conv.id, conv.contact_id
        if ctx.assistant_id is None:
            linked = await repo.assistant_for_channel(db, principal.tenant_id, conv.channel_id)
            ctx.assistant_id = linked.id if linked is not None else None
    if ctx.assistant_id is None and body.tool == "search_knowledge":
        assistants = await repo.list_assistants(db, principal.tenant_id)
        ctx.assistant_id = assistants[0].id if len(assistants) == 1 else None
    tool = EXTRA_TOOLS.get(body.tool)
    if tool is not None and tool.long_running:
        await db.commit()  # a report runs for seconds without the database: SQLite's writer is not held
    try:
        result = await run_tool(db, ctx, body.tool, args)
    except ToolError as exc:
        status, code = TOOL_CODE_STATUS.get(exc.code or "") or TOOL_ERROR_STATUS.get(exc.kind, (400, "tool_error"))
        raise TertuliaError(exc.message, code=code, status_code=status) from exc
    except TertuliaError:
        raise
    except Exception as exc:
        # Raised, so the request's transaction rolls back: nothing half-done by the tool is kept.
        # The exception's text (SQL, parameters, paths) goes to the log only.
        log.exception("mcp_tool_call_failed", action="mcp_tool_call", tool=body.tool,
                      tenant_id=str(principal.tenant_id))
        raise TertuliaError(f"the tool '{body.tool}' failed unexpectedly; the server log has the details",
                            code="tool_failed", status_code=500) from exc
    # The tenant events the tool recorded; they are written and published when this request commits.
    events.extend({"type": t, "data": d} for _, t, d in db.info.get("pending_events", []))
    log.info("mcp_tool_call", action="mcp_tool_call", tool=body.tool, tenant_id=str(principal.tenant_id))
    events.append({"type": "assistant_done", "content": result_text(result),
                   "metadata": {"tool": body.tool, "result": result}})
    return events
