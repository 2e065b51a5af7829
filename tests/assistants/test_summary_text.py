"""The offline summary reads like a note a person wrote: whole sentences of what the customer wants,
what they were told, what is pending, and who has the conversation now. Real conversations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tertulia.assistants.summaries import control_line, sentences, summarize
from tertulia.conversations.models import Message

START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def conversation(*turns: tuple[str, str]) -> list[Message]:
    return [Message(id=i + 1, author=author, content=text, created_at=START + timedelta(minutes=i))
            for i, (author, text) in enumerate(turns)]


def note(*turns: tuple[str, str], language: str = "es") -> str:
    return summarize(conversation(*turns), name="María López", phone="+34600111222", channel="whatsapp",
                     total=len(turns), language=language)


def line(text: str, start: str) -> str:
    return next((li for li in text.splitlines() if li.startswith(start)), "")


def test_sentences_are_kept_whole_with_their_question_marks() -> None:
    assert sentences("Hola! ¿Tenéis mesa para 6 el sábado? Somos celíacos.\nGracias") == [
        "Hola!", "¿Tenéis mesa para 6 el sábado?", "Somos celíacos.", "Gracias"]


def test_a_booking_says_what_the_customer_wants_what_was_promised_and_what_is_pending() -> None:
    text = note(
        ("contact", "Hola buenas!"),
        ("contact", "Quería reservar una mesa para 6 personas el sábado a las 21:00. Uno de nosotros es celíaco."),
        ("ai", "¡Hola María! Tenemos sitio el sábado a las 21:00 para 6. Te confirmo la reserva en cuanto la "
               "cocina me diga si puede preparar el menú sin gluten."),
        ("contact", "Genial, gracias"),
        ("contact", "¿Se puede aparcar cerca del local?"),
    )
    assert text.splitlines()[0] == "Cliente: María López (+34600111222), por whatsapp. 5 mensajes desde el 05/12/2026."
    wants = line(text, "Quiere:")
    assert "«Quería reservar una mesa para 6 personas el sábado a las 21:00.»" in wants
    assert "«¿Se puede aparcar cerca del local?»" in wants
    assert "Hola buenas" not in text and "Genial, gracias" not in wants  # greetings and thanks say nothing
    assert line(text, "Se le dijo:") == (
        "Se le dijo: «Te confirmo la reserva en cuanto la cocina me diga si puede preparar el menú sin gluten.»")
    assert line(text, "Pendiente de responder:") == "Pendiente de responder: «¿Se puede aparcar cerca del local?»"
    assert "Temas:" not in text  # no keyword lists


def test_the_last_word_of_the_business_leaves_its_promise_pending() -> None:
    text = note(
        ("contact", "Buenas tardes. Me cobrasteis dos veces el pedido 4471 con la tarjeta."),
        ("contact", "Necesito que me devolváis uno de los cargos."),
        ("human", "Hola María, lo siento mucho. He revisado el pedido 4471 y tienes razón: hay dos cargos. "
                  "Te devolvemos el duplicado hoy mismo y te escribo cuando esté hecho."),
    )
    assert "«Necesito que me devolváis uno de los cargos.»" in line(text, "Quiere:")
    promised = line(text, "Se le dijo:")
    assert "«Te devolvemos el duplicado hoy mismo y te escribo cuando esté hecho.»" in promised
    assert line(text, "Pendiente de cumplir:") == (
        "Pendiente de cumplir: «Te devolvemos el duplicado hoy mismo y te escribo cuando esté hecho.»")
    assert "Pendiente de responder" not in text


def test_a_request_without_request_words_is_still_told_and_a_closed_one_has_nothing_pending() -> None:
    text = note(
        ("contact", "El paquete llegó roto."),
        ("ai", "Vaya, lo siento. Ya he pedido que te envíen otro, sin coste."),
        ("contact", "Gracias!"),
    )
    assert line(text, "Quiere:") == "Quiere: «El paquete llegó roto.»"
    assert "«Ya he pedido que te envíen otro, sin coste.»" in line(text, "Se le dijo:")
    assert "Pendiente de responder" not in text  # a thank-you asks for nothing


def test_in_english_too() -> None:
    text = note(
        ("contact", "Hi! I'd like to change my delivery address for order 982. Is it too late?"),
        ("ai", "Not at all. I'll update it now and we'll send you the new tracking link."),
        language="en",
    )
    assert "“I'd like to change my delivery address for order 982.”" in line(text, "Wants:")
    assert "“Is it too late?”" in line(text, "Wants:")
    assert "“I'll update it now and we'll send you the new tracking link.”" in line(text, "We told them:")


def test_who_has_the_conversation_now_is_always_said() -> None:
    assert control_line("es", ai_active=True, assistant="Nora", person=None) == "Ahora responde la IA (Nora)."
    assert control_line("es", ai_active=False, assistant="Nora", person="Ana Ruiz") == (
        "Ahora atiende Ana Ruiz; la IA no responde.")
    assert control_line("es", ai_active=False, assistant=None, person=None) == (
        "Ahora atiende una persona del equipo; la IA no responde.")
    assert "no tiene un asistente activo" in control_line("es", ai_active=True, assistant=None, person=None)
    assert control_line("en", ai_active=False, assistant="Nora", person="Ana") == "Ana has it now; the AI does not answer."
