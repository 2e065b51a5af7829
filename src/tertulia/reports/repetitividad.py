"""The repeat-cases report ("Informe de Repetitividad"): from a spreadsheet of a telecom's service
claims, which services had two or more claims in a month, for which customer, where, and how each
claim was solved.

Only the claims of the requested month and year count (the original system documented this and
reported every row of the file instead). A service's count is its number of distinct claim
numbers, or of rows when the sheet has no claim-number column; two or more make it repetitive.
Rows whose date cannot be read or whose service is empty are dropped, and the report says how many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tertulia.reports.spreadsheet import (
    Column,
    as_datetime,
    as_float,
    as_hours,
    as_text,
    locate_columns,
    read_rows,
)

MONTHS_ES = ("Enero", "Febrero", "Marzo", "Abril", "Mayo", "Junio", "Julio", "Agosto", "Septiembre", "Octubre",
             "Noviembre", "Diciembre")

COLUMNS = (
    Column("client", ("CLIENTE", "nombre cliente"), required=True),
    Column("service", ("SERVICIO", "numero linea"), required=True),
    # The claim's date: its own column, else when it was closed, else when it was opened.
    Column("date", ("FECHA", "fecha cierre problema reclamo", "fecha inicio reclamo"), required=True),
    Column("claim_id", ("ID_SERVICIO", "numero reclamo")),
    Column("service_type", ("TIPO_SERVICIO", "tipo servicio")),
    Column("lat", ("GEO_LAT", "latitud", "latitude", "coord lat")),
    Column("lon", ("GEO_LON", "longitud", "longitude", "coord lon")),
    Column("label", ("GEO_LABEL", "ubicacion", "localidad")),
    Column("region", ("GEO_REGION", "provincia", "departamento", "region")),
    Column("solution_type", ("Tipo Solución Reclamo",)),
    Column("net_hours", ("Horas Netas Problema Reclamo", "Horas Netas Reclamo")),
    Column("solution", ("Descripción Solución Reclamo",)),
    Column("opened", ("fecha inicio reclamo",)),
    Column("closed", ("fecha cierre problema reclamo",)),
)

Progress = Callable[[str], None]


@dataclass(slots=True)
class Claim:
    claim_id: str
    date: datetime
    opened: datetime | None
    closed: datetime | None
    solution_type: str
    net_hours: float | None
    solution: str


@dataclass
class RepeatService:
    service: str
    client: str
    service_type: str
    label: str
    region: str
    lat: float | None
    lon: float | None
    claims: list[Claim] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.claims)


@dataclass
class RepeatReport:
    month: int
    year: int
    rows_read: int
    rows_dropped: int  # no readable date or no service
    rows_in_month: int
    services_analysed: int
    repetitive: list[RepeatService]  # most claims first
    periods: list[str]  # YYYY-MM present in the file
    counted_by_claim_id: bool

    @property
    def title(self) -> str:
        return f"Informe de Repetitividad — {MONTHS_ES[self.month - 1]} {self.year}"

    @property
    def share(self) -> float:
        return 100 * len(self.repetitive) / self.services_analysed if self.services_analysed else 0.0

    @property
    def summary(self) -> str:
        return (f"Servicios analizados: {self.services_analysed} | Servicios con repetitividad: "
                f"{len(self.repetitive)} ({self.share:.1f} %)")

    @property
    def located(self) -> list[RepeatService]:
        return [s for s in self.repetitive if s.lat is not None and s.lon is not None]


@dataclass
class _Group:
    client: str = ""
    service_type: str = ""
    label: str = ""
    region: str = ""
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    located: int = 0
    claims: dict[str, Claim] = field(default_factory=dict)


def build_report(data: bytes, suffix: str, month: int, year: int, progress: Progress | None = None) -> RepeatReport:
    """Read the file and compute the report (CPU-bound: run it off the event loop)."""
    say = progress or (lambda _text: None)
    rows = read_rows(data, suffix)
    say(f"Archivo leído: {max(len(rows) - 1, 0):,} filas".replace(",", "."))
    return compute(rows, month, year, say)


def compute(rows: Sequence[Sequence[Any]], month: int, year: int, progress: Progress | None = None) -> RepeatReport:
    table = locate_columns(rows, COLUMNS)
    col = table.columns

    def at(row: Sequence[Any], name: str) -> Any:
        index = col.get(name)
        return row[index] if index is not None and index < len(row) else None

    groups: dict[str, _Group] = {}
    periods: set[str] = set()
    dropped = in_month = read = 0
    by_claim_id = "claim_id" in col
    step = max(len(table.rows) // 4, 50_000)
    for number, row in enumerate(table.rows, start=table.header_row + 2):
        if not any(v not in (None, "") for v in row):
            continue  # blank lines are not rows
        read += 1
        if progress is not None and read % step == 0:
            progress(f"{read:,} filas procesadas".replace(",", "."))
        service = as_text(at(row, "service"))
        when = as_datetime(at(row, "date"))
        if not service or when is None:
            dropped += 1
            continue
        periods.add(f"{when.year:04d}-{when.month:02d}")
        if when.year != year or when.month != month:
            continue
        in_month += 1
        group = groups.get(service)
        if group is None:
            group = groups[service] = _Group()
        group.client = group.client or as_text(at(row, "client")).upper()
        group.service_type = group.service_type or as_text(at(row, "service_type"))
        group.label = group.label or as_text(at(row, "label"))
        group.region = group.region or as_text(at(row, "region"))
        lat, lon = as_float(at(row, "lat")), as_float(at(row, "lon"))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0, 0):
            group.lat_sum += lat
            group.lon_sum += lon
            group.located += 1
        # Without a claim number (or with an empty one) each row is a claim of its own.
        claim_id = as_text(at(row, "claim_id")) if by_claim_id else ""
        key = claim_id or f"#{number}"
        if key not in group.claims:
            group.claims[key] = Claim(
                claim_id=claim_id or f"fila {number}", date=when, opened=as_datetime(at(row, "opened")),
                closed=as_datetime(at(row, "closed")), solution_type=as_text(at(row, "solution_type")),
                net_hours=as_hours(at(row, "net_hours")), solution=as_text(at(row, "solution")))

    repetitive = [
        RepeatService(service=service, client=g.client, service_type=g.service_type, label=g.label, region=g.region,
                      lat=g.lat_sum / g.located if g.located else None,
                      lon=g.lon_sum / g.located if g.located else None,
                      claims=sorted(g.claims.values(), key=lambda c: c.date))
        for service, g in groups.items() if len(g.claims) >= 2
    ]
    repetitive.sort(key=lambda s: (-s.count, s.service))
    return RepeatReport(month=month, year=year, rows_read=read, rows_dropped=dropped, rows_in_month=in_month,
                        services_analysed=len(groups), repetitive=repetitive, periods=sorted(periods),
                        counted_by_claim_id=by_claim_id)


def date_text(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if value is not None else ""


def hours_text(hours: float | None) -> str:
    if hours is None:
        return ""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
