"""Memory of large uploads: the server's peak resident memory while parallel documents stream in
through `POST /admin/media`.

A fresh server process (`uvicorn`, as `tertulia serve` runs it) on loopback, a SQLite database and
the local file store in a scratch directory. After one small upload (to load what a first upload
loads), `--parallel` clients each send a `--size-mb` text document at once, in 64 KiB pieces as a
network delivers them. Printed: the server's RSS before the batch and its peak during it (VmHWM,
reset through /proc/<pid>/clear_refs), the growth per upload, and the time the batch took.
Target: growth per upload far below the file's size.

    .venv/bin/python bench/uploads.py [--size-mb 60] [--parallel 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import httpx2
from _common import free_port, prepare_database, stop_process, wait_until_ready
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-uploads-secret-key"
BOUNDARY = "bench-boundary"
PIECE = b"".join(b"linea %05d de un documento largo\n" % n for n in range(2000))[:64 * 1024]


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM restarts from the current RSS


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


async def make_tenant(session: AsyncSession) -> str:
    from tertulia.tenancy.service import create_api_token, create_tenant

    tenant = await create_tenant(session, "bench-uploads", "Bench uploads")
    _, token = await create_api_token(session, tenant, "bench")
    return token


async def body(size: int) -> AsyncIterator[bytes]:
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"informe.txt\"\r\n"
           "Content-Type: text/plain\r\n\r\n").encode()
    left = size
    while left > 0:
        yield PIECE[:left]
        left -= len(PIECE)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def upload(http: httpx2.AsyncClient, size: int) -> None:
    r = await http.post("/admin/media", content=body(size))
    if r.status_code != 201 or r.json()["size"] != size:
        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:200]}")


async def measure(base_url: str, token: str, pid: int, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    size = args.size_mb * 1024 * 1024
    async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=600) as http:
        await upload(http, 2 * 1024 * 1024)
        reset_peak(pid)
        before = vm_kib(pid, "VmRSS")
        started = time.perf_counter()
        await asyncio.gather(*(upload(http, size) for _ in range(args.parallel)))
        took = time.perf_counter() - started
    peak = vm_kib(pid, "VmHWM")
    growth = (peak - before) / 1024
    print(f"load average {os.getloadavg()[0]:.1f}; {args.parallel} parallel uploads of {args.size_mb} MB")
    print(f"server RSS before {before / 1024:.0f} MB, peak during the batch {peak / 1024:.0f} MB")
    print(f"peak growth {growth:.0f} MB in all, {growth / args.parallel:.1f} MB per upload; "
          f"{took:.1f} s for the batch ({args.parallel * args.size_mb / took:.0f} MB/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tertulia-bench-uploads-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'bench.db'}"
        token = prepare_database(url, data_dir, SECRET, make_tenant)
        port = free_port()
        env = {**os.environ, "TERTULIA_DATABASE_URL": url, "TERTULIA_DATA_DIR": str(data_dir),
               "TERTULIA_SECRET_KEY": SECRET, "TERTULIA_LOG_LEVEL": "warning"}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tertulia.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                 "--no-access-log"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(proc, base_url, 60)
            asyncio.run(measure(base_url, token, proc.pid, args))
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
