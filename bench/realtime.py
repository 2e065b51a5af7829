"""Live events: latency across processes, and the memory of idle sockets.

1. Latency: `tertulia serve` processes on one PostgreSQL, joined by Redis. A sender process posts
   inbound messages to the ingest process(es) at a fixed rate (open loop: 200 messages/s for 30 s
   by default, after a few seconds of warm-up at the same rate that are not measured); an agent
   socket on another process receives them. For each message: the time from the POST being issued
   to its `message.created` frame arriving on the socket (p50/p95/p99/max). Also the CPU time each
   role used per message (ingest, socket process, PostgreSQL, Redis, sender, receiver): the
   machine's cores are shared by all of them, so this says where a rate's cost goes whatever else
   runs at the time.
2. Memory: a fresh `tertulia serve` process; RSS after 20 warm-up sockets, then after 5,000 more
   idle authenticated sockets (each received its `hello`); the difference per socket.

Targets: p99 under 50 ms; under 30 KB per idle socket.

    .venv/bin/python bench/realtime.py [--rate 200] [--seconds 30] [--warmup 3] [--ingest 1] [--sockets 5000]

Needs PostgreSQL (TERTULIA_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres) and
Redis (TERTULIA_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0). It creates and drops a scratch
database and uses a Redis channel prefix of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx2
import redis
import uvloop
from _common import (
    KeepAlivePool,
    cpu_ticks,
    prepare_database,
    raise_open_files_limit,
    rss_kib,
    scratch_pg_database,
    stolen_pct,
    stop_process,
    wait_until_ready,
)
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("TERTULIA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TERTULIA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "bench-pass-1234"
SECRET = "bench-secret-" + uuid.uuid4().hex


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(sorted_values: list[float], pct: float) -> float:
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_of(name: str, marker: str = "") -> list[int]:
    """Processes whose command is `name` (and whose command line contains `marker`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if comm == name and marker in cmdline:
                found.append(int(entry.name))
    return found


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:  # gone meanwhile
            pass
    return found


# ---- setup: a scratch database with one tenant ----

@dataclass
class Tenant:
    slug: str
    email: str
    channel_id: str
    inbound_token: str


def prepare(database_url: str, data_dir: Path) -> Tenant:
    from tertulia.channels.service import create_channel
    from tertulia.kit.crypto import SecretBox
    from tertulia.tenancy.service import add_member, create_tenant, create_user

    async def fill(session: AsyncSession) -> Tenant:
        tenant = await create_tenant(session, "bench", "Bench")
        user = await create_user(session, "agent@bench.test", PASSWORD, "Agent")
        await add_member(session, tenant, user, "owner")
        channel, token = await create_channel(session, SecretBox(SECRET), tenant.id, "api", "API", "bench")
        assert token is not None
        return Tenant("bench", user.email, str(channel.id), token)

    return prepare_database(database_url, data_dir, SECRET, fill)


# ---- servers ----

@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/ws/events"


@contextmanager
def serve(database_url: str, data_dir: Path, prefix: str, log: Path) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "TERTULIA_DATABASE_URL": database_url, "TERTULIA_REDIS_URL": REDIS_URL,
           "TERTULIA_REDIS_PREFIX": prefix, "TERTULIA_SECRET_KEY": SECRET, "TERTULIA_DATA_DIR": str(data_dir),
           "TERTULIA_LOG_LEVEL": "warning"}
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "tertulia"), "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}", proc)
        try:
            wait_until_ready(proc, server.base_url, 60, what=f"tertulia serve (log: {log})")
            yield server
        finally:
            stop_process(proc)


def wait_for_subscribers(prefix: str, count: int) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    channel = f"{prefix}:events"
    deadline = time.monotonic() + 30
    try:
        while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the servers did not subscribe to Redis")
            time.sleep(0.05)
    finally:
        client.close()


def login(base_url: str, tenant: Tenant) -> str:
    response = httpx2.post(f"{base_url}/api/auth/login", json={"email": tenant.email, "password": PASSWORD},
                           timeout=10)
    response.raise_for_status()
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


# ---- 1. latency ----

