"""Reading a spreadsheet of claims: `.xlsx`/`.xlsm` through python-calamine (Rust, read-only, several
times faster than openpyxl on large sheets), `.csv` through the csv module. The header row is found
among the first rows by the names it holds, and columns are matched by name whatever their accents,
case, spacing, underscores or line breaks.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

HEADER_SEARCH_ROWS = 10
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv")


class SpreadsheetError(Exception):
    """The file cannot be read as the table asked for; `code` is the tool's error code."""

    def __init__(self, message: str, code: str = "INVALID_FILE") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self) -> tuple[type[SpreadsheetError], tuple[str, str]]:
        return SpreadsheetError, (self.message, self.code)  # it crosses from the report's process


def header_key(name: Any) -> str:
    """A column name as compared: no accents, case, spaces, underscores or line breaks."""
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s_\-.]+", "", text)


@dataclass(frozen=True)
class Column:
    """A meaning the report reads, and the names a sheet may give it (in order of preference)."""

    field: str
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(header_key(a) for a in self.aliases)


@dataclass(frozen=True)
class Table:
    """The sheet's data rows, and where each field's column is (absent fields are missing)."""

    rows: list[Sequence[Any]]
    columns: dict[str, int]
    header_row: int  # 0-based, in the sheet


def read_rows(data: bytes, suffix: str) -> list[Sequence[Any]]:
    """Every row of the file's first sheet (or of the CSV), as values."""
    suffix = suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _excel_rows(data)
    if suffix == ".csv":
        return _csv_rows(data)
    raise SpreadsheetError(f"solo se leen archivos {', '.join(SPREADSHEET_SUFFIXES)}", code="INVALID_FILE")


def _excel_rows(data: bytes) -> list[Sequence[Any]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            is_workbook = "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        is_workbook = False
    if not is_workbook:
        raise SpreadsheetError("el contenido no corresponde a un Excel .xlsx")
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise SpreadsheetError("el Excel no tiene hojas")
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except CalamineError as exc:
        raise SpreadsheetError(f"el Excel no se puede leer: {exc}") from exc
    return list(rows)


def _csv_rows(data: bytes) -> list[Sequence[Any]]:
    if b"\x00" in data[:65536]:
        raise SpreadsheetError("el contenido no corresponde a un CSV de texto")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 leaves five bytes undefined
        text = data.decode("latin-1")
    first = text[:4096].splitlines()[0] if text else ""
    # Spanish-locale spreadsheets export with `;` (the comma is their decimal mark).
    delimiter = max((";", ",", "\t", "|"), key=first.count)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def locate_columns(rows: Sequence[Sequence[Any]], columns: Sequence[Column]) -> Table:
    """The header row (among the first HEADER_SEARCH_ROWS, the first holding at least two required
    names) and each field's column; SpreadsheetError naming the required ones that are missing."""
    required = [c for c in columns if c.required]
    best: tuple[int, dict[str, int]] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = [header_key(v) for v in row]
        found = _match(keys, columns)
        if sum(1 for c in required if c.field in found) >= min(2, len(required)):
            best = (index, found)
            break
    if best is None:
        names = ", ".join(c.aliases[0] for c in required)
        raise SpreadsheetError(f"no se encontró la fila de encabezados (se buscan columnas como {names}) "
                               f"en las primeras {HEADER_SEARCH_ROWS} filas", code="MISSING_COLUMNS")
    index, found = best
    missing = [c.aliases[0] for c in required if c.field not in found]
    if missing:
        raise SpreadsheetError(f"faltan columnas obligatorias: {', '.join(missing)}", code="MISSING_COLUMNS")
    return Table(rows=list(rows[index + 1:]), columns=found, header_row=index)


def _match(keys: list[str], columns: Sequence[Column]) -> dict[str, int]:
    found: dict[str, int] = {}
    for column in columns:
        for alias in column.keys:  # aliases in order of preference
            if alias in keys:
                found[column.field] = keys.index(alias)
                break
    return found


# --- values -----------------------------------------------------------------------------------

_DATE = re.compile(r"\s*(\d{1,4})[/\-.](\d{1,2})[/\-.](\d{1,4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
                   r"\s*(?:[aApP]\.?\s?[mM]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2})?\s*")
EXCEL_EPOCH = datetime(1899, 12, 30)


def as_datetime(value: Any) -> datetime | None:
    """A cell as a naive datetime: Excel dates, ISO or day-first text (dd/mm/yyyy [HH:MM[:SS]]),
    or Excel's serial numbers; None when it is not a date."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return EXCEL_EPOCH + timedelta(days=float(value)) if 1 <= value < 2958466 else None
    if not isinstance(value, str) or not value.strip():
        return None
    match = _DATE.fullmatch(value)
    if match is None:
        try:  # a serial number written as text
            return as_datetime(float(value.replace(",", ".")))
        except ValueError:
            return None
    a, b, c, hh, mm, ss = match.groups()
    if len(a) == 4:  # yyyy-mm-dd
        year, month, day = int(a), int(b), int(c)
    elif len(c) == 4:  # dd/mm/yyyy (day first: the sheets are Spanish)
        day, month, year = int(a), int(b), int(c)
    else:
        return None
    try:
        return datetime(year, month, day, int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None


def as_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number Excel kept as 1234.0
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return str(value).strip()


def as_hours(value: Any) -> float | None:
    """Hours as a number: 5.5, "5,5", "05:30", a time or a duration."""
    if isinstance(value, timedelta):
        return value.total_seconds() / 3600
    if isinstance(value, time):
        return value.hour + value.minute / 60 + value.second / 3600
    if isinstance(value, str) and ":" in value:
        parts = value.strip().split(":")
        try:
            hours, minutes = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            return None
        return hours + minutes / 60 if hours >= 0 else None
    return as_float(value)


def column_values(rows: Iterable[Sequence[Any]], index: int | None) -> list[Any]:
    if index is None:
        return [None for _ in rows]
    return [row[index] if index < len(row) else None for row in rows]
