"""Assistants and their knowledge; scheduling the AI's turn when a customer writes; handing a
conversation to a human."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants import repository as repo
from tertulia.assistants.documents import document_text
from tertulia.assistants.models import Assistant, KnowledgeEntry
from tertulia.assistants.schemas import (
    AssistantCreate,
    AssistantOut,
    AssistantUpdate,
    KnowledgeCreate,
    KnowledgeOut,
    KnowledgeUpdate,
)
from tertulia.assistants.text import chunk_text
from tertulia.conversations import service as conversations
from tertulia.conversations.inbound import StoredMessage
from tertulia.conversations.models import Conversation
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Reader, after_commit, utcnow
from tertulia.kit.egress import check_url
from tertulia.kit.errors import Invalid, NotFound

log = structlog.get_logger("tertulia.assistants")

DEFAULT_HANDOFF = {
    "es": "Gracias por tu paciencia. Te paso con una persona de nuestro equipo, que te responderá en breve.",
    "en": "Thanks for your patience. I'm passing you to a person on our team, who will reply shortly.",
    "pt": "Obrigado pela paciência. Vou passar você para uma pessoa da nossa equipe, que responderá em breve.",
}
HANDOFF_NOTE = {
    "es": "La IA pasó la conversación a una persona: {reason}",
    "en": "The AI handed the conversation to a person: {reason}",
}


def default_handoff_message(language: str) -> str:
    return DEFAULT_HANDOFF.get(language[:2], DEFAULT_HANDOFF["es"])


# --- assistants ---------------------------------------------------------------------------

async def require_assistant(session: Reader, tenant_id: uuid.UUID, assistant_id: uuid.UUID) -> Assistant:
    assistant = await repo.get_assistant(session, tenant_id, assistant_id)
    if assistant is None:
        raise NotFound("no such assistant", code="assistant_not_found")
    return assistant


async def assistant_out(session: Reader, assistant: Assistant) -> AssistantOut:
    return AssistantOut(
        id=assistant.id, name=assistant.name, instructions=assistant.instructions, language=assistant.language,
        provider=assistant.provider, model=assistant.model, base_url=assistant.base_url,
        has_api_key=bool(assistant.api_key_encrypted), temperature=assistant.temperature,
        max_output_tokens=assistant.max_output_tokens, debounce_seconds=assistant.debounce_seconds,
        enabled_tools=list(assistant.enabled_tools or []), handoff_message=assistant.handoff_message,
        enabled=assistant.enabled,
        channel_ids=await repo.channels_of_assistant(session, assistant.tenant_id, assistant.id),
        knowledge_count=await repo.count_entries(session, assistant.tenant_id, assistant.id),
        created_at=assistant.created_at, updated_at=assistant.updated_at,
    )


def _check_provider(assistant: Assistant) -> None:
    if assistant.provider in ("openai", "anthropic") and not assistant.model:
        raise Invalid(f"the {assistant.provider} provider needs a model name, e.g. "
                      f"{'gpt-4o-mini' if assistant.provider == 'openai' else 'claude-sonnet-4-5'}",
                      code="model_required")


async def create_assistant(session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID,
                           body: AssistantCreate) -> Assistant:
    if body.base_url:
        await check_url(body.base_url, what="base_url")
    now = utcnow()
    assistant = Assistant(
        id=uuid.uuid4(), tenant_id=tenant_id, name=body.name, instructions=body.instructions, language=body.language,
        provider=body.provider, model=body.model.strip(), base_url=body.base_url,
        api_key_encrypted=box.encrypt({"api_key": body.api_key}) if body.api_key else None,
        temperature=body.temperature, max_output_tokens=body.max_output_tokens,
        debounce_seconds=body.debounce_seconds, enabled_tools=body.enabled_tools,
        handoff_message=body.handoff_message if body.handoff_message is not None
        else default_handoff_message(body.language),
        enabled=body.enabled, created_at=now, updated_at=now,
    )
    _check_provider(assistant)
    session.add(assistant)
    await session.flush()
    return assistant


async def update_assistant(session: AsyncSession, box: SecretBox, assistant: Assistant,
                           body: AssistantUpdate) -> Assistant:
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    old_language = assistant.language
    for name in ("name", "instructions", "language", "provider", "temperature", "max_output_tokens",
                 "debounce_seconds", "enabled_tools", "handoff_message", "enabled"):
        if name in fields and (fields[name] is not None or name in ("temperature", "max_output_tokens")):
            setattr(assistant, name, fields[name])
    if "model" in fields:
        assistant.model = (fields["model"] or "").strip()
    if "base_url" in fields:
        if fields["base_url"]:
            await check_url(fields["base_url"], what="base_url")
        assistant.base_url = fields["base_url"]
    if "api_key" in fields:
        key = fields["api_key"]
        assistant.api_key_encrypted = box.encrypt({"api_key": key}) if key else None
    _check_provider(assistant)
    assistant.updated_at = utcnow()
    await session.flush()
    if assistant.language != old_language:
        await repo.reindex_assistant(session, assistant.tenant_id, assistant.id, assistant.language)
    return assistant


async def delete_assistant(session: AsyncSession, assistant: Assistant) -> None:
    # Channels keep working without an assistant (humans answer); their link is cleared.
    await repo.unlink_channels(session, assistant.tenant_id, assistant.id)
    await session.delete(assistant)
    await session.flush()


# --- knowledge ----------------------------------------------------------------------------

def knowledge_out(entry: KnowledgeEntry) -> KnowledgeOut:
    return KnowledgeOut(id=entry.id, assistant_id=entry.assistant_id, title=entry.title, content=entry.content,
                        source_filename=entry.source_filename, created_at=entry.created_at,
                        updated_at=entry.updated_at)


async def require_entry(session: AsyncSession, assistant: Assistant, entry_id: uuid.UUID) -> KnowledgeEntry:
    entry = await repo.get_entry(session, assistant.tenant_id, assistant.id, entry_id)
    if entry is None:
        raise NotFound("no such knowledge entry", code="knowledge_not_found")
    return entry


async def add_knowledge(session: AsyncSession, assistant: Assistant, body: KnowledgeCreate,
                        source_filename: str | None = None) -> KnowledgeEntry:
    now = utcnow()
    entry = KnowledgeEntry(id=uuid.uuid4(), tenant_id=assistant.tenant_id, assistant_id=assistant.id,
                           title=body.title, content=body.content, source_filename=source_filename,
                           created_at=now, updated_at=now)
    session.add(entry)
    await session.flush()
    await repo.replace_chunks(session, entry, chunk_text(entry.content), assistant.language)
    return entry


async def update_knowledge(session: AsyncSession, assistant: Assistant, entry: KnowledgeEntry,
                           body: KnowledgeUpdate) -> KnowledgeEntry:
    if body.title is not None:
        entry.title = body.title
    if body.content is not None:
        entry.content = body.content
    entry.updated_at = utcnow()
    await session.flush()
    await repo.replace_chunks(session, entry, chunk_text(entry.content), assistant.language)
    return entry


async def delete_knowledge(session: AsyncSession, entry: KnowledgeEntry) -> None:
    await session.delete(entry)  # chunks go with it (ON DELETE CASCADE; FTS5 follows by trigger)
    await session.flush()


def knowledge_from_upload(filename: str, raw: bytes, title: str | None) -> KnowledgeCreate:
    """An uploaded document (`.txt`, `.md`, `.pdf`, `.docx`) as one knowledge entry; its title is
    the form's, the document's first Markdown heading, or the file's name."""
    text = document_text(filename, raw)
    if not title:
        first = text.splitlines()[0].strip()
        title = first.lstrip("#").strip() if first.startswith("#") else filename.rsplit(".", 1)[0]
    try:
        return KnowledgeCreate(title=title[:300] or filename, content=text)
    except ValueError as exc:
        raise Invalid(f"the file cannot be stored as knowledge: {exc}", code="invalid_knowledge") from exc


