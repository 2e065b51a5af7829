"""The web widget's visitor socket: memory of idle sockets, and the time from a visitor's message
to the first streamed delta of the AI's reply.

1. Memory: a fresh server process (`tertulia serve`'s uvicorn settings); RSS after 20 warm-up
   visitor sockets and after 1,000, then after 5,000 idle visitor sockets (each received its
   `hello`); the slope per socket. Target: under 30 KB per socket.
2. Latency: visitors (each its own socket) send a message (`send` frame) and wait for the first
   `ai_delta` of the reply, one at a time (closed loop), with an instant fake provider that streams
   its reply at once (no model, no network): what remains is the widget's and the engine's path
   (socket → inbound writer's commit → the turn scheduled and claimed → context read → provider →
   delta published on the tenant's widget topic → the visitor's socket). Target: p95 under 50 ms.

    .venv/bin/python bench/widget.py [--sockets 5000] [--messages 200] [--db postgresql|sqlite]

PostgreSQL: TERTULIA_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); a scratch
database is created and dropped. The server runs in a child process of this script (the only way
to give it the instant provider); visitor tokens are minted with the installation's secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import (
    cpu_ticks,
    free_port,
    percentile,
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
SECRET = "bench-widget-" + uuid.uuid4().hex
SITE = "https://shop.bench.test"
DELTAS = 20


@contextmanager
def scratch_database(kind: str, data_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'bench.db'}"
        return
    with scratch_pg_database("tertulia_bench_widget") as url:
        yield url


def prepare(database_url: str, data_dir: Path) -> str:
    """A tenant with a web channel (allowed on SITE) answered by an assistant without debounce."""
    from tertulia.assistants.models import Assistant
    from tertulia.channels.service import create_channel
    from tertulia.kit.crypto import SecretBox
    from tertulia.tenancy.service import create_tenant
    from tertulia.widget.schemas import WebChannelSettings

    async def fill(session: AsyncSession) -> str:
        tenant = await create_tenant(session, "bench", "Bench")
        assistant = Assistant(tenant_id=tenant.id, name="Nora", provider="offline", model="", debounce_seconds=0.0)
        session.add(assistant)
        await session.flush()
        channel, _ = await create_channel(session, SecretBox(SECRET), tenant.id, "web", "Web", "bench",
                                          web=WebChannelSettings(allowed_origins=[SITE]))
        channel.assistant_id = assistant.id
        return str(channel.id)

    return prepare_database(database_url, data_dir, SECRET, fill)


def child_serve(port: int) -> None:
    """The server, with every assistant answered by the instant provider."""
    import uvicorn

    from tertulia.app import create_app
    from tertulia.assistants import orchestrator
    from tertulia.assistants.providers.base import ProviderResult, StreamDelta
    from tertulia.config import get_settings

    class InstantProvider:
        name = "instant"

        async def complete(self, request: Any, on_delta: Any = None) -> ProviderResult:
            words = [f"palabra{i} " for i in range(DELTAS)]
            if on_delta is not None:
                for word in words:
                    await on_delta(StreamDelta(text=word))
            return ProviderResult(text="".join(words).strip(), tokens_in=50, tokens_out=DELTAS, model="instant")

    orchestrator.build_provider = lambda assistant, box: InstantProvider()  # type: ignore[assignment,return-value]
    settings = get_settings()
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False,
                ws_ping_interval=20, ws_ping_timeout=20, ws_per_message_deflate=False)


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "TERTULIA_DATABASE_URL": database_url, "TERTULIA_SECRET_KEY": SECRET,
           "TERTULIA_DATA_DIR": str(data_dir), "TERTULIA_LOG_LEVEL": "warning",
           "TERTULIA_WIDGET_RATE_PER_ADDRESS": "100000/minute", "TERTULIA_WIDGET_RATE_PER_VISITOR": "1000/minute"}
    log = data_dir / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, __file__, "--child-serve", str(port)], cwd=ROOT, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(proc, base, 60, what=f"the server (log: {log})")
            yield base, proc
        finally:
            stop_process(proc)


def tokens(channel_id: str, n: int) -> list[str]:
    from tertulia.widget.service import Visitor, VisitorTokens

    minted = VisitorTokens(SECRET)
    return [minted.issue(Visitor(uuid.UUID(channel_id), f"v:bench{uuid.uuid4().hex}")) for _ in range(n)]


def socket_url(base: str, channel_id: str, token: str) -> str:
    return f"ws{base.removeprefix('http')}/widget/{channel_id}/socket?token={token}"


def bench_memory(base: str, proc: subprocess.Popen[bytes], channel_id: str, sockets: int) -> dict[str, Any]:
    async def open_many(toks: list[str], into: list[ClientConnection]) -> None:
        gate = asyncio.Semaphore(100)

        async def one(token: str) -> None:
            async with gate:
                ws = await connect(socket_url(base, channel_id, token), origin=SITE, open_timeout=60,  # type: ignore[arg-type]
                                   ping_interval=None, max_queue=4, compression=None)
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello", hello
                into.append(ws)

        await asyncio.gather(*(one(t) for t in toks))

    async def main() -> dict[str, Any]:
        conns: list[ClientConnection] = []
        toks = tokens(channel_id, sockets)
        await open_many(toks[:20], conns)
        await asyncio.sleep(3)
        baseline = rss_kib(proc.pid)
        warm = min(1000, max(20, sockets // 5))
        await open_many(toks[20:warm], conns)
        await asyncio.sleep(3)
        before = rss_kib(proc.pid)
        started = time.monotonic()
        await open_many(toks[warm:], conns)
        open_s = time.monotonic() - started
        await asyncio.sleep(3)
        after = rss_kib(proc.pid)
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        return {"sockets": sockets, "warm": warm, "rss_baseline_mib": baseline / 1024, "rss_before_mib": before / 1024,
                "rss_after_mib": after / 1024, "per_socket_kib": (after - before) / (sockets - warm),
                "overall_kib": (after - baseline) / (sockets - 20), "open_seconds": open_s}

    return asyncio.run(main())


def bench_latency(base: str, channel_id: str, messages: int, warmup: int) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        samples: list[float] = []
        whole: list[float] = []
        toks = tokens(channel_id, messages + warmup)
        for n, token in enumerate(toks):
            async with connect(socket_url(base, channel_id, token), origin=SITE, ping_interval=None,  # type: ignore[arg-type]
                               compression=None) as ws:
                json.loads(await ws.recv())  # hello
                started = time.perf_counter()
                await ws.send(json.dumps({"type": "send", "client_id": uuid.uuid4().hex, "text": f"hola {n}"}))
                first = None
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if frame["type"] == "ai_delta" and first is None:
                        first = time.perf_counter()
                    if frame["type"] == "message" and frame["message"]["by"] == "ai":
                        done = time.perf_counter()
                        break
                if n >= warmup:
                    assert first is not None
                    samples.append((first - started) * 1000)
                    whole.append((done - started) * 1000)
        samples.sort()
        whole.sort()
        return {"n": len(samples), "p50": percentile(samples, 50), "p95": percentile(samples, 95),
                "p99": percentile(samples, 99), "max": samples[-1], "mean": statistics.fmean(samples),
                "reply_p50": percentile(whole, 50), "reply_p95": percentile(whole, 95)}

    return asyncio.run(main())


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child-serve":
        child_serve(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    raise_open_files_limit(args.sockets * 2 + 1000)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tertulia-bench-widget-") as tmp:
        data_dir = Path(tmp)
        with scratch_database(args.db, data_dir) as url:
            channel_id = prepare(url, data_dir)
            ticks = cpu_ticks()
            with serve(url, data_dir) as (base, proc):
                lat = bench_latency(base, channel_id, args.messages, args.warmup)
            stolen = stolen_pct(ticks, cpu_ticks())
            with serve(url, data_dir) as (base, proc):
                mem = bench_memory(base, proc, channel_id, args.sockets)
    print(f"web widget on {args.db}; 2 cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{stolen:.1f}% of the CPUs' time stolen by the host while measuring latency")
    print(f"visitor message -> first streamed AI delta ({lat['n']} messages, one at a time, instant provider): "
          f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms "
          f"(target p95 < 50 ms: {'met' if lat['p95'] < 50 else 'NOT met'})")
    print(f"  -> the reply posted and delivered to the socket: p50 {lat['reply_p50']:.1f} ms, "
          f"p95 {lat['reply_p95']:.1f} ms")
    print(f"idle visitor sockets: RSS {mem['rss_baseline_mib']:.1f} MiB with 20, {mem['rss_before_mib']:.1f} MiB with "
          f"{mem['warm']}, {mem['rss_after_mib']:.1f} MiB with {mem['sockets']} "
          f"(opened in {mem['open_seconds']:.1f} s): "
          f"{mem['per_socket_kib']:.1f} KiB per socket ({mem['per_socket_kib'] * 1.024:.1f} KB; target < 30 KB: "
          f"{'met' if mem['per_socket_kib'] * 1.024 < 30 else 'NOT met'}); {mem['overall_kib']:.1f} KiB over all")


if __name__ == "__main__":
    main()
