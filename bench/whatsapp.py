"""WhatsApp's speed: (a) signed webhook intake, (b) delivery to the sandbox's Graph API.

(a) Intake. One `tertulia serve` on a scratch PostgreSQL database. A sender process posts, open
    loop, at a fixed rate for a few seconds (after a warm-up at that rate, not measured): signed
    WhatsApp Cloud webhooks (one text message each) to one channel, the same spread over many
    channels, and, for comparison, the generic `api` channel's inbound posts. For each rate and
    target: the ack's latency (the webhook's 200 / the post's 202, both sent once the message is
    committed) p50/p95/p99, errors, and the highest rate whose p99 stayed under 50 ms.
(b) Delivery (--delivery): see `bench_delivery`.

    .venv/bin/python bench/whatsapp.py [--rates 300,600,900,1200] [--seconds 8] [--channels 20]

Needs PostgreSQL (TERTULIA_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import psycopg
import uvloop
from _common import KeepAlivePool, cpu_ticks, free_port, percentile, stolen_pct, stop_process, wait_until_ready

PG_ADMIN_URL = os.environ.get("TERTULIA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-whatsapp-" + "k" * 32
APP_SECRET = "bench-app-secret-0123456789"


@dataclass
class Setup:
    api_channel: str
    inbound_token: str
    whatsapp: list[tuple[str, str]]  # (channel id, phone number id)


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"tertulia_bench_wa_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str, data_dir: Path, channels: int) -> Setup:
    from tertulia.channels.service import create_channel
    from tertulia.cli import do_migrate
    from tertulia.config import Settings
    from tertulia.kit.crypto import SecretBox
    from tertulia.kit.db import Database
    from tertulia.tenancy.service import create_tenant

    do_migrate(Settings(data_dir=data_dir, database_url=database_url, secret_key=SECRET))

    async def work() -> Setup:
        db = Database(database_url, pool_size=2)
        box = SecretBox(SECRET)
        try:
            async with db.session(cross_tenant="the bench makes its tenant") as session:
                tenant = await create_tenant(session, "bench", "Bench")
                api, token = await create_channel(session, box, tenant.id, "api", "API", "bench")
                whatsapp = []
                for n in range(channels):
                    phone_id = str(100000000000 + n)
                    channel, _ = await create_channel(session, box, tenant.id, "whatsapp_cloud", f"WhatsApp {n}",
                                                      credentials={"phone_number_id": phone_id, "waba_id": "2000000",
                                                                   "access_token": "bench-token-" + "t" * 20,
                                                                   "app_secret": APP_SECRET})
                    whatsapp.append((str(channel.id), phone_id))
            assert token is not None
            return Setup(str(api.id), token, whatsapp)
        finally:
            await db.dispose()

    return asyncio.run(work())


@contextmanager
def serve(database_url: str, data_dir: Path, log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "TERTULIA_DATABASE_URL": database_url, "TERTULIA_SECRET_KEY": SECRET,
           "TERTULIA_DATA_DIR": str(data_dir), "TERTULIA_LOG_LEVEL": "warning"}
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "tertulia"), "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(proc, f"http://127.0.0.1:{port}", 60, what=f"tertulia serve (log: {log})")
            yield f"http://127.0.0.1:{port}", proc.pid
        finally:
            stop_process(proc)


def webhook_body(phone_id: str, customer: int, message_id: str, text: str) -> bytes:
    """A WhatsApp Cloud API messages webhook carrying one text message."""
    wa_id = f"34600{customer:06d}"
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": phone_id[-8:], "phone_number_id": phone_id},
             "contacts": [{"profile": {"name": f"Cliente {customer}"}, "wa_id": wa_id}],
             "messages": [{"from": wa_id, "id": message_id, "timestamp": str(int(time.time())), "type": "text",
                           "text": {"body": text}}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": "2000000", "changes": [{"field": "messages", "value": value}]}]}).encode()


def signed(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def requests_for(target: str, setup: Setup, label: str, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) of every request of a run, built before it starts."""
    out = []
    for i in range(count):
        customer = i % 500
        if target == "api":
            body = json.dumps({"external_message_id": f"{label}-{i}", "content": f"hola {i}",
                               "contact": {"external_id": f"c{customer}", "name": f"Cliente {customer}"}}).encode()
            out.append((f"/api/v1/inbound/{setup.api_channel}", body,
                        {"Authorization": f"Bearer {setup.inbound_token}"}))
            continue
        channel_id, phone_id = setup.whatsapp[0] if target == "webhook" else setup.whatsapp[i % len(setup.whatsapp)]
        body = webhook_body(phone_id, customer, f"wamid.{label}.{i}", f"hola {i}")
        out.append((f"/webhooks/{channel_id}", body, signed(body)))
    return out