# --- the AI's turn ------------------------------------------------------------------------

async def schedule_replies(session: AsyncSession, stored: Sequence[StoredMessage], *,
                           wake: Callable[[datetime], None] | None = None) -> None:
    """After-store hook of the inbound path (wired in app.py): a customer wrote in conversations
    the AI owns, on channels with an enabled assistant. Arm (or push back) each conversation's one
    job for its last message of the batch: a burst becomes one turn. `wake`: the worker of this
    process, told after the commit when the work is due (other processes find it by polling)."""
    last: dict[uuid.UUID, tuple[StoredMessage, tuple[uuid.UUID, float]]] = {}
    for item in stored:
        standby = bool(item.message.extra and item.message.extra.get("standby"))  # another app's thread
        # The channel's enabled assistant came with the channel (read in the same transaction).
        answered_by = item.channel.answered_by
        if (item.message.direction == "inbound" and item.conversation.ai_state == "ai_active"
                and answered_by is not None and not standby):
            last[item.conversation.id] = (item, answered_by)
    due: datetime | None = None
    for item, (assistant_id, debounce_seconds) in last.values():
        conv = item.conversation
        run_after = utcnow() + timedelta(seconds=debounce_seconds)
        await repo.arm_job(session, conv.tenant_id, conv.id, assistant_id, item.message.id, run_after)
        due = run_after if due is None else min(due, run_after)
    if wake is not None and due is not None:
        when = due

        async def wake_worker() -> None:
            wake(when)

        after_commit(session, wake_worker)


async def hand_off(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, reason: str, *,
                   correlation_id: str | None, customer_message: str | None = None,
                   language: str = "es") -> Conversation:
    """Give the conversation to the humans: lock the AI out, tell the customer (when there is a
    handoff message), leave a note with the reason for the agents, and say so on the live feed."""
    conv = await conversations.lock_conversation(session, tenant_id, conversation_id)
    if customer_message:
        await conversations.add_outbound_message(session, conv, author="ai", content=customer_message,
                                                 correlation_id=correlation_id)
    note = HANDOFF_NOTE.get(language[:2], HANDOFF_NOTE["es"]).format(reason=reason)
    await conversations.add_outbound_message(session, conv, author="system", content=note,
                                             correlation_id=correlation_id, deliver=False)
    conv.ai_state = "human_override"
    conv.updated_at = utcnow()
    await conversations.emit_conversation_updated(session, conv)
    log.info("ai_handoff", action="ai_handoff", tenant_id=str(tenant_id), conversation_id=str(conversation_id),
             correlation_id=correlation_id, reason=reason)
    return conv
