"""The repeat-cases report on 200,000 rows: time from the tool's call to its stored files, and how
long the event loop ever waited meanwhile (target: under 10 s, the loop never blocked).

    .venv/bin/python bench/report_repetitividad.py                # .xlsx and .csv, a year of claims
    .venv/bin/python bench/report_repetitividad.py --rows 50000 --runs 1

The sheets are made first (openpyxl, not timed) in the layout of the original system's export:
200,000 claims over the 12 months of 2025 on 60,000 services, solution texts of up to 360
characters; the report asks for September. The files go to a local file store in a temporary
directory, as `tertulia serve` keeps them by default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import cpu_ticks, stolen_pct
from tests.reports.claims import ORIGINAL_HEADERS, claims_rows, csv_bytes, xlsx_bytes

from tertulia.config import Settings
from tertulia.kit.storage import create_store
from tertulia.reports.tools import ReportContext, generar_informe_repetitividad

TARGET_SECONDS = 10.0


async def one_run(ctx: ReportContext, file_path: str) -> tuple[float, float, int]:
    """(seconds, the loop's longest wait in ms, progress lines) of one report."""
    lines = 0

    async def progress(_line: str) -> None:
        nonlocal lines
        lines += 1

    ctx.progress = progress
    worst = 0.0
    done = False

    async def ticker() -> None:  # how late a 10 ms timer fires tells how long the loop was held
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await generar_informe_repetitividad(ctx, {"file_path": file_path, "mes": 9, "anio": 2025})
    elapsed = time.perf_counter() - started
    done = True
    await tick
    assert result["status"] == "ok" and result["pdf"] and result["map"]
    return elapsed, worst * 1000, lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), secret_key="bench")
        store = create_store(settings)
        tenant = uuid.uuid4()
        print(f"making a sheet of {args.rows:,} claims (not timed)…", flush=True)
        rows = claims_rows(args.rows, months=tuple(range(1, 13)), services=max(args.rows * 3 // 10, 1))
        files = {"xlsx": xlsx_bytes(ORIGINAL_HEADERS, rows), "csv": csv_bytes(ORIGINAL_HEADERS, rows)}
        for kind, data in files.items():
            await store.put(f"uploads/{tenant}/claims.{kind}", data)
        load = os.getloadavg()[0]
        ticks = cpu_ticks()
        print(f"{os.cpu_count()} cores, load average {load:.1f} before")
        print(f"{'input':6} {'size':>8} {'runs':>4} {'median s':>9} {'max s':>7} {'loop max wait ms':>17} "
              f"{'progress':>8}")
        for kind, data in files.items():
            runs = [await one_run(ReportContext(tenant, store, settings), f"claims.{kind}") for _ in range(args.runs)]
            seconds = [r[0] for r in runs]
            print(f"{kind:6} {len(data) / 1e6:>6.1f}MB {len(runs):>4} {statistics.median(seconds):>9.2f} "
                  f"{max(seconds):>7.2f} {max(r[1] for r in runs):>17.1f} {runs[0][2]:>8}")
        print(f"load average {os.getloadavg()[0]:.1f} after; {stolen_pct(ticks, cpu_ticks()):.1f}% of the CPUs' time "
              "stolen by the host while measuring")
        print(f"target: under {TARGET_SECONDS:.0f} s per report")


if __name__ == "__main__":
    asyncio.run(main())
