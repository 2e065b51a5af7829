"""Plain-text helpers for retrieval: chunking entries, turning a question into search terms, and
measuring how much of a question a passage covers. No model, no network: this is what lets the
offline assistant answer from the knowledge base in the customer's language."""

from __future__ import annotations

import re
import unicodedata

CHUNK_CHARS = 700
WORD = re.compile(r"[^\W_]+", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?¡¿…])\s+|\n+")

# Words that say nothing about the topic. Questions are short, so one filler word matching a
# passage must not count as "found something".
STOPWORDS: dict[str, frozenset[str]] = {
    "es": frozenset("""
        a al algo algun alguna alguno algunos ante antes aqui asi aun bien cada como con cual cuales
        cuando cuanto cuanta cuantos cuantas de del desde donde dos el ella ellas ello ellos en entre
        era eres es esa ese eso esta estan estar este esto estoy estas estos fue gracias ha haber hace
        hacen hacer hago han hasta hay he hola la las le les lo los mas me mi mis mucho muy nada ni no
        nos nosotros o otra otro para pero poco por porque puede pueden puedo pues que quien quiero
        quisiera saber se sea ser si sin sobre son soy su sus tal tambien te tengo tener tiene tienen
        toda todo todos tu tus un una uno unos unas usted ustedes vosotros y ya yo buenas buenos dias
        tardes noches favor necesito quería queria gustaria podria podrian tienes vez veces decir
        dime digan informacion info ok vale alli ahi cosa cosas hoy ahora ahorita oigan oye disculpa
        porfa holaaa perdon nuestra nuestro nuestros nuestras
    """.split()),
    "en": frozenset("""
        a about an and any are as at be been but by can could did do does for from get got have hello
        hi how i if in is it its me my need no not of on or our please so some tell than thanks that
        the their them then there these they this to too us want was we what when where which who why
        will with would you your hey know info information
    """.split()),
}

ALL_STOPWORDS = STOPWORDS["es"] | STOPWORDS["en"]
GREETINGS = frozenset(
    "hola buenas buenos dias tardes noches saludos hello hi hey good morning afternoon evening".split())
ACKNOWLEDGEMENTS = frozenset("""
    gracias muchas mil ok okay vale perfecto genial listo excelente super bueno buenisimo entendido dale sale
    claro chido va padre sale thanks thank great perfect cool fine got it sure
""".split())
# A closing line that asks for something ("Va, apártame uno") is a request, not thanks.
REQUEST_WORDS = frozenset("""
    apartame apartar aparta reservame reservar reserva guardame guardar mandame manda mandar enviame envia enviar
    quiero quisiera necesito pido pedir cambiar cambia cancelar cancela agregar agrega anota anotame
    send reserve book cancel change need want order
""".split())
# Asking for a person: a request verb followed by who they want, or an unambiguous word alone.
HUMAN_REQUEST = re.compile(
    r"\b(hablar|comunicarme|comunicar|contactar|pasame|pasas|pasar|atienda|atiende|atender|quiero|necesito|talk|speak|"
    r"chat|want|need)\b.{0,40}\b(persona|humano|humana|agente|asesor|asesora|operador|operadora|encargado|"
    r"encargada|alguien|human|person|agent|representative|someone|somebody)\b"
    r"|\b(humano|human being|real person|persona real|asesor humano)\b"
    r"|\b(me (pueden|puedes|podrian|podrias) (llamar|marcar)|llamenme|marquenme|call me)\b")
# A complaint or a problem with an order or a payment: a person of the team answers those, whatever
# the knowledge says (the words are folded: no accents).
COMPLAINT = re.compile(
    r"\b(reclamo|queja|quejarme|aplastad[oa]s?|rot[oa]s?|danad[oa]s?|en mal estado|no (me )?ha llegado|"
    r"no (me )?llego|nunca llego|no ha llegado|me cobraron|cobro doble|doble cobro|cargo doble|reembolso|"
    r"devolucion|pesim[oa]|inaceptable|nadie me (aviso|atendio|respondio|contesto)|"
    r"complaint|refund|damaged|broken|never arrived|charged twice|wrong order)\b")


