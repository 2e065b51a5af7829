"""Extractive conversation summaries that read like a person's note: who the customer is, what
they want, what the business said it would do, what is still pending (in the customer's and the
team's own sentences, never keyword lists), and who has the conversation now; after a handoff, a
brief of why the AI stepped back and what it had tried. No model is needed, so every installation
has them.

A summary is kept per conversation up to a message id; reading it regenerates it when newer
messages exist (a rolling summary), `POST` forces it. Who has control is not stored with it: it is
said from the conversation as it is now, so a takeover or a return to the AI shows at once.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants import repository as repo
from tertulia.assistants.models import AiTrace, Assistant, ConversationSummary
from tertulia.assistants.text import fold
from tertulia.contacts import repository as contacts_repo
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.db import Reader, utcnow
from tertulia.tenancy import repository as tenancy_repo

SUMMARY_WINDOW = 200  # messages read to write one summary

LABELS = {
    "es": {
        "who": "Cliente: {name}{phone}, por {channel}. {count} mensajes desde el {since}.",
        "wants": "Quiere: {text}",
        "promised": "Se le dijo: {text}",
        "pending_reply": "Pendiente de responder: {text}",
        "pending_promise": "Pendiente de cumplir: {text}",
        "nothing_pending": "No queda nada pendiente: lo último fue una respuesta del negocio.",
        "ai": "IA", "human": "agente",
        "control_ai": "Ahora responde la IA ({name}).",
        "control_ai_none": "Ahora no responde nadie automáticamente: el canal no tiene un asistente activo.",
        "control_human": "Ahora atiende {who}; la IA no responde.",
        "someone": "una persona del equipo",
        "empty": "Todavía no hay mensajes.",
        "brief": "La IA pasó la conversación a una persona: {reason}.",
        "tried_search": "Buscó en la base de conocimiento «{query}»: {found}.",
        "found_none": "sin resultados", "found_some": "encontró {titles}",
        "tried_tool": "Usó la herramienta {name}.",
        "answered": "Antes había respondido {n} vez/veces.",
    },
    "en": {
        "who": "Customer: {name}{phone}, on {channel}. {count} messages since {since}.",
        "wants": "Wants: {text}",
        "promised": "We told them: {text}",
        "pending_reply": "Waiting for a reply: {text}",
        "pending_promise": "Still to do: {text}",
        "nothing_pending": "Nothing pending: the last word was the business's.",
        "ai": "AI", "human": "agent",
        "control_ai": "The AI ({name}) is answering now.",
        "control_ai_none": "Nobody answers automatically now: the channel has no active assistant.",
        "control_human": "{who} has it now; the AI does not answer.",
        "someone": "A person of the team",
        "empty": "No messages yet.",
        "brief": "The AI handed the conversation to a person: {reason}.",
        "tried_search": "It searched the knowledge base for “{query}”: {found}.",
        "found_none": "nothing found", "found_some": "found {titles}",
        "tried_tool": "It used the tool {name}.",
        "answered": "It had answered {n} time(s) before.",
    },
}

# What makes a sentence worth keeping, matched on its folded text (no accents, lower case), both
# languages at once: customers do not always write in the assistant's.
# A request: asking for something, or a question.
WANT = re.compile(
    r"\b(quiero|quisiera|queria|querria|necesito|necesitaria|me gustaria|busco|buscaba|me interesa|"
    r"podria[sn]?|puede[sn]?|podeis|puedo|tiene[sn]?|teneis|hay|hacen|haceis|aceptan|cuanto|cuando|donde|como|"
    r"reserva[r]?|pedir|encargar|comprar|cambiar|cancelar|anular|devolver|reclamar|"
    r"i want|i'd like|i would like|i need|looking for|can you|could you|do you|is there|are there|how much|"
    r"when|where|book|order|cancel|refund|change)\b")
# A commitment of the business: what it will do, or has just done for the customer.
PROMISE = re.compile(
    # "te lo envío", "te devolvemos", "os confirmo": a first person acting for the customer.
    r"\b((te|le|os|se)( lo| la| los| las)? [a-z]{3,}(o|amos|emos|imos))\b|\b("
    r"(queda|quedan|esta|estan) (reservad|confirmad|apuntad|anotad|guardad|preparad)\w*|"
    r"he (reservado|anotado|apuntado|guardado|pedido|enviado|cambiado|cancelado)|"
    r"vamos a|voy a|lo tendras|lo tendra|te llegara|llegara|estara listo|sin falta|"
    r"i'll|we'll|i will|we will|is booked|are booked|is confirmed|have booked|i've booked|we've booked)\b")
# A plain greeting or thanks says nothing about what the customer wants.
SMALL_TALK = re.compile(
    r"^(hola|buenas|buenos dias|buenas tardes|buenas noches|gracias|muchas gracias|vale|ok|perfecto|genial|"
    r"de acuerdo|hello|hi|hey|thanks|thank you|great|perfect)\b[\s,.!¡?¿]*(\w+[\s,.!¡]*){0,2}$")
SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|$)")


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def sentences(text: str) -> list[str]:
    """A message's sentences as written (a question keeps its opening ¿)."""
    found = (" ".join(m.group(0).split()) for m in SENTENCE.finditer(text))
    return [s for s in found if re.search(r"\w", s)]