def sender_main(base_urls: list[str], tenant: Tenant, rate: float, seconds: float, warmup: float,
                warm_at: float, start_at: float, out: Connection) -> None:
    """Runs in its own process: open-loop POSTs at `rate` (first `warmup` seconds of them from
    `warm_at`, not measured, then the measured ones from `start_at`), spread over the ingest
    servers in turn, recording when each measured one was issued."""
    sent: dict[int, float] = {}
    post_ms: list[float] = []
    errors: list[str] = []
    cpu_s = 0.0

    async def main() -> None:
        nonlocal cpu_s
        pools = [KeepAlivePool(url, 100, {"Authorization": f"Bearer {tenant.inbound_token}"}) for url in base_urls]

        async def post(i: int, label: str, record: bool) -> None:
            body = {"external_message_id": f"{label}-{i}-{uuid.uuid4().hex[:6]}",
                    "contact": {"external_id": f"cliente-{i % 50}", "name": f"Cliente {i % 50}"},
                    "content": f"{label}-{i}"}
            issued = time.monotonic()
            if record:
                sent[i] = issued
            try:
                status, content = await asyncio.wait_for(
                    pools[i % len(pools)].post_json(f"/api/v1/inbound/{tenant.channel_id}", body), 30)
                if status != 202:
                    errors.append(f"{status} {content[:200]!r}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                errors.append(repr(exc))
            if record:
                post_ms.append((time.monotonic() - issued) * 1000)

        async def phase(begin: float, count: int, label: str, record: bool) -> None:
            tasks = []
            await asyncio.sleep(max(0.0, begin - time.monotonic()))
            for i in range(count):
                delay = begin + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(i, label, record)))
            await asyncio.gather(*tasks)

        await phase(warm_at, int(rate * warmup), "warm", False)
        cpu_before = time.process_time()
        await phase(start_at, int(rate * seconds), "bench", True)
        cpu_s = time.process_time() - cpu_before
        for pool in pools:
            pool.close()

    uvloop.run(main())  # the sender shares the cores with what it measures: the cheaper loop
    out.send({"sent": sent, "post_ms": post_ms, "errors": errors[:20], "error_count": len(errors), "cpu_s": cpu_s})
    out.close()


async def receive_until(ws: ClientConnection, total: int, arrived: dict[int, float], fanout_ms: list[float],
                        deadline: float) -> None:
    while len(arrived) < total:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            raw = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            return
        now = time.monotonic()
        wall = time.time()
        frame = json.loads(raw)
        if frame.get("type") == "message.created":
            content = frame["data"].get("content", "")
            if content.startswith("bench-"):
                arrived.setdefault(int(content.removeprefix("bench-")), now)
                # `at` is stamped in the committing transaction: this part is the fan-out alone
                # (commit, publish, Redis, the other process, its socket).
                committed = datetime.fromisoformat(frame["at"].replace("Z", "+00:00")).timestamp()
                fanout_ms.append((wall - committed) * 1000)


def inbound_batches(servers: list[Server]) -> tuple[float, float, float]:
    """(batches, messages, seconds) the servers' inbound writers stored so far (their /metrics)."""
    totals = {"tertulia_inbound_batch_messages_count": 0.0, "tertulia_inbound_batch_messages_sum": 0.0,
              "tertulia_inbound_batch_seconds_sum": 0.0}
    for server in servers:
        for line in httpx2.get(f"{server.base_url}/metrics", timeout=10).text.splitlines():
            name, _, value = line.partition(" ")
            if name in totals:
                totals[name] += float(value)
    return tuple(totals.values())  # type: ignore[return-value]


