"""The report tools (seed 002): `GenerarInformeRepetitividad` and `GenerarMapaGeo`.

They read a file uploaded to the panel chatbot (`uploads/<tenant_id>/<file_path>` in the file
store) and write their files under `reports/<tenant_id>/<run>/`, served at `/reports/...` to members
of that tenant only. The work is CPU-bound (a 200,000-row sheet takes seconds), so it runs in
worker processes (ReportWorkers): the event loop keeps serving meanwhile, and progress lines go out
through the context's `progress` callback between the steps.

Errors carry the seed's codes: `INVALID_TOOL_ARGS`, `FILE_NOT_FOUND`, `INVALID_FILE` (not a
spreadsheet), `MISSING_COLUMNS`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.providers.base import ToolSpec
from tertulia.assistants.tools import Handler, Tool, ToolContext, ToolError
from tertulia.config import Settings
from tertulia.kit.storage import FileStore, InvalidKey, check_key
from tertulia.reports.documents import write_csv, write_docx, write_pdf
from tertulia.reports.maps import MapPoint, Tiles, report_points, write_map
from tertulia.reports.repetitividad import build_report
from tertulia.reports.spreadsheet import SPREADSHEET_SUFFIXES, SpreadsheetError

log = structlog.get_logger("tertulia.reports")

REPETITIVIDAD = "GenerarInformeRepetitividad"
MAPA_GEO = "GenerarMapaGeo"
MAX_INPUT_BYTES = 200 * 1024 * 1024  # what a tool reads from the store into memory

Progress = Callable[[str], Awaitable[None]]


class ReportError(Exception):
    """A report that cannot be made as asked; `code` is the seed's tool error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ReportContext:
    tenant_id: uuid.UUID
    store: FileStore
    settings: Settings
    progress: Progress | None = None


def upload_key(settings: Settings, tenant_id: uuid.UUID, name: str) -> str:
    """The store key of a file uploaded to the chat; InvalidKey for a name that would leave the
    tenant's upload folder (a path, `..`, a hidden name)."""
    if "/" in name or "\\" in name:
        raise InvalidKey("a file_path is the name the upload returned, without folders")
    return check_key(f"{settings.uploads_dir}/{tenant_id}/{name}")


def report_key(settings: Settings, tenant_id: uuid.UUID, name: str) -> str:
    return check_key(f"{settings.reports_dir}/{tenant_id}/{name}")


def report_url(tenant_id: uuid.UUID, name: str) -> str:
    return f"/reports/{tenant_id}/{name}"


def _run_folder() -> str:
    # Each run writes a folder of its own: two people asking for the same month never overwrite
    # each other's files, and the name says when it was made.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _tiles(settings: Settings) -> Tiles | None:
    return Tiles(settings.map_tiles_url, settings.map_tiles_attribution) if settings.map_tiles_url else None


async def _say(ctx: ReportContext, text: str) -> None:
    if ctx.progress is not None:
        await ctx.progress(text)


async def _read_upload(ctx: ReportContext, file_path: str) -> bytes:
    try:
        key = upload_key(ctx.settings, ctx.tenant_id, file_path)
    except InvalidKey as exc:
        raise ReportError("INVALID_TOOL_ARGS", f"file_path '{file_path}' no es un archivo subido al chat") from exc
    found = await ctx.store.stat(key)
    if found is None:
        raise ReportError("FILE_NOT_FOUND", f"no existe el archivo '{file_path}': súbelo primero al chat")
    if found.size > MAX_INPUT_BYTES:
        raise ReportError("INVALID_FILE", "el archivo es demasiado grande para un informe")
    return b"".join([chunk async for chunk in ctx.store.read(key)])


class ReportWorkers:
    """The processes that make reports. Reading a 200,000-row sheet and laying out its documents
    is seconds of pure-Python work: in a thread it would hold the interpreter's lock, and the
    event loop would stall for a second at a time (measured); in processes it never waits, and
    the Word document and the PDF are written at the same time on two cores. Started on first
    use (spawned: a fork of a process with threads is not safe), stopped with the app."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


REPORT_WORKERS = ReportWorkers()


@asynccontextmanager
async def report_workers() -> AsyncIterator[ReportWorkers]:
    """The report processes for an app's lifetime (app.py)."""
    try:
        yield REPORT_WORKERS
    finally:
        await asyncio.to_thread(REPORT_WORKERS.shutdown)


async def _nothing() -> None:
    return None


