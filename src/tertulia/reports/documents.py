"""The repeat-cases report as files: a Word document (python-docx), the same content as a PDF
(fpdf2 with an embedded DejaVu Sans, so every Spanish glyph and any customer name prints, and no
LibreOffice is needed), and a CSV of every repetitive claim.

The documents detail at most DETAIL_LIMIT services and list at most COVERAGE_LIMIT located ones:
a month with thousands of repetitive services would make a document nobody reads (and minutes to
write). When the limit cuts, the document says so, and the CSV always holds every claim.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from tertulia.reports.repetitividad import RepeatReport, RepeatService, date_text, hours_text

DETAIL_LIMIT = 200
COVERAGE_LIMIT = 500
SOLUTION_CHARS = 200
FONTS = Path(__file__).resolve().parent / "fonts"
HEADER_FILL = "D9E2F3"

COVERAGE_HEADERS = ("Servicio", "Cliente", "Etiqueta", "Región", "Latitud", "Longitud", "Casos")
CLAIM_HEADERS = ("Reclamo", "Tipo Solución", "Fecha Inicio", "Fecha Cierre", "Horas Netas", "Descripción Solución")
NO_MAP = "No disponible (sin datos georreferenciados)"


def coverage_rows(report: RepeatReport) -> list[tuple[str, ...]]:
    return [(s.service, s.client, s.label, s.region, f"{s.lat:.5f}", f"{s.lon:.5f}", str(s.count))
            for s in report.located[:COVERAGE_LIMIT] if s.lat is not None and s.lon is not None]


def claim_rows(service: RepeatService) -> list[tuple[str, ...]]:
    return [(c.claim_id, c.solution_type, date_text(c.opened or c.date), date_text(c.closed),
             hours_text(c.net_hours), _cut(c.solution)) for c in service.claims]


def section_title(service: RepeatService) -> str:
    return f"{service.service_type or 'Servicio'}: {service.service} - {service.client}"


def _cut(text: str) -> str:
    return text if len(text) <= SOLUTION_CHARS else text[:SOLUTION_CHARS - 1].rstrip() + "…"


def notes(report: RepeatReport) -> list[str]:
    """What the reader must know about the figures: the month filter, dropped rows, limits."""
    lines = [f"Reclamos del período: {report.rows_in_month} de {report.rows_read} filas del archivo."]
    if report.rows_dropped:
        lines.append(f"Filas descartadas (sin fecha legible o sin servicio): {report.rows_dropped}.")
    if not report.counted_by_claim_id:
        lines.append("El archivo no tiene número de reclamo: cada fila cuenta como un reclamo.")
    return lines


def detail_note(report: RepeatReport) -> str | None:
    if len(report.repetitive) <= DETAIL_LIMIT:
        return None
    return (f"Se detallan los {DETAIL_LIMIT} servicios con más reclamos de {len(report.repetitive)} con "
            "repetitividad; el CSV adjunto contiene todos los reclamos.")


def coverage_note(report: RepeatReport) -> str | None:
    if len(report.located) <= COVERAGE_LIMIT:
        return None
    return (f"Se listan {COVERAGE_LIMIT} de {len(report.located)} servicios georreferenciados; el mapa los "
            "muestra todos.")


# --- Word -------------------------------------------------------------------------------------

def write_docx(report: RepeatReport, map_url: str | None) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    small = document.styles.add_style("Tabla pequeña", 1)  # a paragraph style
    small.font.size = Pt(8)
    small.paragraph_format.space_after = Pt(0)

    def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        grid = document.add_table(rows=len(rows) + 1, cols=len(headers))
        grid.style = "Table Grid"
        for row, values in zip(grid.rows, [headers, *rows], strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                paragraph = cell.paragraphs[0]
                # By id: `paragraph.style = small` looks the style up among all of them each time
                # (six of the seven seconds of a 200-service document).
                paragraph._p.style = small.style_id
                paragraph.add_run(value)
        for cell in grid.rows[0].cells:
            cell.paragraphs[0].runs[0].bold = True
            shading = OxmlElement("w:shd")
            shading.set(qn("w:val"), "clear")
            shading.set(qn("w:fill"), HEADER_FILL)
            cell._tc.get_or_add_tcPr().append(shading)

    document.add_heading(report.title, level=0).alignment = WD_ALIGN_PARAGRAPH.LEFT
    document.add_paragraph(report.summary)
    document.add_paragraph(f"Períodos presentes en el dataset: {', '.join(report.periods) or 'ninguno'}")
    for line in notes(report):
        document.add_paragraph(line)

    document.add_heading("Cobertura geográfica", level=1)
    paragraph = document.add_paragraph("Mapa: ")
    if map_url and report.located:
        # A real hyperlink (python-docx has no API for one): a relationship and a w:hyperlink run.
        rel_id = document.part.relate_to(map_url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        link = OxmlElement("w:hyperlink")
        link.set(qn("r:id"), rel_id)
        run = OxmlElement("w:r")
        props = OxmlElement("w:rPr")
        style = OxmlElement("w:rStyle")
        style.set(qn("w:val"), "Hyperlink")
        underline = OxmlElement("w:u")
        underline.set(qn("w:val"), "single")
        props.append(style)
        props.append(underline)
        run.append(props)
        text = OxmlElement("w:t")
        text.text = map_url
        run.append(text)
        link.append(run)
        paragraph._p.append(link)
    else:
        paragraph.add_run(NO_MAP)
    rows = coverage_rows(report)
    if rows:
        table(COVERAGE_HEADERS, rows)
    if note := coverage_note(report):
        document.add_paragraph(note)

    document.add_heading("Servicios con repetitividad", level=1)
    if not report.repetitive:
        document.add_paragraph("Ningún servicio tuvo dos o más reclamos en el período.")
    if note := detail_note(report):
        document.add_paragraph(note)
    for service in report.repetitive[:DETAIL_LIMIT]:
        document.add_heading(section_title(service), level=2)
        document.add_paragraph(f"Reclamos: {service.count}" + (f" | Región: {service.region}" if service.region else "")
                               + (f" | Ubicación: {service.label}" if service.label else ""))
        table(CLAIM_HEADERS, claim_rows(service))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- PDF --------------------------------------------------------------------------------------

def write_pdf(report: RepeatReport, map_url: str | None) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(report.title)
    pdf.add_page()
    width = pdf.epw
    header_style = FontFace(emphasis="BOLD", fill_color=(0xD9, 0xE2, 0xF3))

    def text(value: str, size: float = 10, style: str = "", height: float = 6) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, height, value, new_x="LMARGIN", new_y="NEXT")

    def table(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
        pdf.set_font("DejaVu", "", 7)
        with pdf.table(col_widths=tuple(widths), headings_style=header_style, line_height=4,
                       repeat_headings=1) as grid:
            for values in (headers, *rows):
                row = grid.row()
                for value in values:
                    row.cell(value)
        pdf.ln(3)

    text(report.title, size=18, style="B", height=10)
    text(report.summary)
    text(f"Períodos presentes en el dataset: {', '.join(report.periods) or 'ninguno'}")
    for line in notes(report):
        text(line)
    pdf.ln(2)
    text("Cobertura geográfica", size=14, style="B", height=8)
    if map_url and report.located:
        pdf.set_font("DejaVu", "", 10)
        pdf.cell(0, 6, f"Mapa: {map_url}", link=map_url, new_x="LMARGIN", new_y="NEXT")
    else:
        text(f"Mapa: {NO_MAP}")
    rows = coverage_rows(report)
    if rows:
        table(COVERAGE_HEADERS, rows, (18, 24, 18, 14, 10, 10, 6))
    if note := coverage_note(report):
        text(note)
    text("Servicios con repetitividad", size=14, style="B", height=8)
    if not report.repetitive:
        text("Ningún servicio tuvo dos o más reclamos en el período.")
    if note := detail_note(report):
        text(note)
    for service in report.repetitive[:DETAIL_LIMIT]:
        text(section_title(service), size=11, style="B", height=7)
        table(CLAIM_HEADERS, claim_rows(service), (12, 14, 13, 13, 8, 40))
    return bytes(pdf.output())


# --- CSV --------------------------------------------------------------------------------------

def write_csv(report: RepeatReport) -> bytes:
    """Every claim of every repetitive service, one per line (UTF-8 with BOM, `;`: what a
    Spanish-locale spreadsheet opens as it is)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("Servicio", "Cliente", "Tipo Servicio", "Región", "Etiqueta", "Latitud", "Longitud", "Casos",
                     *CLAIM_HEADERS))
    for s in report.repetitive:
        lat = f"{s.lat:.5f}" if s.lat is not None else ""
        lon = f"{s.lon:.5f}" if s.lon is not None else ""
        for c in s.claims:
            writer.writerow((s.service, s.client, s.service_type, s.region, s.label, lat, lon, s.count, c.claim_id,
                             c.solution_type, date_text(c.opened or c.date), date_text(c.closed),
                             hours_text(c.net_hours), c.solution))
    return ("\ufeff" + out.getvalue()).encode("utf-8")
