"""The repeat-cases report on spreadsheets made here: columns by any of their names, the month
filter, distinct claims, missing columns, files that are not spreadsheets, no coordinates; its
DOCX, PDF and map opened and read; `POST /mcp/invoke`; 200,000 rows off the event loop."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

import httpx2
import pytest
from docx import Document
from pypdf import PdfReader

from tertulia.config import Settings
from tertulia.kit.storage import FileStore
from tertulia.reports.documents import DETAIL_LIMIT, write_docx, write_pdf
from tertulia.reports.maps import report_points, write_map
from tertulia.reports.repetitividad import build_report
from tertulia.reports.spreadsheet import SpreadsheetError
from tertulia.reports.tools import ReportContext, ReportError, generar_informe_repetitividad, generar_mapa_geo
from tests.reports.claims import (
    CANONICAL_HEADERS,
    ORIGINAL_HEADERS,
    claims_rows,
    csv_bytes,
    original_row,
    xlsx_bytes,
)

SEPT = datetime(2025, 9, 10, 8, 30)
AUG = datetime(2025, 8, 28, 17, 0)


def _sample() -> list[list[Any]]:
    """Three services in September: L-1 with three claims (one repeated line), L-2 with two,
    L-3 with one; and L-3 again in August (another month: it must not count)."""
    return [
        original_row(501, "L-1", " acme s.a. ", SEPT, hours=2.25, solution="Reemplazo de ONT " + "x" * 300),
        original_row(502, "L-1", "ACME S.A.", SEPT.replace(day=12), place=0),
        original_row(502, "L-1", "ACME S.A.", SEPT.replace(day=12), place=0),  # the same claim twice
        original_row(503, "L-1", "ACME S.A.", SEPT.replace(day=20), place=0),
        original_row(601, "L-2", "Beta", SEPT.replace(day=2), place=1, located=False),
        original_row(602, "L-2", "Beta", SEPT.replace(day=3), place=1, located=False),
        original_row(701, "L-3", "Gamma", SEPT.replace(day=4), place=2),
        original_row(702, "L-3", "Gamma", AUG, place=2),
        original_row(703, "L-3", "Gamma", AUG.replace(day=29), place=2),
    ]


def test_columns_are_found_by_any_of_their_names_and_only_the_month_counts() -> None:
    rows = _sample()
    from_xlsx = build_report(xlsx_bytes(ORIGINAL_HEADERS, rows, title_rows=3), ".xlsx", 9, 2025)
    from_csv = build_report(csv_bytes(ORIGINAL_HEADERS, rows), ".csv", 9, 2025)
    for report in (from_xlsx, from_csv):
        assert report.services_analysed == 3
        assert [(s.service, s.count, s.client) for s in report.repetitive] == [("L-1", 3, "ACME S.A."),
                                                                               ("L-2", 2, "BETA")]
        assert report.rows_in_month == 7 and report.periods == ["2025-08", "2025-09"]
        assert report.summary == "Servicios analizados: 3 | Servicios con repetitividad: 2 (66.7 %)"
        l1 = report.repetitive[0]
        assert l1.lat == pytest.approx(-31.4201) and l1.region == "Córdoba"
        assert report.repetitive[1].lat is None  # L-2 has no coordinates
    # August: only L-3 repeats.
    august = build_report(csv_bytes(ORIGINAL_HEADERS, rows), ".csv", 8, 2025)
    assert [(s.service, s.count) for s in august.repetitive] == [("L-3", 2)]
    # The canonical names work too; without a claim number each row is a claim.
    canonical = [[r[0], r[1], r[2], r[3], r[4], r[9], r[10], r[11], r[12]] for r in rows]
    report = build_report(xlsx_bytes(CANONICAL_HEADERS, canonical), ".xlsx", 9, 2025)
    assert [(s.service, s.count) for s in report.repetitive] == [("L-1", 3), ("L-2", 2)]
    no_ids = [[r[1], r[2], r[4]] for r in rows]
    report = build_report(xlsx_bytes(["servicio", "CLIENTE", "fecha"], no_ids), ".xlsx", 9, 2025)
    assert [(s.service, s.count) for s in report.repetitive] == [("L-1", 4), ("L-2", 2)]
    assert not report.counted_by_claim_id


def test_unreadable_rows_are_dropped_and_counted() -> None:
    rows = [*_sample(), original_row(900, "", "Sin servicio", SEPT), original_row(901, "L-9", "x", SEPT)]
    rows[-1][4] = rows[-1][5] = "ayer por la tarde"  # dates nobody can read
    report = build_report(csv_bytes(ORIGINAL_HEADERS, rows), ".csv", 9, 2025)
    assert report.rows_dropped == 2 and report.services_analysed == 3


def test_what_cannot_be_read_says_why() -> None:
    with pytest.raises(SpreadsheetError, match="faltan columnas obligatorias: CLIENTE") as missing:
        build_report(xlsx_bytes(["SERVICIO", "FECHA", "Otra"], [["L-1", SEPT, "x"]]), ".xlsx", 9, 2025)
    assert missing.value.code == "MISSING_COLUMNS"
    with pytest.raises(SpreadsheetError, match="encabezados"):
        build_report(xlsx_bytes(["A", "B"], [[1, 2]]), ".xlsx", 9, 2025)
    with pytest.raises(SpreadsheetError, match=r"el contenido no corresponde a un Excel \.xlsx") as not_excel:
        build_report(b"CLIENTE;SERVICIO;FECHA\n", ".xlsx", 9, 2025)
    assert not_excel.value.code == "INVALID_FILE"


def test_the_word_document_holds_the_report() -> None:
    report = build_report(xlsx_bytes(ORIGINAL_HEADERS, _sample()), ".xlsx", 9, 2025)
    document = Document(io.BytesIO(write_docx(report, "http://panel.example/reports/t/x_map.html")))
    text = [p.text for p in document.paragraphs]
    assert text[0] == "Informe de Repetitividad — Septiembre 2025"
    assert "Servicios analizados: 3 | Servicios con repetitividad: 2 (66.7 %)" in text
    assert "Períodos presentes en el dataset: 2025-08, 2025-09" in text
    assert "Mapa: http://panel.example/reports/t/x_map.html" in text
    assert "Fibra Óptica: L-1 - ACME S.A." in text and "Fibra Óptica: L-2 - BETA" in text
    coverage, l1, l2 = document.tables
    assert [c.text for c in coverage.rows[0].cells] == ["Servicio", "Cliente", "Etiqueta", "Región", "Latitud",
                                                         "Longitud", "Casos"]
    assert [c.text for c in coverage.rows[1].cells] == ["L-1", "ACME S.A.", "Córdoba", "Córdoba", "-31.42010",
                                                         "-64.18880", "3"]
    assert len(coverage.rows) == 2  # L-2 has no coordinates
    header = [c.text for c in l1.rows[0].cells]
    assert header == ["Reclamo", "Tipo Solución", "Fecha Inicio", "Fecha Cierre", "Horas Netas",
                      "Descripción Solución"]
    first = [c.text for c in l1.rows[1].cells]
    assert first[:5] == ["501", "Técnica", "10/09/2025 08:30", "10/09/2025 10:45", "02:15"]
    assert len(first[5]) == 200 and first[5].endswith("…")
    assert len(l1.rows) == 4 and len(l2.rows) == 3  # the repeated line of claim 502 counts once
    assert 'w:fill="D9E2F3"' in l1.rows[0].cells[0]._tc.xml  # shaded header row


def test_without_coordinates_there_is_no_map() -> None:
    rows = [original_row(i, f"L-{i % 2}", "x", SEPT, located=False) for i in range(6)]
    report = build_report(xlsx_bytes(ORIGINAL_HEADERS, rows), ".xlsx", 9, 2025)
    assert report_points(report) == []
    text = [p.text for p in Document(io.BytesIO(write_docx(report, None))).paragraphs]
    assert "Mapa: No disponible (sin datos georreferenciados)" in text
    pdf = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(write_pdf(report, None))).pages)
    assert "No disponible (sin datos georreferenciados)" in pdf


def test_the_pdf_has_the_same_content() -> None:
    rows = [*_sample(), original_row(801, "L-Ñ", "Peña & Muñoz — «Ñandú»", SEPT, place=3),
            original_row(802, "L-Ñ", "Peña & Muñoz — «Ñandú»", SEPT, place=3)]
    report = build_report(xlsx_bytes(ORIGINAL_HEADERS, rows), ".xlsx", 9, 2025)
    reader = PdfReader(io.BytesIO(write_pdf(report, "http://panel.example/map")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Informe de Repetitividad — Septiembre 2025" in text
    assert "Servicios analizados: 4 | Servicios con repetitividad: 3 (75.0 %)" in text
    assert "Cobertura geográfica" in text and "-31.42010" in text
    assert "Fibra Óptica: L-Ñ - PEÑA & MUÑOZ — «ÑANDÚ»" in text
    assert "10/09/2025 08:30" in text and "02:15" in text
    fonts = [str(f.get_object()["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert fonts and all("DejaVu" in f for f in fonts)  # the embedded font


def test_the_map_draws_the_repetitive_services_safely() -> None:
    rows = [original_row(1, "L-1", "</script><script>alert(1)</script>", SEPT),
            original_row(2, "L-1", "x", SEPT.replace(day=11)), original_row(3, "L-2", "y", SEPT, place=1)]
    report = build_report(xlsx_bytes(ORIGINAL_HEADERS, rows), ".xlsx", 9, 2025)
    page = write_map(report.title, report_points(report), None).decode()
    assert "<script>alert(1)" not in page.lower().replace("\\u003c", "<").split("map-data")[0]
    assert page.count("<script") == 3  # the data (not executed), leaflet.js, map.js
    data = json.loads(re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)[1])
    assert [(p["label"], p["count"]) for p in data["points"]] == [("L-1", 2)]
    assert data["points"][0]["details"][2] == ["Cliente", "</SCRIPT><SCRIPT>ALERT(1)</SCRIPT>"]
    assert data["tiles"] is None and 'src="/static/leaflet/leaflet.js"' in page


async def test_the_tool_stores_its_files_and_reports_progress(app: Any, settings: Settings) -> None:
    store: FileStore = app.state.store
    tenant = uuid.uuid4()
    await store.put(f"uploads/{tenant}/chat_1_ab_casos.xlsx", xlsx_bytes(ORIGINAL_HEADERS, _sample()))
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    ctx = ReportContext(tenant, store, settings, progress)
    result = await generar_informe_repetitividad(ctx, {"file_path": "chat_1_ab_casos.xlsx", "mes": 9, "anio": 2025})
    assert result["status"] == "ok" and result["summary"].startswith("Servicios analizados: 3")
    for kind in ("docx", "pdf", "map", "csv"):
        key = "reports/" + result[kind].removeprefix("/reports/")
        assert key.startswith(f"reports/{tenant}/") and await store.exists(key)
    assert lines[0].startswith("Leyendo") and any("Word" in line for line in lines)
    assert "Archivo leído: 9 filas, 7 reclamos del período." in lines[1]
    detail = b"".join([c async for c in store.read("reports/" + result["csv"].removeprefix("/reports/"))])
    assert detail.decode("utf-8-sig").count("\r\n") == 1 + 5  # header and five claims of L-1 and L-2
    with pytest.raises(ReportError) as missing:
        await generar_informe_repetitividad(ctx, {"file_path": "chat_otro.xlsx", "mes": 9, "anio": 2025})
    assert missing.value.code == "FILE_NOT_FOUND"
    geo = await generar_mapa_geo(ctx, {"points": [{"lat": -34.6, "lon": -58.4, "label": "Obelisco"}]})
    assert geo["map"].endswith("/mapa.html")


async def test_mcp_invoke_runs_the_report(client: httpx2.AsyncClient, make_tenant: Any, app: Any) -> None:
    t = await make_tenant("mcp")
    store: FileStore = app.state.store
    await store.put(f"uploads/{t.id}/chat_9_cd_casos.csv", csv_bytes(ORIGINAL_HEADERS, _sample()))
    response = await client.post("/mcp/invoke", headers=t.headers, json={
        "tool": "GenerarInformeRepetitividad", "args": {"file_path": "chat_9_cd_casos.csv", "mes": 9, "anio": 2025}})
    assert response.status_code == 200, response.text
    events = response.json()
    assert events[0] == {"type": "tool_call", "metadata": {"tool": "GenerarInformeRepetitividad", "args": {
        "file_path": "chat_9_cd_casos.csv", "mes": 9, "anio": 2025}}}
    done = events[-1]
    assert done["type"] == "assistant_done" and done["metadata"]["result"]["status"] == "ok"
    pdf = await client.get(done["metadata"]["result"]["pdf"], headers=t.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    for args, status, code in (({"file_path": "chat_nada.csv", "mes": 9, "anio": 2025}, 404, "file_not_found"),
                               ({"file_path": "chat_9_cd_casos.csv", "mes": 0, "anio": 2025}, 422,
                                "invalid_arguments"),
                               ({"file_path": "chat_9_cd_casos.csv", "mes": 9}, 422, "invalid_arguments")):
        refused = await client.post("/mcp/invoke", headers=t.headers,
                                    json={"tool": "GenerarInformeRepetitividad", "args": args})
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), args
    listed = await client.post("/mcp/invoke", headers=t.headers, json={"tool": "GenerarMapaGeo", "args": {
        "points": [{"lat": 40.4, "lon": -3.7, "label": "Madrid"}]}})
    assert listed.status_code == 200 and listed.json()[-1]["metadata"]["result"]["map"].startswith("/reports/")


async def test_200000_rows_run_off_the_event_loop(app: Any, settings: Settings, client: httpx2.AsyncClient) -> None:
    """Correct figures for a year of claims (200,000 rows), progress while it runs, and the
    server answering other requests meanwhile. (Its time is measured by bench/report_repetitividad.py.)"""
    store: FileStore = app.state.store
    tenant = uuid.uuid4()
    rows = claims_rows(200_000, months=tuple(range(1, 13)), services=60_000, long_text=False)
    await store.put(f"uploads/{tenant}/chat_2_ef_anual.csv", csv_bytes(ORIGINAL_HEADERS, rows))
    september = [r for r in rows if r[4].month == 9]
    claims: dict[str, set[int]] = {}
    for r in september:
        claims.setdefault(r[1], set()).add(r[0])
    repeating = sorted((s for s, c in claims.items() if len(c) >= 2), key=lambda s: (-len(claims[s]), s))

    lines: list[tuple[float, str]] = []
    answered: list[float] = []

    async def progress(line: str) -> None:
        lines.append((time.monotonic(), line))

    ctx = ReportContext(tenant, store, settings, progress)
    run = asyncio.create_task(generar_informe_repetitividad(
        ctx, {"file_path": "chat_2_ef_anual.csv", "mes": 9, "anio": 2025}))
    while not run.done():  # the app keeps answering while the report is being made
        assert (await client.get("/healthz")).status_code == 200
        answered.append(time.monotonic())
        await asyncio.sleep(0.05)
    result = await run
    assert f"Servicios analizados: {len(claims)} | Servicios con repetitividad: {len(repeating)}" in result["summary"]
    assert len(answered) > 5 and sum(1 for at, _ in lines if at < answered[-1]) >= 3
    assert any(line.startswith("Archivo leído: 200.000 filas") for _, line in lines)
    document = Document(io.BytesIO(b"".join([c async for c in store.read(
        "reports/" + result["docx"].removeprefix("/reports/"))])))
    sections = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    assert len(sections) == min(DETAIL_LIMIT, len(repeating))
    assert sections[0].split(": ")[1].startswith(repeating[0] + " - ")