async def generar_informe_repetitividad(ctx: ReportContext, args: dict[str, Any]) -> dict[str, Any]:
    """The repeat-cases report of one month: DOCX, PDF (unless `export_pdf` is false), an HTML map
    of the repetitive services with coordinates, and a CSV of every repetitive claim."""
    file_path, month, year = str(args["file_path"]), int(args["mes"]), int(args["anio"])
    export_pdf = bool(args.get("export_pdf", True))
    suffix = PurePosixPath(file_path).suffix.lower()
    if suffix not in SPREADSHEET_SUFFIXES:
        raise ReportError("INVALID_TOOL_ARGS", f"el informe lee archivos {', '.join(SPREADSHEET_SUFFIXES)}")
    data = await _read_upload(ctx, file_path)
    await _say(ctx, f"Leyendo {file_path}…")
    folder = _run_folder()
    stem = f"repetitividad_{year:04d}{month:02d}"
    map_name = f"{folder}/{stem}_map.html"
    map_link = ctx.settings.base_url.rstrip("/") + report_url(ctx.tenant_id, map_name)

    try:
        report = await REPORT_WORKERS.run(build_report, data, suffix, month, year)
    except SpreadsheetError as exc:
        raise ReportError(exc.code, exc.message) from exc
    read = f"{report.rows_read:,}".replace(",", ".")
    await _say(ctx, f"Archivo leído: {read} filas, {report.rows_in_month} reclamos del período. {report.summary}")
    points = report_points(report)
    link = map_link if points else None
    await _say(ctx, "Escribiendo el documento Word" + (" y el PDF…" if export_pdf else "…"))
    docx, pdf, csv, page = await asyncio.gather(
        REPORT_WORKERS.run(write_docx, report, link),
        REPORT_WORKERS.run(write_pdf, report, link) if export_pdf else _nothing(),
        REPORT_WORKERS.run(write_csv, report),
        REPORT_WORKERS.run(write_map, report.title, points, _tiles(ctx.settings)) if points else _nothing())
    files: dict[str, bytes | None] = {"docx": docx, "pdf": pdf, "map": page, "csv": csv}
    summary = report.summary
    names = {"docx": f"{folder}/{stem}.docx", "pdf": f"{folder}/{stem}.pdf", "map": map_name,
             "csv": f"{folder}/{stem}_detalle.csv"}
    result: dict[str, Any] = {"status": "ok"}
    for kind in ("docx", "pdf", "map", "csv"):
        content = files.get(kind)
        if content is None:
            result[kind] = None
            continue
        await ctx.store.put(report_key(ctx.settings, ctx.tenant_id, names[kind]), content)
        result[kind] = report_url(ctx.tenant_id, names[kind])
    result["summary"] = summary
    return result


async def generar_mapa_geo(ctx: ReportContext, args: dict[str, Any]) -> dict[str, Any]:
    """An HTML map of the given points."""
    points = [MapPoint(lat=float(p["lat"]), lon=float(p["lon"]), label=str(p.get("label") or ""),
                       details=(("", str(p.get("label") or "")),)) for p in args["points"]]
    title = str(args.get("title") or "Mapa")
    content = await REPORT_WORKERS.run(write_map, title, points, _tiles(ctx.settings))
    name = f"{_run_folder()}/mapa.html"
    await ctx.store.put(report_key(ctx.settings, ctx.tenant_id, name), content)
    return {"status": "ok", "map": report_url(ctx.tenant_id, name)}


@dataclass(frozen=True)
class ReportTool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[ReportContext, dict[str, Any]], Awaitable[dict[str, Any]]]


REPORT_TOOLS: dict[str, ReportTool] = {t.name: t for t in (
    ReportTool(
        REPETITIVIDAD,
        "Informe de repetitividad de un mes: a partir de una planilla de reclamos (.xlsx, .xlsm o .csv subida al "
        "chat), los servicios con dos o más reclamos en el mes, con su cliente, ubicación y soluciones. Devuelve "
        "enlaces a un DOCX, un PDF, un mapa HTML y un CSV.",
        {"type": "object", "additionalProperties": False, "required": ["file_path", "mes", "anio"],
         "properties": {
             "file_path": {"type": "string", "minLength": 1, "maxLength": 240,
                           "description": "el nombre (`path`) que devolvió la subida del archivo"},
             "mes": {"type": "integer", "minimum": 1, "maximum": 12},
             "anio": {"type": "integer", "minimum": 2000, "maximum": 2100},
             "export_pdf": {"type": "boolean", "default": True}}},
        generar_informe_repetitividad),
    ReportTool(
        MAPA_GEO,
        "Mapa HTML de puntos (latitud, longitud, etiqueta). Devuelve el enlace al mapa.",
        {"type": "object", "additionalProperties": False, "required": ["points"],
         "properties": {
             "title": {"type": "string", "maxLength": 200},
             "points": {"type": "array", "minItems": 1, "maxItems": 20000, "items": {
                 "type": "object", "additionalProperties": False, "required": ["lat", "lon"],
                 "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                                "label": {"type": "string", "maxLength": 200}}}}}},
        generar_mapa_geo),
)}


def assistant_tools() -> dict[str, Tool]:
    """The report tools as the assistants' tool registry takes them (app.py adds them to
    `assistants.tools.EXTRA_TOOLS`, which `POST /mcp/invoke` and the panel chatbot run)."""

    def handler_of(tool: ReportTool) -> Handler:
        async def handler(session: AsyncSession, ctx: ToolContext, args: dict[str, Any]) -> Any:
            if ctx.store is None or ctx.settings is None:
                raise ToolError(f"{tool.name} needs the file store", code="TOOL_INTERNAL_ERROR")
            try:
                return await tool.run(ReportContext(ctx.tenant_id, ctx.store, ctx.settings, ctx.progress), args)
            except ReportError as exc:
                kind = "invalid_arguments" if exc.code == "INVALID_TOOL_ARGS" else "failed"
                raise ToolError(exc.message, kind=kind, code=exc.code) from exc

        return handler

    return {t.name: Tool(ToolSpec(t.name, t.description, t.parameters), handler_of(t), long_running=True)
            for t in REPORT_TOOLS.values()}