def _quote(items: list[str], language: str) -> str:
    open_, close = ("«", "»") if language == "es" else ("“", "”")
    return " ".join(f"{open_}{_clip(s, 200)}{close}" for s in items)


def _pick(texts: list[str], pattern: re.Pattern[str], limit: int, *, question_counts: bool = False) -> list[str]:
    """The sentences of `texts` that match `pattern` (or ask something), each once, first and
    last kept when there are more than `limit`."""
    picked: list[str] = []
    for text in texts:
        for sentence in sentences(text):
            folded = fold(sentence)
            if SMALL_TALK.match(folded.strip()):
                continue
            if pattern.search(folded) or (question_counts and sentence.rstrip().endswith("?")):
                if folded not in (fold(p) for p in picked):
                    picked.append(sentence)
    if len(picked) <= limit:
        return picked
    return [*picked[: limit - 1], picked[-1]]


def _substantial(texts: list[str]) -> list[str]:
    """Sentences that are more than a greeting, for a message with no request or promise in it."""
    return [s for t in texts for s in sentences(t) if not SMALL_TALK.match(fold(s).strip())]


async def _language(session: Reader, conv: Conversation) -> str:
    assistant = await repo.assistant_for_channel(session, conv.tenant_id, conv.channel_id)
    return assistant.language[:2] if assistant is not None and assistant.language[:2] in LABELS else "es"


def summarize(messages: list[Message], *, name: str, phone: str | None, channel: str, total: int,
              language: str) -> str:
    """What the conversation is about so far (who has it now is said apart: `control_line`)."""
    lab = LABELS.get(language, LABELS["es"])
    if not messages:
        return lab["empty"]
    lines = [lab["who"].format(name=name, phone=f" ({phone})" if phone else "", channel=channel, count=total,
                               since=messages[0].created_at.strftime("%d/%m/%Y"))]
    said = [m for m in messages if m.author in ("contact", "ai", "human") and m.content.strip()]
    inbound = [m.content for m in said if m.author == "contact"]
    outbound = [m.content for m in said if m.author != "contact"]
    wants = _pick(inbound, WANT, 3, question_counts=True) or _substantial(inbound)[:1]
    if wants:
        lines.append(lab["wants"].format(text=_quote(wants, language)))
    promised = _pick(outbound, PROMISE, 2)
    if promised:
        lines.append(lab["promised"].format(text=_quote(promised, language)))
    # Pending: what the customer wrote after the business's last word; else a promise made in it.
    last_out = max((i for i, m in enumerate(said) if m.author != "contact"), default=-1)
    unanswered = [m.content for m in said[last_out + 1:] if m.author == "contact"]
    if unanswered:
        pending = _pick(unanswered, WANT, 2, question_counts=True) or _substantial(unanswered)[-1:]
        if pending:
            lines.append(lab["pending_reply"].format(text=_quote(pending, language)))
    elif last_out >= 0 and (owed := _pick([said[last_out].content], PROMISE, 1)):
        lines.append(lab["pending_promise"].format(text=_quote(owed, language)))
    elif said:
        lines.append(lab["nothing_pending"])
    return "\n".join(lines)


def control_line(language: str, *, ai_active: bool, assistant: str | None, person: str | None) -> str:
    """Who has the conversation now: the AI (by its name), or a person (by theirs when known)."""
    lab = LABELS.get(language, LABELS["es"])
    if ai_active:
        return lab["control_ai"].format(name=assistant) if assistant else lab["control_ai_none"]
    return lab["control_human"].format(who=person or lab["someone"])


async def control_of(session: Reader, conv: Conversation) -> str:
    """`control_line` of the conversation as it is now. The person: its assignee, else the last
    team member who wrote in it."""
    assistant = await repo.assistant_for_channel(session, conv.tenant_id, conv.channel_id)
    language = assistant.language[:2] if assistant is not None and assistant.language[:2] in LABELS else "es"
    person: str | None = None
    if conv.ai_state != "ai_active":
        user_id: uuid.UUID | None = conv.assignee_id or await repo.last_human_author(session, conv.tenant_id, conv.id)
        if user_id is not None:
            person = await tenancy_repo.member_name(session, conv.tenant_id, user_id)
    return control_line(language, ai_active=conv.ai_state == "ai_active",
                        assistant=assistant.name if isinstance(assistant, Assistant) else None, person=person)


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
                     channel=conv.channel_source, total=total, language=language)
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
