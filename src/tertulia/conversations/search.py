"""What the inbox search (`q`) looks for, the same way on both databases.

A name matches ignoring case and accents ("maria lopez" finds "María López"): the conversation's
`contact_key` is its contact's name folded by database triggers with the character map below
(migration search1 holds its frozen copy; tests/core/test_inbox_list.py proves the two agree).
A phone matches by its digits, whatever spaces, dashes or `+` were typed. Message text matches
word by word, each typed word as the start of a word of the message (PostgreSQL: a `simple`
tsvector of the folded text; SQLite: FTS5 with `remove_diacritics`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Accented letters a name may carry (Spanish, Portuguese, French, German, Catalan), each to its
# plain lower-case letter. A fixed map rather than Unicode decomposition because the databases
# must apply the very same one in SQL (PostgreSQL's translate(), SQLite's replace()), where
# SQLite's lower() knows only ASCII.
FOLD_FROM = "ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç"
FOLD_TO = "aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuunncc"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
_WORD = re.compile(r"[^\W_]+")
_NOT_DIGIT = re.compile(r"\D")
_PHONE_TYPING = re.compile(r"^[\d\s\-+().]+$")


def fold(text: str) -> str:
    """Lower case without accents, one character for one (so positions stay those of `text`)."""
    return "".join(ch.translate(_FOLD).lower()[:1] or ch for ch in text)


@dataclass(frozen=True, slots=True)
class SearchTerms:
    text: str  # the folded query, matched inside the folded name
    digits: str | None  # the typed phone's digits, when it was typed as a phone
    words: tuple[str, ...]  # folded words, each the start of a word of a message


def search_terms(q: str) -> SearchTerms:
    folded = fold(q.strip())
    digits = _NOT_DIGIT.sub("", folded) if _PHONE_TYPING.match(folded) else None
    return SearchTerms(folded, digits or None, tuple(dict.fromkeys(_WORD.findall(folded)))[:8])


def tsquery_text(words: tuple[str, ...]) -> str:
    """PostgreSQL: every word as a prefix (`'envi':* & 'sevilla':*`); words hold letters and digits only."""
    return " & ".join(f"'{w}':*" for w in words)


def fts5_match(words: tuple[str, ...]) -> str:
    """SQLite FTS5: the same, in its syntax (`"envi"* "sevilla"*`)."""
    return " ".join(f'"{w}"*' for w in words)


def matches_contact(terms: SearchTerms, name: str, phone: str | None) -> bool:
    """Whether the conversation was found by its contact (so it needs no message excerpt)."""
    if terms.text and terms.text in fold(name):
        return True
    return bool(terms.digits and phone and terms.digits in _NOT_DIGIT.sub("", phone))


def excerpt(content: str, words: tuple[str, ...], width: int = 90) -> str:
    """A piece of the message around the first typed word it contains, on one line, with `…`
    where it was cut: what the list shows under the contact's name."""
    flat = " ".join(content.split())
    if len(flat) <= width:
        return flat
    folded = fold(flat)
    at = min((i for i in (_word_start(folded, w) for w in words) if i >= 0), default=0)
    start = max(0, min(at - width // 3, len(flat) - width))
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > at else end
    return ("…" if start > 0 else "") + flat[start:end].strip() + ("…" if end < len(flat) else "")


def _word_start(folded: str, word: str) -> int:
    match = re.search(rf"(?<![^\W_]){re.escape(word)}", folded)
    return match.start() if match else -1