def bench_latency(ingest: list[Server], b: Server, tenant: Tenant, rate: float, seconds: float, warmup: float,
                  database: str) -> dict[str, Any]:
    cookie = login(b.base_url, tenant)
    total = int(rate * seconds)
    arrived: dict[int, float] = {}
    fanout_ms: list[float] = []
    # CPU time per role over the measured part: where the machine's cores go, whatever else runs on it.
    roles = {"ingest": lambda: [a.proc.pid for a in ingest], "socket process": lambda: [b.proc.pid],
             "PostgreSQL": lambda: pids_of("postgres", database), "Redis": lambda: pids_of("redis-server")}
    cpu_before: dict[str, dict[int, float]] = {}
    receiver_before = 0.0
    ticks_before = (0, 0)

    async def main() -> dict[str, Any]:
        nonlocal receiver_before
        async with connect(b.ws_url, additional_headers={"Cookie": cookie, "Origin": b.base_url},
                           max_queue=None) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello", hello
            parent, child = multiprocessing.Pipe(duplex=False)
            warm_at = time.monotonic() + 1.0
            start_at = warm_at + warmup + (2.0 if warmup else 0.0)  # the warm-up's last frames arrive first
            sender = multiprocessing.get_context("spawn").Process(
                target=sender_main,
                args=([a.base_url for a in ingest], tenant, rate, seconds, warmup, warm_at, start_at, child))
            sender.start()

            def snapshot() -> None:
                nonlocal receiver_before, ticks_before
                cpu_before.update({role: cpu_by_pid(pids()) for role, pids in roles.items()})
                receiver_before = time.process_time()
                ticks_before = cpu_ticks()

            asyncio.get_running_loop().call_later(start_at - time.monotonic(), snapshot)
            await receive_until(ws, total, arrived, fanout_ms, start_at + seconds + 30)
            result: dict[str, Any] = await asyncio.to_thread(parent.recv)
            sender.join()
            return result

    result = uvloop.run(main())
    cpu_ms = {}
    for role, pids in roles.items():  # a database backend opened during the run counts from zero
        used = sum(cpu - cpu_before[role].get(pid, 0.0) for pid, cpu in cpu_by_pid(pids()).items())
        cpu_ms[role] = used * 1000 / total
    cpu_ms["sender"] = result["cpu_s"] * 1000 / total
    cpu_ms["receiver"] = (time.process_time() - receiver_before) * 1000 / total
    steal_pct = stolen_pct(ticks_before, cpu_ticks())
    sent: dict[int, float] = result["sent"]
    latencies = sorted((arrived[i] - sent[i]) * 1000 for i in arrived if i in sent)
    post_ms = sorted(result["post_ms"])
    fanout = sorted(fanout_ms)
    return {
        "fanout_p50_ms": percentile(fanout, 50), "fanout_p99_ms": percentile(fanout, 99), "fanout_max_ms": fanout[-1],
        "messages": total, "received": len(latencies), "post_errors": result["error_count"],
        "error_samples": result["errors"],
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99), "max_ms": latencies[-1], "mean_ms": statistics.fmean(latencies),
        "post_p50_ms": percentile(post_ms, 50), "post_p99_ms": percentile(post_ms, 99), "cpu_ms": cpu_ms,
        "steal_pct": steal_pct,
    }


# ---- 2. memory of idle sockets ----

