"""Helpers shared by the bench scripts: a scratch database, a real server on loopback, percentiles.

Bench scripts measure the app as a client sees it, so they start `uvicorn` in a subprocess (the
same server `tertulia serve` runs) instead of calling the ASGI app in-process.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
import psycopg
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("TERTULIA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far. Steal is time the host gave this virtual
    machine's CPUs to others: no process here sees it, every latency does."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def stolen_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time stolen by the host between two cpu_ticks()."""
    return 100 * (after[1] - before[1]) / max(1, after[0] - before[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """A process's resident memory (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_open_files_limit(wanted: int) -> int:
    """Room for thousands of sockets (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted)) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def pg_admin_url_for(url: str) -> str:
    """The maintenance database on the same server as `url` (to create or drop `url`'s database)."""
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def pg_database_exists(url: str) -> bool:
    name = make_url(url).database
    with psycopg.connect(pg_admin_url_for(url), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def pg_create_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(pg_admin_url_for(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def pg_drop_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(pg_admin_url_for(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_pg_url(prefix: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{prefix}_{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch_pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database (named `prefix_<random>`) for one run, dropped at the end."""
    url = scratch_pg_url(prefix)
    pg_create_database(url)
    try:
        yield url
    finally:
        pg_drop_database(url)


def prepare_database(database_url: str, data_dir: Path, secret_key: str,
                     fill: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the bench's database, then `fill` it (its tenant, channels...) in one transaction."""
    from tertulia.cli import do_migrate
    from tertulia.config import Settings
    from tertulia.kit.db import Database

    do_migrate(Settings(data_dir=data_dir, database_url=database_url, secret_key=secret_key))

    async def work() -> T:
        db = Database(database_url, pool_size=2)
        try:
            async with db.session(cross_tenant="the bench makes its tenant") as session:
                return await fill(session)
        finally:
            await db.dispose()

    return asyncio.run(work())


@contextmanager
def running_server(database_url: str, data_dir: Path, *, secret_key: str = "bench-secret-key",
                   extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port; yield its base URL; stop it at the end."""
    port = free_port()
    env = {**os.environ, "TERTULIA_DATABASE_URL": database_url, "TERTULIA_DATA_DIR": str(data_dir),
           "TERTULIA_SECRET_KEY": secret_key, "TERTULIA_LOG_LEVEL": "warning", **(extra_env or {})}
    cmd = [sys.executable, "-m", "uvicorn", "tertulia.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, base_url, timeout)
        yield base_url
    finally:
        stop_process(proc)


def wait_until_ready(proc: subprocess.Popen[Any], base_url: str, timeout: float, what: str = "the server") -> None:
    """Poll /readyz until the server answers 200; fail early if its process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        try:
            if httpx2.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f}s")
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Stats:
    n: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_s: list[float]) -> Stats:
        ms = sorted(s * 1000 for s in samples_s)
        return cls(n=len(ms), mean_ms=statistics.fmean(ms), p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95),
                   max_ms=ms[-1])


def percentile(sorted_values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on already sorted values."""
    if not sorted_values:
        raise ValueError("no samples")
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def time_calls(call: Callable[[], object], n: int, *, warmup: int = 5) -> Stats:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples)


class KeepAlivePool:
    """POSTs over keep-alive HTTP/1.1 connections (at most `size`), written and parsed by hand. The
    sender shares the machine's cores with what it measures (real senders are elsewhere): this
    costs it a fraction of a millisecond per request, where an httpx client took about 4 ms."""

    def __init__(self, base_url: str, size: int, headers: dict[str, str]) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port, self.size = host, int(port), size
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return await self.post(path, json.dumps(body).encode())

    async def post(self, path: str, payload: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST bytes (JSON) with these extra headers; (status, body). Safe to repeat: the
        requests it sends are idempotent."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = (f"POST {path} HTTP/1.1\r\n{self.head}{extra}Content-Type: application/json\r\n"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        while not self.idle and self.opened >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # woken, then timed out: pass it on
                    self._wake_next()
                raise
        reused = bool(self.idle)
        try:
            try:
                return await self._exchange(request, reused)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise
                # The server had closed this idle connection (keep-alive timeout): a new one. The
                # request is safe to repeat (the provider's message id makes it idempotent).
                return await self._exchange(request, False)
        finally:
            self._wake_next()

    def _wake_next(self) -> None:
        while self.waiting:  # the next request still waiting (one may have timed out)
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _exchange(self, request: bytes, reuse: bool) -> tuple[int, bytes]:
        if reuse:
            reader, writer = self.idle.pop()  # the most recently used: the least likely to be stale
        else:
            self.opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self.opened -= 1
                raise
        try:
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status = int(head.split(" ", 2)[1])
            length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
                          if line.lower().startswith("content-length:"))
            content = await reader.readexactly(length)
        except BaseException:
            self.opened -= 1
            writer.close()
            raise
        self.idle.append((reader, writer))
        return status, content

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
