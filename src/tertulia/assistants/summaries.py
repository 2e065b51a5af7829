"""Extractive conversation summaries: who the customer is, what they asked first and last, the
topics, who is answering now; and, after a handoff, a brief of why the AI stepped back and what
it had already tried. No model is needed, so every installation has them.

A summary is kept per conversation up to a message id; reading it regenerates it when newer
messages exist (a rolling summary), `POST` forces it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants import repository as repo
from tertulia.assistants.models import AiTrace, ConversationSummary
from tertulia.assistants.text import search_terms, words
from tertulia.contacts import repository as contacts_repo
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import Reader, utcnow

SUMMARY_WINDOW = 200  # messages read to write one summary

LABELS = {
    "es": {
        "who": "Cliente: {name}{phone}, por {channel}. {count} mensajes desde el {since}.",
        "first": "Primera consulta: «{text}»",
        "topics": "Temas: {topics}.",
        "last_in": "Último mensaje del cliente: «{text}»",
        "last_out": "Última respuesta ({who}): «{text}»",
        "ai": "IA", "human": "agente",
        "state_ai": "Ahora responde la IA.", "state_human": "Ahora atiende una persona (IA desactivada).",
        "empty": "Todavía no hay mensajes.",
        "brief": "La IA pasó la conversación a una persona: {reason}.",
        "tried_search": "Buscó en la base de conocimiento «{query}»: {found}.",
        "found_none": "sin resultados", "found_some": "encontró {titles}",
        "tried_tool": "Usó la herramienta {name}.",
        "answered": "Antes había respondido {n} vez/veces.",
    },
    "en": {
        "who": "Customer: {name}{phone}, on {channel}. {count} messages since {since}.",
        "first": "First request: “{text}”",
        "topics": "Topics: {topics}.",
        "last_in": "Customer's last message: “{text}”",
        "last_out": "Last reply ({who}): “{text}”",
        "ai": "AI", "human": "agent",
        "state_ai": "The AI is answering.", "state_human": "A person is handling it (AI off).",
        "empty": "No messages yet.",
        "brief": "The AI handed the conversation to a person: {reason}.",
        "tried_search": "It searched the knowledge base for “{query}”: {found}.",
        "found_none": "nothing found", "found_some": "found {titles}",
        "tried_tool": "It used the tool {name}.",
        "answered": "It had answered {n} time(s) before.",
    },
}


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


async def _language(session: Reader, conv: Conversation) -> str:
    assistant = await repo.assistant_for_channel(session, conv.tenant_id, conv.channel_id)
    return assistant.language[:2] if assistant is not None and assistant.language[:2] in LABELS else "es"


def summarize(messages: list[Message], *, name: str, phone: str | None, channel: str, total: int,
              ai_active: bool, language: str) -> str:
    lab = LABELS.get(language, LABELS["es"])
    if not messages:
        return lab["empty"]
    inbound = [m for m in messages if m.author == "contact" and m.content.strip()]
    outbound = [m for m in messages if m.author in ("ai", "human") and m.content.strip()]
    lines = [lab["who"].format(name=name, phone=f" ({phone})" if phone else "", channel=channel, count=total,
                               since=messages[0].created_at.strftime("%d/%m/%Y"))]
    if inbound:
        lines.append(lab["first"].format(text=_clip(inbound[0].content)))
        counts: Counter[str] = Counter()
        for m in inbound:
            counts.update(search_terms(m.content, language))
        # Report topics as the customer wrote them (a stem is not a word).
        spelled: dict[str, str] = {}
        for m in inbound:
            for w in words(m.content):
                for t in counts:
                    if w.startswith(t) and t not in spelled:
                        spelled[t] = w
        topics = [spelled.get(t, t) for t, _ in counts.most_common(5)]
        if topics:
            lines.append(lab["topics"].format(topics=", ".join(topics)))
        if len(inbound) > 1:
            lines.append(lab["last_in"].format(text=_clip(inbound[-1].content)))
    if outbound:
        last = outbound[-1]
        lines.append(lab["last_out"].format(who=lab["ai"] if last.author == "ai" else lab["human"],
                                            text=_clip(last.content)))
    lines.append(lab["state_ai"] if ai_active else lab["state_human"])
    return "\n".join(lines)


def handoff_brief(traces: list[AiTrace], language: str) -> str | None:
    """Why the AI handed off (the latest handoff) and what it had tried in that run and before."""
    lab = LABELS.get(language, LABELS["es"])
    handoff = next((t for t in traces if t.outcome == "handoff"), None)
    if handoff is None:
        return None
    parts = [lab["brief"].format(reason=(handoff.error or "").rstrip("."))]
    for step in handoff.steps or []:
        if step.get("type") != "tool" or step.get("name") == "handoff_to_human":
            continue
        if step.get("name") == "search_knowledge":
            results: list[dict[str, Any]] = (step.get("result") or {}).get("results", []) \
                if isinstance(step.get("result"), dict) else []
            titles = ", ".join(dict.fromkeys(f"«{r.get('title')}»" for r in results))
            parts.append(lab["tried_search"].format(
                query=_clip(str((step.get("arguments") or {}).get("query", "")), 100),
                found=lab["found_some"].format(titles=titles) if titles else lab["found_none"]))
        else:
            parts.append(lab["tried_tool"].format(name=step.get("name")))
    earlier = [t for t in traces if t.outcome == "sent" and t.created_at <= handoff.created_at]
    if earlier:
        parts.append(lab["answered"].format(n=len(earlier)))
    return " ".join(parts)


async def _summary_values(session: Reader, conv: Conversation, total: int, last_id: int | None) -> dict[str, Any]:
    language = await _language(session, conv)
    messages = await repo.recent_messages(session, conv.tenant_id, conv.id, SUMMARY_WINDOW)
    contact = await contacts_repo.get_contact(session, conv.tenant_id, conv.contact_id)
    text = summarize(messages, name=contact.display_name if contact else "", phone=contact.phone if contact else None,
                     channel=conv.channel_source, total=total, ai_active=conv.ai_state == "ai_active",
                     language=language)
    brief = handoff_brief(await repo.traces_of_conversation(session, conv.tenant_id, conv.id), language)
    return {"summary": text, "generated_at": utcnow(), "message_count": total, "last_message_id": last_id,
            "handoff_brief": brief}


async def current_summary(session: Reader, conv: Conversation) -> ConversationSummary:
    """The stored summary while no newer message exists, else a fresh one (not stored)."""
    current = await repo.get_summary(session, conv.tenant_id, conv.id)
    total, last_id = await repo.message_stats(session, conv.tenant_id, conv.id)
    if current is not None and current.last_message_id == last_id:
        return current
    return ConversationSummary(tenant_id=conv.tenant_id, conversation_id=conv.id,
                               **await _summary_values(session, conv, total, last_id))


async def refresh_summary(session: AsyncSession, conv: Conversation, *, force: bool) -> ConversationSummary:
    """The conversation's summary, regenerated and stored when stale (or forced)."""
    current = await repo.get_summary(session, conv.tenant_id, conv.id)
    total, last_id = await repo.message_stats(session, conv.tenant_id, conv.id)
    if current is not None and not force and current.last_message_id == last_id:
        return current
    values = await _summary_values(session, conv, total, last_id)
    if current is None:
        current = ConversationSummary(tenant_id=conv.tenant_id, conversation_id=conv.id, **values)
        try:
            async with session.begin_nested():
                session.add(current)
                await session.flush()
            return current
        except IntegrityError:  # written concurrently: overwrite it with ours
            current = await repo.get_summary(session, conv.tenant_id, conv.id)
            assert current is not None
    for key, value in values.items():
        setattr(current, key, value)
    await session.flush()
    return current