def sender_main(base_url: str, requests: list[tuple[str, bytes, dict[str, str]]], rate: float, warm: int,
                out: Connection) -> None:
    """Runs in its own process: open loop at `rate`; the first `warm` requests are not measured."""
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> None:
        pool = KeepAlivePool(base_url, 200, {})
        start = time.monotonic() + 0.2

        async def post(i: int) -> None:
            path, body, headers = requests[i]
            issued = time.monotonic()
            try:
                status, content = await asyncio.wait_for(pool.post(path, body, headers), 30)
                if status not in (200, 202):
                    errors.append(f"{status} {content[:160]!r}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                errors.append(repr(exc))
            if i >= warm:
                latencies.append(time.monotonic() - issued)

        tasks = []
        for i in range(len(requests)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
        pool.close()

    uvloop.run(main())
    out.send({"latencies": latencies, "errors": errors[:10], "error_count": len(errors)})
    out.close()


def bench_intake(args: argparse.Namespace) -> None:
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="tertulia-bench-wa-") as tmp, scratch_database() as url:
        setup = prepare(url, Path(tmp), args.channels)
        with serve(url, Path(tmp), Path(tmp) / "serve.log") as (base_url, pid):
            if os.environ.get("BENCH_PROFILE"):  # sample the server with py-spy while it is measured
                subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-o",
                                  os.environ["BENCH_PROFILE"], "-f", "raw", "-d", str(int(args.seconds * 3)), "-n"])
            print(f"intake on PostgreSQL, {os.cpu_count()} cores: {args.seconds:g} s per rate after "
                  f"{args.warmup:g} s of warm-up; ack = the 200/202, sent once the message is committed")
            print(f"{'target':<34}{'rate/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'load':>6}"
                  f"{'stolen':>8}")
            best: dict[str, float] = {}
            names = {"api": "api channel (inbound API)", "webhook": "webhook, one channel",
                     "spread": f"webhook, {args.channels} channels"}
            for target in args.targets.split(","):
                name = names[target]
                for rate in rates:
                    warm = int(rate * args.warmup)
                    requests = requests_for(target, setup, f"{target}{rate:g}", warm + int(rate * args.seconds))
                    ticks = cpu_ticks()
                    parent, child = multiprocessing.Pipe(duplex=False)
                    sender = multiprocessing.Process(target=sender_main, args=(base_url, requests, rate, warm, child))
                    sender.start()
                    result = parent.recv()
                    sender.join()
                    ms = sorted(s * 1000 for s in result["latencies"])
                    p99 = percentile(ms, 99)
                    print(f"{name:<34}{rate:>8g}{percentile(ms, 50):>9.1f}{percentile(ms, 95):>9.1f}{p99:>9.1f}"
                          f"{result['error_count']:>8}{os.getloadavg()[0]:>6.1f}"
                          f"{stolen_pct(ticks, cpu_ticks()):>7.1f}%")
                    if result["errors"]:
                        print("   e.g.", result["errors"][:3])
                    if p99 < 50 and not result["error_count"]:
                        best[name] = max(best.get(name, 0.0), rate)
            for name, rate in best.items():
                print(f"highest rate with ack p99 < 50 ms, {name}: {rate:g}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="300,600,900,1200", help="messages per second to try, in order")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--channels", type=int, default=20, help="WhatsApp channels for the spread target")
    parser.add_argument("--targets", default="api,webhook,spread", help="api, webhook (one channel), spread")
    args = parser.parse_args()
    bench_intake(args)


if __name__ == "__main__":
    main()
