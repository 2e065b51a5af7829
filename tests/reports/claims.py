"""Spreadsheets of service claims made on the spot (openpyxl, csv): nothing is downloaded. Used by
the report's tests and by bench/report_repetitividad.py."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

# The original system's own export, with its line breaks and accents in the headers.
ORIGINAL_HEADERS = ("Número Reclamo", "Número Línea", "Nombre Cliente", "Tipo Servicio", "Fecha Inicio Reclamo",
                    "Fecha Cierre Problema\nReclamo", "Tipo Solución Reclamo", "Horas Netas Problema Reclamo",
                    "Descripción Solución Reclamo", "Latitud", "Longitud", "Localidad", "Provincia")
CANONICAL_HEADERS = ("ID_SERVICIO", "SERVICIO", "CLIENTE", "TIPO_SERVICIO", "FECHA", "GEO_LAT", "GEO_LON",
                     "GEO_LABEL", "GEO_REGION")

PLACES = [("Córdoba", "Córdoba", -31.4201, -64.1888), ("Rosario", "Santa Fe", -32.9442, -60.6505),
          ("Mendoza", "Mendoza", -32.8895, -68.8458), ("La Plata", "Buenos Aires", -34.9214, -57.9545),
          ("Neuquén", "Neuquén", -38.9516, -68.0591), ("Salta", "Salta", -24.7821, -65.4232)]
SOLUTIONS = ["Reemplazo de ONT", "Reconfiguración remota", "Cambio de puerto", "Visita técnica: empalme",
             "Sin falla encontrada"]


def original_row(claim: int, service: str, client: str, opened: datetime, *, place: int = 0,
                 hours: float = 3.5, located: bool = True, solution: str = "Reemplazo de ONT") -> list[Any]:
    label, region, lat, lon = PLACES[place % len(PLACES)]
    return [claim, service, client, "Fibra Óptica", opened, opened + timedelta(hours=hours), "Técnica", hours,
            solution, lat if located else None, lon if located else None, label, region]


def claims_rows(count: int, *, year: int = 2025, months: Sequence[int] = (9,), services: int | None = None,
                seed: int = 7, long_text: bool = True) -> list[list[Any]]:
    """`count` claims in the original's layout, spread over `months` of `year`, on `services`
    services (by default a third of the claims: most services repeat). `long_text`: solution
    descriptions of up to 360 characters, as real ones run."""
    rng = random.Random(seed)
    services = services or max(count // 3, 1)
    rows = []
    for claim in range(1, count + 1):
        s = rng.randrange(services)
        month = months[claim % len(months)]
        opened = datetime(year, month, 1 + rng.randrange(28), rng.randrange(24), rng.randrange(60))
        rows.append(original_row(100000 + claim, f"L-{s:06d}", f"cliente {s % 997}", opened, place=s,
                                 hours=round(rng.uniform(0.5, 48), 2), located=s % 5 != 0,
                                 solution=SOLUTIONS[s % len(SOLUTIONS)] + " " + "detalle " * (s % 40 if long_text else 1)))
    return rows


def xlsx_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title_rows: int = 0) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Reclamos")
    for n in range(title_rows):  # a report title above the table, as exported sheets often have
        sheet.append([f"Exportación de reclamos ({n + 1})"])
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, delimiter: str = ";") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([v.strftime("%d/%m/%Y %H:%M") if isinstance(v, datetime) else
                         (str(v).replace(".", ",") if isinstance(v, float) and delimiter == ";" else v)
                         for v in row])
    return out.getvalue().encode("utf-8")
