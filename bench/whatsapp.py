"""WhatsApp's speed: (a) signed webhook intake, (b) delivery to the sandbox's Graph API.

(a) Intake. One `tertulia serve` on a scratch PostgreSQL database. A sender process posts, open
    loop, at a fixed rate for a few seconds (after a warm-up at that rate, not measured): signed
    WhatsApp Cloud webhooks (one text message each) to one channel, the same spread over many
    channels, and, for comparison, the generic `api` channel's inbound posts. For each rate and
    target: the ack's latency (the webhook's 200 / the post's 202, both sent once the message is
    committed) p50/p95/p99, errors, the server's CPU per message (its user + system time over the
    run, warm-up included, divided by the run's messages: stable under load, unlike latency), and
    the highest rate whose p99 stayed under 50 ms. The writer's own cost per batch, in process:
    bench/inbound_batch.py.
(b) Delivery (--delivery). The same server, its WhatsApp Cloud channel pointed at the provider
    sandbox (in this process, its Graph API on loopback). `--recipients` customers write once
    through the sandbox (signed webhooks: their windows open), then `--messages` human messages
    are queued through the API, round by round (each customer's first, then each one's second...),
    while the sandbox answers `--failures` of the sends with a 429 or a 5xx. Measured: messages per
    second accepted by the provider against the configured channel rate, and from the sandbox's own
    log, per recipient: order, spacing (TERTULIA_DELIVERY_SPACING), nothing lost, nothing twice.

    .venv/bin/python bench/whatsapp.py [--rates 300,600,900,1200] [--seconds 8] [--channels 20]
    .venv/bin/python bench/whatsapp.py --delivery [--recipients 2000] [--messages 10000]
                                       [--channel-rate 100] [--spacing 4] [--failures 0.05]

Needs PostgreSQL (TERTULIA_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx2
import psycopg
import uvloop
from _common import (
    KeepAlivePool,
    cpu_ticks,
    free_port,
    percentile,
    prepare_database,
    scratch_pg_database,
    stolen_pct,
    stop_process,
    wait_until_ready,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.sandbox.server import SandboxServer

PG_ADMIN_URL = os.environ.get("TERTULIA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-whatsapp-" + "k" * 32
APP_SECRET = "bench-app-secret-0123456789"


@dataclass
class Setup:
    api_channel: str
    inbound_token: str
    whatsapp: list[tuple[str, str]]  # (channel id, phone number id)
    api_token: str = ""
    verify_token: str = ""


def prepare(database_url: str, data_dir: Path, channels: int,
            whatsapp_credentials: dict[str, str] | None = None) -> Setup:
    from tertulia.channels.service import create_channel
    from tertulia.kit.crypto import SecretBox
    from tertulia.tenancy.service import create_api_token, create_tenant

    box = SecretBox(SECRET)

    async def fill(session: AsyncSession) -> Setup:
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
        verify = ""
        if whatsapp_credentials:
            channel, _ = await create_channel(session, box, tenant.id, "whatsapp_cloud", "WhatsApp",
                                              credentials=whatsapp_credentials)
            whatsapp.append((str(channel.id), whatsapp_credentials["phone_number_id"]))
            verify = channel.verify_token or ""
        _, api_token = await create_api_token(session, tenant, "bench")
        assert token is not None
        return Setup(str(api.id), token, whatsapp, api_token, verify)

    return prepare_database(database_url, data_dir, SECRET, fill)


@contextmanager
def serve(database_url: str, data_dir: Path, log: Path,
          extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "TERTULIA_DATABASE_URL": database_url, "TERTULIA_SECRET_KEY": SECRET,
           "TERTULIA_DATA_DIR": str(data_dir), "TERTULIA_LOG_LEVEL": "warning", **(extra_env or {})}
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "tertulia"), "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(proc, f"http://127.0.0.1:{port}", 60, what=f"tertulia serve (log: {log})")
            yield f"http://127.0.0.1:{port}", proc.pid
        finally:
            stop_process(proc)


def profile(pid: int, seconds: int) -> None:
    """With BENCH_PROFILE=<file>: sample the server with py-spy while it is measured."""
    if os.environ.get("BENCH_PROFILE"):
        subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "-p", str(pid), "-o",
                          os.environ["BENCH_PROFILE"], "-f", "raw", "-d", str(seconds), "-n"])


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
    with (tempfile.TemporaryDirectory(prefix="tertulia-bench-wa-") as tmp,
          scratch_pg_database("tertulia_bench_wa") as url):
        setup = prepare(url, Path(tmp), args.channels)
        with serve(url, Path(tmp), Path(tmp) / "serve.log") as (base_url, pid):
            profile(pid, int(args.seconds * 3))
            print(f"intake on PostgreSQL, {os.cpu_count()} cores: {args.seconds:g} s per rate after "
                  f"{args.warmup:g} s of warm-up; ack = the 200/202, sent once the message is committed")
            print(f"{'target':<34}{'rate/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'load':>6}"
                  f"{'stolen':>8}{'cpu ms/msg':>11}")
            best: dict[str, float] = {}
            names = {"api": "api channel (inbound API)", "webhook": "webhook, one channel",
                     "spread": f"webhook, {args.channels} channels"}
            for target in args.targets.split(","):
                name = names[target]
                for rate in rates:
                    warm = int(rate * args.warmup)
                    requests = requests_for(target, setup, f"{target}{rate:g}", warm + int(rate * args.seconds))
                    ticks, cpu = cpu_ticks(), _process_cpu(pid)
                    parent, child = multiprocessing.Pipe(duplex=False)
                    sender = multiprocessing.Process(target=sender_main, args=(base_url, requests, rate, warm, child))
                    sender.start()
                    result = parent.recv()
                    sender.join()
                    busy = _process_cpu(pid) - cpu  # the server's CPU over the run, warm-up included
                    ms = sorted(s * 1000 for s in result["latencies"])
                    p99 = percentile(ms, 99)
                    print(f"{name:<34}{rate:>8g}{percentile(ms, 50):>9.1f}{percentile(ms, 95):>9.1f}{p99:>9.1f}"
                          f"{result['error_count']:>8}{os.getloadavg()[0]:>6.1f}"
                          f"{stolen_pct(ticks, cpu_ticks()):>7.1f}%{busy / len(requests) * 1000:>11.2f}")
                    if result["errors"]:
                        print("   e.g.", result["errors"][:3])
                    if p99 < 50 and not result["error_count"]:
                        best[name] = max(best.get(name, 0.0), rate)
            for name, rate in best.items():
                print(f"highest rate with ack p99 < 50 ms, {name}: {rate:g}/s")


def bench_delivery(args: argparse.Namespace) -> None:
    from tertulia.sandbox.traffic import SandboxConfig

    rounds = -(-args.messages // args.recipients)
    credentials = {"phone_number_id": "109000000000001", "waba_id": "2000000",
                   "access_token": "EAAGbench" + "t" * 24, "app_secret": APP_SECRET}
    with (tempfile.TemporaryDirectory(prefix="tertulia-bench-wa-") as tmp,
          scratch_pg_database("tertulia_bench_wa") as url,
          SandboxServer(SandboxConfig(auto_status=args.statuses)) as sandbox):
        setup = prepare(url, Path(tmp), 0, whatsapp_credentials=credentials)
        env = {"TERTULIA_META_GRAPH_URL": sandbox.graph_url, "TERTULIA_DELIVERY_CHANNEL_RATE": str(args.channel_rate),
               "TERTULIA_DELIVERY_SPACING": str(args.spacing), "TERTULIA_DELIVERY_RETRY_SECONDS": "0.5"}
        with serve(url, Path(tmp), Path(tmp) / "serve.log", env) as (base_url, pid):
            asyncio.run(_deliver(args, setup, credentials, sandbox, base_url, pid, rounds, url))


async def in_parallel(calls: list[Callable[[], Awaitable[None]]], width: int) -> None:
    gate = asyncio.Semaphore(width)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(c) for c in calls))


async def _deliver(args: argparse.Namespace, setup: Setup, credentials: dict[str, str], sandbox: SandboxServer,
                   base_url: str, pid: int, rounds: int, database_url: str) -> None:
    channel_id, phone_id = setup.whatsapp[0]
    customers = [f"3460{n:07d}" for n in range(args.recipients)]
    async with httpx2.AsyncClient(base_url=sandbox.url, timeout=30) as control, \
            httpx2.AsyncClient(base_url=base_url, timeout=120,
                               headers={"Authorization": f"Bearer {setup.api_token}"}) as api:
        registered = await control.post("/_sandbox/channels", json={
            "kind": "whatsapp_cloud", "webhook_url": f"{base_url}/webhooks/{channel_id}",
            "verify_token": setup.verify_token, **credentials})
        assert registered.status_code == 201, registered.text
        print(f"delivery on PostgreSQL, {os.cpu_count()} cores: {args.recipients} recipients, {args.messages} "
              f"messages; channel rate {args.channel_rate:g}/s, spacing {args.spacing:g} s, "
              f"{args.failures:.0%} of sends answered 429/5xx, statuses {'on' if args.statuses else 'off'}")

        started = time.monotonic()

        def customer_writes(customer: str) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                r = await control.post("/_sandbox/messages", json={"channel": phone_id, "from": customer,
                                                                   "name": f"Cliente {customer[-4:]}", "text": "Hola"})
                assert r.status_code == 200 and r.json()["delivery"]["attempts"][-1]["status"] == 200, r.text
            return call

        await in_parallel([customer_writes(c) for c in customers], 16)
        print(f"  {args.recipients} customers wrote (signed webhooks): {time.monotonic() - started:.1f} s")
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT c.id, i.external_id FROM conversations c JOIN contact_identities i "
                                "ON i.contact_id = c.contact_id AND i.channel_id = c.channel_id").fetchall()
        conversation_of = {external: str(conv) for conv, external in rows}
        assert set(customers) <= set(conversation_of), "some customers have no conversation"

        r = await control.put("/_sandbox/failures/rate", json={"rate": args.failures, "kinds": ["429", "5xx"]})
        assert r.status_code == 200, r.text
        ticks, cpu = cpu_ticks(), _process_cpu(pid)
        profile(pid, 30)
        queue_started = time.monotonic()
        queued: list[tuple[str, int]] = []  # (recipient, round) in the order queued

        def queue(customer: str, round_: int) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                r = await api.post(f"/admin/chats/{conversation_of[customer]}/messages",
                                   json={"message": f"mensaje {round_}"})
                assert r.status_code == 202, r.text
            return call

        total = 0
        for round_ in range(rounds):
            batch = customers[: args.messages - total]
            await in_parallel([queue(c, round_) for c in batch], 16)
            queued += [(c, round_) for c in batch]
            total += len(batch)
        queue_seconds = time.monotonic() - queue_started
        print(f"  {total} messages queued through the API in {queue_seconds:.1f} s ({total / queue_seconds:.0f}/s)")

        deadline = time.monotonic() + max(120.0, 3 * total / args.channel_rate + rounds * args.spacing)
        while time.monotonic() < deadline:
            with psycopg.connect(database_url) as conn:
                waiting = conn.execute("SELECT count(*) FROM messages WHERE direction = 'outbound' "
                                       "AND status IN ('queued', 'sending')").fetchone()
            if waiting is not None and waiting[0] == 0:
                break
            await asyncio.sleep(1.0)
        ended = time.monotonic()
        busy, machine = _process_cpu(pid) - cpu, cpu_ticks()
        with psycopg.connect(database_url) as conn:
            statuses: dict[str, int] = dict(conn.execute(
                "SELECT status, count(*) FROM messages WHERE direction = 'outbound' GROUP BY status").fetchall())
        await control.delete("/_sandbox/failures")

    log = sandbox.state.sent_log(phone_id)
    refused = sum(1 for q in sandbox.state.requests if q.get("status") in (429, 500, 502, 503))
    by_recipient: dict[str, list[tuple[float, str]]] = {}
    for m in log:
        by_recipient.setdefault(m.recipient, []).append((m.monotonic, m.text))
    expected: dict[str, list[str]] = {}
    for customer, round_ in queued:
        expected.setdefault(customer, []).append(f"mensaje {round_}")
    out_of_order = twice = lost = too_close = 0
    gaps: list[float] = []
    for customer, wanted in expected.items():
        got = [text for _, text in sorted(by_recipient.get(customer, []))]
        twice += len(got) - len(set(got))
        lost += len(set(wanted) - set(got))
        seen = [t for i, t in enumerate(got) if t not in got[:i]]
        out_of_order += seen != [t for t in wanted if t in seen]
        times = sorted(t for t, _ in by_recipient.get(customer, []))
        steps = [b - a for a, b in itertools.pairwise(times)]
        gaps += steps
        too_close += sum(1 for g in steps if g < args.spacing)
    first, last = log[0].monotonic if log else 0.0, log[-1].monotonic if log else 0.0
    rate = (len(log) - 1) / (last - first) if len(log) > 1 else 0.0
    gaps.sort()
    print(f"  all settled {ended - queue_started:.1f} s after the first was queued; messages by status: {statuses}")
    print(f"  provider accepted {len(log)} sends in {last - first:.1f} s: {rate:.1f} messages/s "
          f"(channel rate {args.channel_rate:g}/s); {refused} sends answered 429/5xx and retried")
    print(f"  per recipient: {out_of_order} out of order, {too_close} gaps under {args.spacing:g} s "
          f"(shortest {gaps[0] if gaps else 0:.2f} s, median {percentile(gaps, 50) if gaps else 0:.2f} s), "
          f"{lost} lost, {twice} sent twice")
    print(f"  server CPU {busy / max(1, len(log)) * 1000:.2f} ms per message (all its work, statuses included); "
          f"load {os.getloadavg()[0]:.1f}, stolen {stolen_pct(ticks, machine):.1f}%")


def _process_cpu(pid: int) -> float:
    """CPU seconds a process has used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="300,600,900,1200", help="messages per second to try, in order")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--channels", type=int, default=20, help="WhatsApp channels for the spread target")
    parser.add_argument("--targets", default="api,webhook,spread", help="api, webhook (one channel), spread")
    parser.add_argument("--delivery", action="store_true", help="run (b), the delivery bench, instead of (a)")
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--channel-rate", type=float, default=100.0, help="TERTULIA_DELIVERY_CHANNEL_RATE")
    parser.add_argument("--spacing", type=float, default=4.0, help="TERTULIA_DELIVERY_SPACING")
    parser.add_argument("--failures", type=float, default=0.05, help="share of sends answered 429/5xx")
    parser.add_argument("--no-statuses", dest="statuses", action="store_false",
                        help="the sandbox sends no sent/delivered webhooks back")
    args = parser.parse_args()
    bench_delivery(args) if args.delivery else bench_intake(args)


if __name__ == "__main__":
    main()
