"""The offline assistant on its own: what it does with a question, a greeting, thanks, a request
for a person, and with search results (answer quoting its source, or hand off)."""

from __future__ import annotations

import json
from typing import Any

from tertulia.assistants.providers.base import ChatMessage, ProviderRequest, StreamDelta, ToolCall
from tertulia.assistants.providers.offline import OfflineProvider
from tertulia.assistants.text import asks_for_human, best_sentences, chunk_text, is_acknowledgement, search_terms
from tests.assistants.conftest import add_knowledge, ai_messages, make_assistant, messages_of, trace_of, wait_until
from tests.helpers import post_inbound


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
    # Stems used as prefixes: the plural and a final vowel of gender or number go.
    assert search_terms("¿Hacen envíos a Mérida los sábados?") == ["envi", "merid", "sabad"]
    assert search_terms("Perfecto, ¿aceptan perros?") == ["aceptan", "perr"]  # "perfecto" says nothing
    long = " ".join(f"Frase número {i} sobre el café de olla." for i in range(60))
    chunks = chunk_text("Título corto.\n\n" + long)
    assert all(len(c) <= 700 for c in chunks) and len(chunks) >= 3
    assert "".join(chunks).replace("\n", " ").replace(" ", "") == ("Título corto." + long).replace(" ", "")


async def test_a_complaint_goes_to_a_person_without_a_search() -> None:
    nora = OfflineProvider("es")
    for text in ("Me llegó el pastel todo aplastado", "Ayer me cobraron dos veces el mismo café",
                 "Mi pedido #12 no ha llegado"):
        result = await nora.complete(ask(text))
        assert [c.name for c in result.tool_calls] == ["handoff_to_human"], text
        assert result.tool_calls[0].arguments["reason"].startswith("El cliente tiene una queja"), text
    # A question about payments is not a complaint.
    assert (await nora.complete(ask("¿Aceptan tarjeta?"))).tool_calls[0].name == "search_knowledge"


async def test_closing_lines_are_acknowledged_and_a_voice_note_alone_is_handed_over() -> None:
    nora = OfflineProvider("es")
    for text in ("Perfecto, paso mañana por dos bolsas", "Ok te los mando al rato", "👍", "Gracias, eres un sol"):
        assert is_acknowledgement(text), text
        assert "Con gusto" in (await nora.complete(ask(text))).text, text
    # A question after thanks is still a question, and a request is still a request.
    assert not is_acknowledgement("Gracias!! Y tienen leche de avena?")
    assert not is_acknowledgement("Va, apártame uno molido para prensa")
    assert not is_acknowledgement("Ok, mándame la factura")
    voice = await nora.complete(ask("[sent a voice note]"))
    assert voice.tool_calls[0].name == "handoff_to_human"
    assert voice.tool_calls[0].arguments["reason"] == "El cliente escribió un mensaje sin texto."
    # The voice note's mark is not part of the question looked up.
    asked = await nora.complete(ask("[sent a voice note]", "¿Tienen chilaquiles?"))
    assert asked.tool_calls[0].arguments["query"] == "¿Tienen chilaquiles?"
    assert asks_for_human("Perfecto, me pueden llamar? 55 1288 4410")


def test_the_answer_is_the_sentences_that_answer() -> None:
    passage = ("Estamos en Álvaro Obregón 112. Horario: abrimos de lunes a sábado de 7:30 a 21:00 y los domingos de "
               "8:00 a 15:00. No tenemos estacionamiento propio. Los perros son bienvenidos en la terraza.")
    assert best_sentences(search_terms("¿Aceptan perros en la terraza?"), passage) == \
        "Los perros son bienvenidos en la terraza."
    assert best_sentences(search_terms("¿A qué hora abren los domingos?"), passage) == \
        "Horario: abrimos de lunes a sábado de 7:30 a 21:00 y los domingos de 8:00 a 15:00."
    # A word in every sentence ("kilo") weighs less than the one only the answer holds ("apartar").
    cakes = "Medio kilo $380 y un kilo $690. Un kilo alcanza para 10 personas. Para apartar pedimos un anticipo."
    assert best_sentences(search_terms("Un kilo, ¿cómo lo aparto?"), cakes) == "Para apartar pedimos un anticipo."


async def test_through_the_orchestrator_it_retrieves_answers_and_hands_off(client: Any, make_tenant: Any) -> None:
    """The offline assistant live, on both databases: its search finds "perritos" for "perros" and
    "envía" for "envíos", it answers with the sentence that answers, and hands off a complaint and
    what the knowledge does not cover, each with its reason."""
    t = await make_tenant()
    nora = await make_assistant(client, t)
    await add_knowledge(client, t, nora["id"], "La terraza",
                        "La terraza abre desde las 8:00. Los perritos son bienvenidos y tenemos agua para ellos.")
    await add_knowledge(client, t, nora["id"], "Paquetería",
                        "El café en grano se envía por paquetería a todo México. El costo depende del peso.")

    async def reply_to(text: str, who: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        conv = (await post_inbound(client, t, text, external_id=who)).json()["conversation_id"]
        reply = (await wait_until(lambda: ai_messages(client, t, conv), what=f"the reply to {text!r}"))[0]
        return reply, await messages_of(client, t, conv)

    reply, _ = await reply_to("¿Aceptan perros?", "c1")
    assert reply["content"] == "Los perritos son bienvenidos y tenemos agua para ellos.\n\n(Fuente: «La terraza»)"
    trace = await trace_of(client, t, reply["correlation_id"])
    assert trace["outcome"] == "sent" and trace["sources"][0]["title"] == "La terraza"
    assert [s.get("name") for s in trace["steps"]] == [None, "search_knowledge", None]

    reply, _ = await reply_to("¿Hacen envíos a Monterrey?", "c2")
    assert reply["content"].startswith("El café en grano se envía por paquetería a todo México.")

    for text, reason in (("El pastel llegó aplastado", "El cliente tiene una queja"),
                         ("¿Venden tarjetas de regalo?", "No encontré información sobre «¿Venden tarjetas")):
        reply, messages = await reply_to(text, f"c-{reason[:5]}")
        trace = await trace_of(client, t, reply["correlation_id"])
        assert trace["outcome"] == "handoff" and trace["error"].startswith(reason), trace["error"]
        assert messages[-1]["author"] == "system" and reason in messages[-1]["content"]
