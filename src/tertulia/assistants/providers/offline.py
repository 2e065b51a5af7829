"""The embedded assistant: no network, no model weights.

It behaves like a small tool-using model so that the orchestrator treats every provider alike:
for a question it first calls `search_knowledge`, then answers by quoting the best passage and
naming its source (the sentences of the passage that answer it, not the whole passage), or calls
`handoff_to_human` when nothing relevant was found. Greetings get a greeting, thanks and closing
lines an acknowledgement, and a customer who asks for a person or complains is handed over at
once. The answer is streamed word by word through the same delta callback as the network providers.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tertulia.assistants.providers.base import (
    ChatMessage,
    OnDelta,
    ProviderRequest,
    ProviderResult,
    StreamDelta,
    ToolCall,
)
from tertulia.assistants.text import (
    asks_for_human,
    best_sentences,
    covered_terms,
    is_acknowledgement,
    is_complaint,
    is_greeting_only,
    search_terms,
)

# A passage must cover at least this share of the question's topical words to count as an answer.
MIN_COVERAGE = 0.34

PHRASES: dict[str, dict[str, str]] = {
    "es": {
        "greeting": "¡Hola! Soy {name}. ¿En qué te puedo ayudar?",
        "ack": "¡Con gusto! Si necesitas algo más, aquí estoy.",
        "answer": "{text}\n\n(Fuente: «{title}»)",
        "also": "También te puede servir «{title}».",
        "no_match": "No encontré información sobre «{query}» en la base de conocimiento.",
        "asked_human": "El cliente pidió hablar con una persona.",
        "complaint": "El cliente tiene una queja o un problema con un pedido o un pago: «{query}».",
        "empty": "El cliente escribió un mensaje sin texto.",
    },
    "en": {
        "greeting": "Hi! I'm {name}. How can I help you?",
        "ack": "You're welcome! If you need anything else, I'm here.",
        "answer": "{text}\n\n(Source: “{title}”)",
        "also": "“{title}” may help too.",
        "no_match": "I found nothing about “{query}” in the knowledge base.",
        "asked_human": "The customer asked to talk to a person.",
        "complaint": "The customer has a complaint or a problem with an order or a payment: “{query}”.",
        "empty": "The customer sent a message without text.",
    },
}


def phrases(language: str) -> dict[str, str]:
    return PHRASES.get(language[:2].lower(), PHRASES["es"])


# How the history marks a file the customer sent ("[sent a voice note]"): nothing it can read.
ATTACHMENT_LINE = re.compile(r"^\[sent [^\]\n]*\]$", re.MULTILINE)


def turn_text(messages: list[ChatMessage]) -> str:
    """The customer's turn: every user message after the assistant last spoke (a merged burst)."""
    parts: list[str] = []
    for msg in reversed(messages):
        if msg.role == "user":
            parts.append(msg.content)
        elif msg.role == "assistant" and msg.content:
            break
    return "\n".join(reversed(parts)).strip()


def readable_text(text: str) -> str:
    """The turn without the marks of files sent: a voice note or a photo alone is a message without
    text to this assistant, which hears and sees nothing."""
    return "\n".join(line for line in ATTACHMENT_LINE.sub("", text).splitlines() if line.strip()).strip()


def shorten(question: str) -> str:
    return question if len(question) <= 120 else question[:119] + "…"


class OfflineProvider:
    name = "offline"

    def __init__(self, language: str = "es", assistant_name: str = "Nora") -> None:
        self.language = language
        self.assistant_name = assistant_name

    async def complete(self, request: ProviderRequest, on_delta: OnDelta | None = None) -> ProviderResult:
        p = phrases(self.language)
        last = request.messages[-1] if request.messages else None
        if last is not None and last.role == "tool" and last.name == "search_knowledge":
            question = readable_text(turn_text(request.messages))
            return await self._answer(question, last.content, on_delta)
        question = readable_text(turn_text(request.messages))
        if not question:
            return self._call("handoff_to_human", {"reason": p["empty"]})
        if is_greeting_only(question, self.language):
            return await self._say(p["greeting"].format(name=self.assistant_name), on_delta)
        if asks_for_human(question, self.language):
            return self._call("handoff_to_human", {"reason": p["asked_human"]})
        if is_complaint(question, self.language):
            return self._call("handoff_to_human", {"reason": p["complaint"].format(query=shorten(question))})
        if is_acknowledgement(question, self.language):
            return await self._say(p["ack"], on_delta)
        return self._call("search_knowledge", {"query": question[:500]})

    async def _answer(self, question: str, tool_result: str, on_delta: OnDelta | None) -> ProviderResult:
        p = phrases(self.language)
        try:
            hits: list[dict[str, Any]] = json.loads(tool_result).get("results", [])
        except (ValueError, AttributeError):
            hits = []
        terms = search_terms(question, self.language)
        best: dict[str, Any] | None = None
        best_cover = 0.0
        for hit in hits:
            cover = len(covered_terms(terms, f"{hit.get('title', '')} {hit.get('content', '')}")) / max(1, len(terms))
            if cover > best_cover:
                best, best_cover = hit, cover
        if best is None or best_cover < MIN_COVERAGE:
            return self._call("handoff_to_human", {"reason": p["no_match"].format(query=shorten(question))})
        text = p["answer"].format(text=best_sentences(terms, str(best.get("content", ""))), title=best.get("title", ""))
        # Another passage as good as the best is worth naming, when it shares more than one word.
        others = [h for h in hits if h is not best and h.get("title") != best.get("title")
                  and len(covered := covered_terms(terms, f"{h.get('title', '')} {h.get('content', '')}")) > 1
                  and len(covered) / max(1, len(terms)) >= max(MIN_COVERAGE, best_cover)]
        if others:
            text += "\n" + p["also"].format(title=others[0].get("title", ""))
        return await self._say(text, on_delta)

    async def _say(self, text: str, on_delta: OnDelta | None) -> ProviderResult:
        if on_delta is not None:
            words = text.split(" ")
            for i, word in enumerate(words):
                await on_delta(StreamDelta(text=word if i == len(words) - 1 else word + " "))
        return ProviderResult(text=text, tokens_out=len(text.split()), model="offline", finish_reason="stop")

    @staticmethod
    def _call(name: str, arguments: dict[str, Any]) -> ProviderResult:
        call = ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments,
                        raw_arguments=json.dumps(arguments, ensure_ascii=False))
        return ProviderResult(text="", tool_calls=[call], model="offline", finish_reason="tool_calls")
