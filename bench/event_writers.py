"""One tenant's event-writing transactions: how many commit per second when many writers share
the tenant's event counter (`realtime/events.py`), with an idle and with a busy event loop.

W writers in one process each commit small transactions that record one event; with `--busy MS`
three more tasks each burn MS of CPU between yields, as a loaded server's other requests do, so
every await costs the writer a wait for the loop. The counter's row is locked from the bump to
the end of COMMIT: whatever the holder waits for in between, every writer of the tenant waits too.

    .venv/bin/python bench/event_writers.py [--writers 16] [--seconds 8] [--busy 0,2]

PostgreSQL only (SQLite has one writer at a time): TERTULIA_BENCH_PG_URL, a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import prepare_database, scratch_pg_database
from sqlalchemy.ext.asyncio import AsyncSession


async def measure(url: str, tenant_id: uuid.UUID, writers: int, seconds: float, busy: float) -> float:
    from tertulia.kit.db import Database
    from tertulia.realtime.events import record_event

    db = Database(url, pool_size=writers + 2)
    committed = 0
    stop = time.monotonic() + seconds

    async def writer(k: int) -> None:
        nonlocal committed
        while time.monotonic() < stop:
            async with db.session(tenant_id) as session:
                record_event(session, tenant_id, "bench.tick", {"writer": k})
            committed += 1

    async def burner() -> None:
        while time.monotonic() < stop:
            until = time.perf_counter() + busy
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(writer(k) for k in range(writers)), *(burner() for _ in range(3 if busy else 0)))
    finally:
        await db.dispose()
    return committed / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--busy", default="0,2", help="ms each of three busy tasks burns between yields")
    args = parser.parse_args()
    from tertulia.tenancy.service import create_tenant

    async def fill(session: AsyncSession) -> uuid.UUID:
        return (await create_tenant(session, "bench", "Bench")).id

    with tempfile.TemporaryDirectory(prefix="tertulia-bench-ev-") as tmp, \
            scratch_pg_database("tertulia_bench_ev") as url:
        tenant_id = prepare_database(url, Path(tmp), "bench-" + uuid.uuid4().hex, fill)
        for busy in (float(v) / 1000 for v in args.busy.split(",")):
            rate = asyncio.run(measure(url, tenant_id, args.writers, args.seconds, busy))
            print(f"writers {args.writers}, busy loop {busy * 1000:g} ms per turn of 3 tasks: "
                  f"{rate:.0f} transactions/s", flush=True)


if __name__ == "__main__":
    main()