def fold(text: str) -> str:
    """Lower case without diacritics: "Envíos" and "envios" are the same word to a customer."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def stem(word: str) -> str:
    """A deliberately crude stem used as a prefix: the plural goes, then a final vowel of gender
    or number, so that "envíos" meets "envía", "perros" meets "perritos" and "horarios" "horario"."""
    for suffix in ("ciones", "siones", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) >= 5 and word[-1] in "aeo":
        word = word[:-1]
    return word


def topical_words(text: str, language: str = "es") -> list[str]:
    """The question's topical words as written (folded), one per stem, in order of appearance: what
    PostgreSQL's own stemmer reads (it stems "estacionamiento" further than a prefix could)."""
    # Customers do not always write in the assistant's language: drop filler words of both.
    # "Perfecto", "genial" before a question say nothing about its topic either.
    stop = STOPWORDS.get(language[:2], frozenset()) | ALL_STOPWORDS | ACKNOWLEDGEMENTS
    seen: dict[str, str] = {}
    for w in words(text):
        if len(w) < 3 or w in stop:
            continue
        seen.setdefault(stem(w), w)
    return list(seen.values())[:16]


def search_terms(text: str, language: str = "es") -> list[str]:
    """The distinct topical words of a question, stemmed, in order of appearance."""
    return [stem(w) for w in topical_words(text, language)]


def covered_terms(terms: list[str], text: str) -> list[str]:
    """Which of the terms occur in the text (as a word prefix, accents ignored)."""
    present = words(text)
    return [t for t in terms if any(w.startswith(t) for w in present)]


def is_greeting_only(text: str, language: str = "es") -> bool:
    ws = words(text)
    return bool(ws) and any(w in GREETINGS for w in ws) and not search_terms(text, language)


def asks_for_human(text: str, language: str = "es") -> bool:
    return HUMAN_REQUEST.search(fold(text)) is not None


def is_complaint(text: str, language: str = "es") -> bool:
    return COMPLAINT.search(fold(text)) is not None


def is_question(text: str) -> bool:
    return "?" in text or "¿" in text


def is_acknowledgement(text: str, language: str = "es") -> bool:
    """"Gracias", "ok", "perfecto", a thumbs-up, or a short closing line that starts so ("Perfecto,
    paso mañana"): nothing to look up, nothing to hand over. A question is never one."""
    ws = words(text)
    if is_question(text):
        return False
    if not ws:
        return bool(text.strip())  # an emoji alone
    if any(w in ACKNOWLEDGEMENTS for w in ws) and all(w in ACKNOWLEDGEMENTS or w in ALL_STOPWORDS for w in ws):
        return True
    return ws[0] in ACKNOWLEDGEMENTS and len(ws) <= 8 and not any(w in REQUEST_WORDS for w in ws)


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Split an entry into passages of at most ~`limit` characters, on paragraph and then sentence
    boundaries, so that a quoted passage reads as whole sentences."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for para in paragraphs:
        if len(para) <= limit:
            pieces.append(para)
            continue
        current = ""
        for sentence in (s.strip() for s in SENTENCE_END.split(para) if s.strip()):
            while len(sentence) > limit:  # a run-on "sentence": cut at a space
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > limit // 2 else limit
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if current and len(current) + 1 + len(sentence) > limit:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    chunks: list[str] = []
    for piece in pieces:  # merge short neighbours so one passage carries enough context
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return chunks or ([text.strip()] if text.strip() else [])


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def best_sentences(terms: list[str], text: str, limit: int = 2, max_chars: int = 600) -> str:
    """The passage's sentences that answer the question best, in their original order: a passage
    covers several topics, and the customer asked about one. A term found in every sentence says
    little about which one answers, so each term weighs 1 / the number of sentences holding it."""
    parts = sentences(text)
    if len(parts) <= 1:
        return _clip(text.strip(), max_chars)
    covered = [covered_terms(terms, part) for part in parts]
    held = {t: sum(t in c for c in covered) for t in terms}
    score = [sum(1 / held[t] for t in c) for c in covered]
    ranked = sorted(range(len(parts)), key=lambda i: (-score[i], i))
    best = score[ranked[0]]
    if best == 0:
        return _clip(text.strip(), max_chars)
    keep = sorted(i for i in ranked[:limit] if score[i] >= 0.75 * best)
    return _clip(" ".join(parts[i] for i in keep), max_chars)


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
