"""What the panel's assistant settings need beyond CRUD: the knowledge search preview, documents
(.pdf, .docx) uploaded as knowledge, and "try it" on a scratch conversation."""

from __future__ import annotations

import io
from typing import Any

from docx import Document

from tertulia.assistants.providers.base import ProviderResult, ToolCall
from tests.assistants.conftest import ScriptedProvider, add_knowledge, make_assistant


def pdf_with_text(*lines: str) -> bytes:
    """A one-page PDF whose text is `lines` (built by hand: the objects, then the xref offsets)."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def docx_with(heading: str, *paragraphs: str) -> bytes:
    document = Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Talla M", "38-40"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def test_pdf_and_docx_documents_become_searchable_knowledge(client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, link=False)
    base = f"/admin/assistants/{nora['id']}/knowledge"
    pdf = pdf_with_text("Politica de devoluciones", "Aceptamos devoluciones de zapatos en 30 dias.")
    r = await client.post(f"{base}/upload", files={"file": ("devoluciones.pdf", pdf, "application/pdf")},
                          headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "devoluciones" and "zapatos en 30 dias" in r.json()["content"]
    r = await client.post(f"{base}/upload", data={"title": "Guía de tallas"},
                          files={"file": ("tallas.docx", docx_with("Tallas", "Las camisas vienen en S, M y L."),
                                          "application/octet-stream")}, headers=t.headers)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["title"] == "Guía de tallas" and entry["source_filename"] == "tallas.docx"
    assert entry["content"].startswith("# Tallas\n\nLas camisas vienen en S, M y L.")
    assert "Talla M | 38-40" in entry["content"]

    # The search preview finds what the assistant would find.
    r = await client.get(f"{base}/search", params={"q": "¿puedo devolver unos zapatos?"}, headers=t.headers)
    assert r.status_code == 200, r.text
    hits = r.json()
    assert [h["title"] for h in hits][:1] == ["devoluciones"] and "zapatos" in hits[0]["content"]
    r = await client.get(f"{base}/search", params={"q": "camisas talla"}, headers=t.headers)
    assert [h["title"] for h in r.json()] == ["Guía de tallas"]
    assert (await client.get(f"{base}/search", params={"q": "helicópteros"}, headers=t.headers)).json() == []


async def test_documents_that_are_not_what_their_name_says_are_refused(client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, link=False)
    base = f"/admin/assistants/{nora['id']}/knowledge"
    cases = [
        (("falso.pdf", b"hola, no soy un PDF", "application/pdf"), 415, "unsupported_media_type"),
        (("falso.docx", b"PK\x03\x04 roto", "application/octet-stream"), 415, "unsupported_media_type"),
        (("roto.pdf", b"%PDF-1.4\n1 0 obj garbage", "application/pdf"), 422, None),
        (("vacio.pdf", pdf_with_text(), "application/pdf"), 422, "empty_file"),
        (("hoja.xlsx", b"PK\x03\x04", "application/octet-stream"), 415, "unsupported_media_type"),
    ]
    for file, status, code in cases:
        r = await client.post(f"{base}/upload", files={"file": file}, headers=t.headers)
        assert r.status_code == status, (file[0], r.text)
        if code:
            assert r.json()["error"]["code"] == code, (file[0], r.text)
        assert "Traceback" not in r.text and "/" not in r.json()["error"]["message"].replace("/admin", "")
    assert (await client.get(base, headers=t.headers)).json() == []


async def test_search_preview_is_the_tenants_own(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    nora = await make_assistant(client, t, link=False)
    await add_knowledge(client, t, nora["id"], "Horario", "Abrimos de lunes a sábado de 9:00 a 18:00.")
    url = f"/admin/assistants/{nora['id']}/knowledge/search"
    assert (await client.get(url, params={"q": "horario"}, headers=other.headers)).status_code == 404
    r = await client.get(url, params={"q": ""}, headers=t.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.q"
    assert (await client.get(url, params={"q": "horario", "limit": 50}, headers=t.headers)).status_code == 422


async def test_try_it_answers_from_knowledge_with_its_trace_and_stores_nothing(
        client: Any, make_tenant: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, link=False, enabled=False)
    await add_knowledge(client, t, nora["id"], "Envíos", "Enviamos a todo el país en 48 horas, gratis desde 500 pesos.")
    url = f"/admin/assistants/{nora['id']}/try"
    r = await client.post(url, json={"messages": [{"role": "user", "content": "¿Hacen envíos a Mérida?"}]},
                          headers=t.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "sent" and "48 horas" in out["reply"] and "Envíos" in out["reply"]
    trace = out["trace"]
    assert trace["provider"] == "offline" and trace["conversation_id"] is None
    assert [s["title"] for s in trace["sources"]] == ["Envíos"]
    assert [s.get("name") for s in trace["steps"] if s["type"] == "tool"] == ["search_knowledge"]
    assert trace["output"] == out["reply"] and trace["latency_ms"] > 0
    # A scratch run: no conversation, no stored trace.
    assert (await client.get("/admin/chats/summary", headers=t.headers)).json() == []
    assert (await client.get(f"/admin/logs/ai/{trace['correlation_id']}", headers=t.headers)).status_code == 404

    # The conversation goes on: the caller sends it whole, and a question with no answer is a handoff.
    r = await client.post(url, json={"messages": [
        {"role": "user", "content": "¿Hacen envíos a Mérida?"}, {"role": "assistant", "content": out["reply"]},
        {"role": "user", "content": "¿Venden helicópteros de juguete?"}]}, headers=t.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "handoff" and out["reply"] == ""
    assert "helicópteros" in out["handoff_reason"] and out["handoff_message"] == nora["handoff_message"]


async def test_try_it_with_a_network_model_offers_no_contact_tools(client: Any, make_tenant: Any,
                                                                   inject: Any) -> None:
    t = await make_tenant()
    nora = await make_assistant(client, t, link=False, provider="openai", model="gpt-test")
    provider = ScriptedProvider(
        ProviderResult(text="", tool_calls=[ToolCall(id="c1", name="search_knowledge", arguments={"query": "horario"},
                                                     raw_arguments='{"query": "horario"}')]),
        ProviderResult(text="Abrimos a las 9.", tokens_in=30, tokens_out=5))
    inject(nora["id"], provider)
    r = await client.post(f"/admin/assistants/{nora['id']}/try",
                          json={"messages": [{"role": "user", "content": "¿A qué hora abren?"}]}, headers=t.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["reply"] == "Abrimos a las 9." and out["trace"]["tokens_in"] == 30
    offered = {tool.name for tool in provider.requests[0].tools}
    assert "search_knowledge" in offered and "handoff_to_human" in offered
    assert not offered & {"add_tag", "remove_tag", "update_contact"}
    assert provider.requests[0].messages[-1].content == "¿A qué hora abren?"


async def test_try_it_refuses_what_it_cannot_run(client: Any, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    nora = await make_assistant(client, t, link=False)
    url = f"/admin/assistants/{nora['id']}/try"
    r = await client.post(url, json={"messages": [{"role": "assistant", "content": "Hola"}]}, headers=t.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "try_needs_customer"
    r = await client.post(url, json={"messages": []}, headers=t.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "messages"
    r = await client.post(url, json={"messages": [{"role": "user", "content": "hola"}]}, headers=other.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "assistant_not_found"
