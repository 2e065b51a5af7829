from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from tertulia.assistants.tools import BUILTIN_NAMES, DEFAULT_ENABLED_TOOLS
from tertulia.kit.egress import check_url_form
from tertulia.kit.types import Name, Text

ProviderName = Literal["offline", "openai", "anthropic"]
TOOL_PATTERN = re.compile(r"^mcp__[A-Za-z0-9_*-]*(__[A-Za-z0-9_*-]*)?$|^mcp__\*$")


def _language(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[a-z]{2}(-[A-Za-z]{2})?", value):
        raise PydanticCustomError("invalid_language", "use a language code such as 'es', 'en' or 'pt-BR'")
    return value


def _base_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value):
        raise PydanticCustomError("invalid_url", "must be an http:// or https:// URL, e.g. http://ollama.lan:11434/v1")
    check_url_form(value)
    return value.rstrip("/")


def _tools(value: list[str]) -> list[str]:
    out: list[str] = []
    for name in value:
        if name not in BUILTIN_NAMES and not TOOL_PATTERN.match(name):
            raise PydanticCustomError(
                "unknown_tool", "unknown tool '{name}': use {builtin} or MCP tools as 'mcp__<server>__<tool>' "
                "(wildcards allowed, e.g. 'mcp__*')", {"name": name, "builtin": ", ".join(BUILTIN_NAMES)})
        if name not in out:
            out.append(name)
    return out


Language = Annotated[str, AfterValidator(_language)]
BaseUrl = Annotated[str | None, StringConstraints(max_length=500), AfterValidator(_base_url)]
ToolNames = Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100),
                      AfterValidator(_tools)]
Instructions = Annotated[Text, StringConstraints(max_length=20_000)]
HandoffMessage = Annotated[Text, StringConstraints(max_length=2_000)]
ApiKey = Annotated[Text, StringConstraints(max_length=1_000)]


class AssistantCreate(BaseModel):
    name: Name = Field(examples=["Nora"])
    instructions: Instructions = Field(default="", description="the persona and rules, in plain words")
    language: Language = "es"
    provider: ProviderName = "offline"
    model: Annotated[Text, StringConstraints(max_length=200)] = ""
    base_url: BaseUrl = Field(default=None,
                              description="OpenAI-compatible or Anthropic endpoint; empty for the vendor's")
    api_key: ApiKey | None = Field(default=None, description="write-only: stored encrypted, never returned")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_output_tokens: Annotated[int, Field(ge=1, le=200_000)] | None = None
    debounce_seconds: Annotated[float, Field(ge=0, le=120)] = 3.0
    enabled_tools: ToolNames = Field(default_factory=lambda: list(DEFAULT_ENABLED_TOOLS))
    handoff_message: HandoffMessage | None = Field(
        default=None, description="what the customer reads when a person takes over; a default in the assistant's "
        "language when omitted")
    enabled: bool = True


class AssistantUpdate(BaseModel):
    name: Name | None = None
    instructions: Instructions | None = None
    language: Language | None = None
    provider: ProviderName | None = None
    model: Annotated[Text, StringConstraints(max_length=200)] | None = None
    base_url: BaseUrl = None
    api_key: ApiKey | None = Field(default=None, description="a new key; null or \"\" removes the stored key")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_output_tokens: Annotated[int, Field(ge=1, le=200_000)] | None = None
    debounce_seconds: Annotated[float, Field(ge=0, le=120)] | None = None
    enabled_tools: ToolNames | None = None
    handoff_message: HandoffMessage | None = None
    enabled: bool | None = None


class AssistantOut(BaseModel):
    id: uuid.UUID
    name: str
    instructions: str
    language: str
    provider: str
    model: str
    base_url: str | None
    has_api_key: bool
    temperature: float | None
    max_output_tokens: int | None
    debounce_seconds: float
    enabled_tools: list[str]
    handoff_message: str
    enabled: bool
    channel_ids: list[uuid.UUID]
    knowledge_count: int
    created_at: datetime
    updated_at: datetime


KnowledgeTitle = Annotated[Text, AfterValidator(str.strip), StringConstraints(min_length=1, max_length=300)]
KnowledgeContent = Annotated[Text, StringConstraints(min_length=1, max_length=200_000)]


class KnowledgeCreate(BaseModel):
    title: KnowledgeTitle = Field(examples=["Horario de atención"])
    content: KnowledgeContent = Field(examples=["Atendemos de lunes a viernes de 9:00 a 19:00."])


class KnowledgeUpdate(BaseModel):
    title: KnowledgeTitle | None = None
    content: KnowledgeContent | None = None


class KnowledgeOut(BaseModel):
    id: uuid.UUID
    assistant_id: uuid.UUID
    title: str
    content: str
    source_filename: str | None
    created_at: datetime
    updated_at: datetime


class TraceOut(BaseModel):
    correlation_id: str
    conversation_id: uuid.UUID | None
    assistant_id: uuid.UUID | None
    provider: str
    model: str
    input_messages: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    reasoning: list[str] = Field(description="the reasoning text of each step, when the provider returned it")
    tools_used: list[dict[str, Any]] = Field(description="each tool call with arguments, result and duration")
    output: str
    tokens_in: int
    tokens_out: int
    ttft_ms: float | None
    latency_ms: float
    outcome: str
    error: str | None
    reply_message_id: int | None
    created_at: datetime


class SummaryOut(BaseModel):
    summary: str = Field(description="what the customer wants, what they were told, what is pending, and (its "
                                     "last line) who has the conversation now")
    generated_at: datetime
    message_count: int
    handoff_brief: str | None
    control: str = Field(description="who has the conversation now (the AI, or which person), as of this request")


class InvokeBody(BaseModel):
    tool: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(examples=["add_tag"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{"name": "Cliente VIP"}])
    conversation_id: uuid.UUID | None = Field(
        default=None, description="for tools that act on a conversation's contact (may also be given in args)")
    assistant_id: uuid.UUID | None = Field(default=None, description="for search_knowledge (may be given in args)")


class KnowledgeHit(BaseModel):
    entry_id: uuid.UUID
    chunk_id: int
    title: str
    content: str = Field(description="the passage found, as the assistant would read it")
    score: float = Field(description="relevance; higher is better")


class TryMessage(BaseModel):
    role: Literal["user", "assistant"] = Field(description="user: the customer; assistant: an earlier reply")
    content: Annotated[Text, StringConstraints(min_length=1, max_length=4_000)]


class TryRequest(BaseModel):
    messages: Annotated[list[TryMessage], Field(min_length=1, max_length=40)] = Field(
        description="the scratch conversation so far, oldest first, ending with the customer's message",
        examples=[[{"role": "user", "content": "¿Hacen envíos a domicilio?"}]])


class TryResult(BaseModel):
    reply: str = Field(description="what the assistant would answer; empty when it hands off")
    outcome: Literal["sent", "handoff"]
    handoff_reason: str | None = Field(description="why it would pass the conversation to a person")
    handoff_message: str | None = Field(description="what the customer would read on a handoff")
    trace: TraceOut = Field(description="the run, as a real reply's trace shows it (not stored)")


class ToolOut(BaseModel):
    name: str = Field(description="as offered to the model (MCP tools as mcp__<server>__<tool>)")
    description: str
    parameters: dict[str, Any] = Field(description="the arguments' JSON Schema")