def bench_memory(server: Server, tenant: Tenant, sockets: int, compression: str | None) -> dict[str, Any]:
    cookie = login(server.base_url, tenant)
    headers = {"Cookie": cookie, "Origin": server.base_url}

    async def open_many(n: int, into: list[ClientConnection]) -> None:
        gate = asyncio.Semaphore(100)

        async def one() -> None:
            async with gate:
                ws = await connect(server.ws_url, additional_headers=headers, open_timeout=60,
                                   ping_interval=None, max_queue=4, compression=compression)
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello", hello
                into.append(ws)

        await asyncio.gather(*(one() for _ in range(n)))

    async def main() -> dict[str, Any]:
        conns: list[ClientConnection] = []
        # Warm-up: imports, pools, caches and the allocator's high-water mark from opening sockets
        # concurrently; the per-socket figure is the slope between the two later readings.
        await open_many(20, conns)
        await asyncio.sleep(3)
        baseline = rss_kib(server.proc.pid)
        warm = min(1000, max(20, sockets // 5))
        await open_many(warm - 20, conns)
        await asyncio.sleep(3)
        before = rss_kib(server.proc.pid)
        started = time.monotonic()
        await open_many(sockets - warm, conns)
        open_s = time.monotonic() - started
        await asyncio.sleep(3)  # let the server settle
        after = rss_kib(server.proc.pid)
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        return {"sockets": sockets, "measured": sockets - warm, "warm": warm, "rss_before_mib": before / 1024,
                "rss_baseline_mib": baseline / 1024, "overall_kib": (after - baseline) / (sockets - 20),
                "rss_after_mib": after / 1024, "per_socket_kib": (after - before) / (sockets - warm),
                "open_seconds": open_s}

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of messages at the same rate before the measured ones (not measured)")
    parser.add_argument("--ingest", type=int, default=1,
                        help="`tertulia serve` processes the sender spreads its POSTs over")
    parser.add_argument("--sockets", type=int, default=5000, help="idle sockets for the memory run")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--no-compression", action="store_true",
                        help="idle sockets do not offer permessage-deflate (browsers do)")
    args = parser.parse_args()

    limit = raise_open_files_limit(args.sockets * 2 + 1000)
    if limit < args.sockets + 500:
        sys.exit(f"the open-files limit ({limit}) is too low for {args.sockets} sockets")
    prefix = f"tertulia-bench-{uuid.uuid4().hex[:8]}"
    with (tempfile.TemporaryDirectory(prefix="tertulia-bench-rt-") as tmp,
          scratch_pg_database("tertulia_bench_rt") as database_url):
        data_dir = Path(tmp)
        tenant = prepare(database_url, data_dir)
        if not args.skip_latency:
            with contextlib.ExitStack() as stack:
                ingest = [stack.enter_context(serve(database_url, data_dir, prefix, data_dir / f"a{i}.log"))
                          for i in range(args.ingest)]
                b = stack.enter_context(serve(database_url, data_dir, prefix, data_dir / "b.log"))
                wait_for_subscribers(prefix, args.ingest + 1)
                r = bench_latency(ingest, b, tenant, args.rate, args.seconds, args.warmup,
                                  database_url.rsplit("/", 1)[1])
                batches, stored, batch_s = inbound_batches(ingest)
            print(f"latency: {r['messages']} inbound messages at {args.rate:.0f}/s for {args.seconds:.0f} s "
                  f"(after {args.warmup:.0f} s of warm-up at that rate), POSTed to {args.ingest} ingest process(es), "
                  f"received on an agent socket of another process (Redis between them)")
            print(f"  received {r['received']}/{r['messages']}, POST errors {r['post_errors']}")
            for sample in r["error_samples"][:3]:
                print(f"  error: {sample}")
            print(f"  POST issued -> frame on socket: p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  "
                  f"p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms  (target p99 < 50 ms)")
            print(f"  POST response time: p50 {r['post_p50_ms']:.1f} ms  p99 {r['post_p99_ms']:.1f} ms")
            print(f"  commit -> frame on socket (fan-out alone): p50 {r['fanout_p50_ms']:.1f} ms  "
                  f"p99 {r['fanout_p99_ms']:.1f} ms  max {r['fanout_max_ms']:.1f} ms")
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
                  f"{r['steal_pct']:.1f}% of the CPUs' time stolen by the host while measuring")
            print(f"  inbound writer (warm-up included): {stored:.0f} messages in {batches:.0f} transactions, "
                  f"{stored / batches:.1f} per transaction on average, {batch_s * 1000 / batches:.1f} ms each")
            cpu = r["cpu_ms"]
            print("  CPU per message: " + ", ".join(f"{role} {ms:.2f} ms" for role, ms in cpu.items())
                  + f"; all {sum(cpu.values()):.1f} ms = {sum(cpu.values()) * args.rate / 10:.0f}% of one core "
                  f"at {args.rate:.0f}/s")
        if not args.skip_memory:
            with serve(database_url, data_dir, prefix + "-m", data_dir / "m.log") as server:
                m = bench_memory(server, tenant, args.sockets, None if args.no_compression else "deflate")
            print(f"memory: {m['sockets']} idle sockets on one process "
                  f"({'without' if args.no_compression else 'offering'} permessage-deflate, as browsers do)")
            print(f"  RSS with {m['warm']} sockets {m['rss_before_mib']:.1f} MiB -> with {m['sockets']} "
                  f"{m['rss_after_mib']:.1f} MiB: {m['per_socket_kib']:.1f} KiB per socket over the last "
                  f"{m['measured']}  (target < 30 KB)")
            print(f"  RSS with 20 sockets {m['rss_baseline_mib']:.1f} MiB: {m['overall_kib']:.1f} KiB per socket "
                  f"over all {m['sockets'] - 20}, including the allocator's growth while opening 100 at a time")


if __name__ == "__main__":
    main()
