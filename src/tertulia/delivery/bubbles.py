"""Long AI replies on WhatsApp leave as several chat bubbles, the way a person writes there: split at
paragraphs, else lines, else sentences, else words, each at most 400 characters (the seed's relay
did the same)."""

from __future__ import annotations

import re

BUBBLE = 400
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _sentences(line: str, limit: int) -> list[str]:
    """A line's sentences, any longer than `limit` cut at words (a longer word, at the limit)."""
    out: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(line)):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def _pack(pieces: list[str], joiner: str, limit: int) -> list[str]:
    """Pieces joined greedily, in order, into as few bubbles as fit."""
    bubbles: list[str] = []
    for piece in pieces:
        if bubbles and len(bubbles[-1]) + len(joiner) + len(piece) <= limit:
            bubbles[-1] = f"{bubbles[-1]}{joiner}{piece}"
        else:
            bubbles.append(piece)
    return bubbles


def _fit(text: str, joiner: str, parts: list[str], limit: int) -> list[str]:
    return [text] if len(text) <= limit else _pack(parts, joiner, limit)


def split_into_bubbles(text: str, limit: int = BUBBLE) -> list[str]:
    """The reply as bubbles of at most `limit` characters, in order; a short reply is one bubble.
    Whatever fits stays whole (short paragraphs share a bubble); a paragraph too long is split at
    its lines, a line too long at its sentences."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    paragraphs: list[str] = []
    for paragraph in (p.strip() for p in _PARAGRAPHS.split(text)):
        if not paragraph:
            continue
        lines: list[str] = []
        for line in (x.strip() for x in paragraph.split("\n")):
            if line:
                lines.extend(_fit(line, " ", _sentences(line, limit), limit))
        paragraphs.extend(_fit(paragraph, "\n", lines, limit))
    return _pack(paragraphs, "\n\n", limit)
