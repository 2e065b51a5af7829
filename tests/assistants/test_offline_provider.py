"""The offline assistant on its own: what it does with a question, a greeting, thanks, a request
for a person, and with search results (answer quoting its source, or hand off)."""

from __future__ import annotations

import json

from tertulia.assistants.providers.base import ChatMessage, ProviderRequest, StreamDelta, ToolCall
from tertulia.assistants.providers.offline import OfflineProvider
from tertulia.assistants.text import asks_for_human, chunk_text, search_terms


def ask(*texts: str) -> ProviderRequest:
    return ProviderRequest(model="", messages=[ChatMessage("system", "x"), *(ChatMessage("user", t) for t in texts)])


def with_results(request: ProviderRequest, results: list[dict[str, str]]) -> ProviderRequest:
    call = ToolCall(id="c1", name="search_knowledge", arguments={"query": "q"})
    return ProviderRequest(model="", messages=[*request.messages, ChatMessage("assistant", "", tool_calls=[call]),
                                               ChatMessage("tool", json.dumps({"results": results}),
                                                           tool_call_id="c1", name="search_knowledge")])


async def test_a_question_is_looked_up_then_answered_with_its_source() -> None:
    nora = OfflineProvider("es", "Nora")
    first = await nora.complete(ask("¿Cuánto cuesta", "el pastel de un kilo?"))
    assert [c.name for c in first.tool_calls] == ["search_knowledge"]
    assert first.tool_calls[0].arguments["query"] == "¿Cuánto cuesta\nel pastel de un kilo?"  # the burst, merged
    deltas: list[StreamDelta] = []

    async def on_delta(d: StreamDelta) -> None:
        deltas.append(d)

    second = await nora.complete(with_results(ask("¿Cuánto cuesta el pastel de un kilo?"), [
        {"title": "Pasteles por encargo", "content": "Medio kilo $380, un kilo $690 y dos kilos $1,290."},
        {"title": "Horario", "content": "Abrimos a las 7:30."}]), on_delta)
    assert second.tool_calls == []
    assert "un kilo $690" in second.text and "(Fuente: «Pasteles por encargo»)" in second.text
    assert "".join(d.text for d in deltas) == second.text and len(deltas) > 3  # streamed word by word


async def test_nothing_relevant_hands_off_saying_what_was_asked() -> None:
    nora = OfflineProvider("es")
    result = await nora.complete(with_results(ask("¿Aceptan criptomonedas?"), [
        {"title": "Horario", "content": "Abrimos de lunes a sábado."}]))
    assert [c.name for c in result.tool_calls] == ["handoff_to_human"]
    assert "criptomonedas" in result.tool_calls[0].arguments["reason"]


async def test_greetings_thanks_and_requests_for_a_person() -> None:
    nora = OfflineProvider("es", "Nora")
    assert (await nora.complete(ask("¡Hola, buenas tardes!"))).text == "¡Hola! Soy Nora. ¿En qué te puedo ayudar?"
    assert "Con gusto" in (await nora.complete(ask("muchas gracias"))).text
    handoff = await nora.complete(ask("Quiero hablar con una persona, por favor"))
    assert handoff.tool_calls[0].name == "handoff_to_human"
    # "persona" in a question about prices is not a request for a person.
    assert not asks_for_human("¿Cuánto cuesta el coffee break por persona?")
    assert (await nora.complete(ask("¿Cuánto cuesta el coffee break por persona?"))).tool_calls[0].name == \
        "search_knowledge"
    english = OfflineProvider("en", "Nora")
    assert (await english.complete(ask("hi"))).text == "Hi! I'm Nora. How can I help you?"
    assert (await english.complete(ask("Can I talk to a human?"))).tool_calls[0].name == "handoff_to_human"


def test_search_terms_and_chunks() -> None:
    assert search_terms("¿Hacen envíos a Mérida los sábados?") == ["envio", "merida", "sabado"]
    long = " ".join(f"Frase número {i} sobre el café de olla." for i in range(60))
    chunks = chunk_text("Título corto.\n\n" + long)
    assert all(len(c) <= 700 for c in chunks) and len(chunks) >= 3
    assert "".join(chunks).replace("\n", " ").replace(" ", "") == ("Título corto." + long).replace(" ", "")
