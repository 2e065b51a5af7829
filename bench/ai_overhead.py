"""What the AI engine adds on top of the model: with an instant fake provider (no network, no
thinking), measure

1. commit → provider request: from the commit of the inbound message's transaction to the
   moment the provider is called (debounce 0, so this is the engine alone: wake-up, claim with a
   lease, context read, knowledge retrieval, prompt assembly);
2. per streamed delta: the time the engine's delta callback takes, per delta;
3. commit → reply committed (for context): the whole turn with an instant model, including the
   posting transaction that re-checks ownership and writes the message, its delivery row and the
   trace;
4. what does not move with the machine's load: this process's CPU time from the commit to the
   provider request, and the SQL statements sent meanwhile (`--show-sql` prints the last turn's).

The app runs in this process (the in-process worker of `tertulia serve`), driven through its ASGI
interface, because the instants measured are internal ones. Targets: p95 of (1) under 20 ms and
of (2) under 1 ms.

    .venv/bin/python bench/ai_overhead.py                         # SQLite in a scratch directory
    .venv/bin/python bench/ai_overhead.py --database postgresql   # a scratch PostgreSQL database
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
import structlog
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stats, pg_create_database, pg_drop_database, scratch_pg_url

from tertulia.app import create_app
from tertulia.assistants import repository as ai_repo
from tertulia.assistants.orchestrator import Orchestrator, RunState
from tertulia.assistants.providers import provider_overrides
from tertulia.assistants.providers.base import ProviderRequest, ProviderResult, StreamDelta
from tertulia.assistants.repository import ClaimedJob
from tertulia.channels.service import create_channel
from tertulia.cli import do_migrate
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import after_commit
from tertulia.tenancy.service import create_api_token, create_tenant

DELTAS_PER_REPLY = 100


class InstantProvider:
    """Answers at once, streaming a reply in many small deltas, and times the engine's callback."""

    name = "instant"

    def __init__(self) -> None:
        self.requested_at: list[float] = []
        self.requested_cpu: list[float] = []
        self.delta_costs: list[float] = []
        self.calls = asyncio.Event()

    async def complete(self, request: ProviderRequest, on_delta: Any = None) -> ProviderResult:
        self.requested_at.append(time.perf_counter())
        self.requested_cpu.append(time.process_time())
        words = [f"palabra{i} " for i in range(DELTAS_PER_REPLY)]
        if on_delta is not None:
            for w in words:
                start = time.perf_counter()
                await on_delta(StreamDelta(text=w))
                self.delta_costs.append(time.perf_counter() - start)
        self.calls.set()
        return ProviderResult(text="".join(words).strip(), tokens_in=50, tokens_out=DELTAS_PER_REPLY, model="instant")


class Breakdown:
    """Instants of each turn inside the engine, keyed by the turn's message id: when the worker
    started the claim, when the turn began (its claim committed), when the context was read."""

    def __init__(self) -> None:
        self.claim_started: dict[int, float] = {}
        self.claimed: dict[int, float] = {}
        self.loaded: dict[int, float] = {}

    def install(self) -> None:
        claim, run_job, load = ai_repo.claim_jobs, Orchestrator.run_job, Orchestrator._load

        async def timed_claim(*args: Any, **kwargs: Any) -> list[ClaimedJob]:
            started = time.perf_counter()
            jobs = await claim(*args, **kwargs)
            for job in jobs:
                self.claim_started[job.turn_message_id] = started
            return jobs

        async def timed_run_job(engine: Orchestrator, job: ClaimedJob) -> str:
            self.claimed[job.turn_message_id] = time.perf_counter()
            return await run_job(engine, job)

        async def timed_load(engine: Orchestrator, job: ClaimedJob, state: RunState) -> Any:
            result = await load(engine, job, state)
            self.loaded[job.turn_message_id] = time.perf_counter()
            return result

        ai_repo.claim_jobs = timed_claim  # the worker calls it through this module
        Orchestrator.run_job = timed_run_job  # type: ignore[method-assign, assignment]
        Orchestrator._load = timed_load  # type: ignore[method-assign, assignment]


async def run(database_url: str, data_dir: Path, turns: int, warmup: int, show_sql: bool = False) -> None:
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="bench-" + uuid.uuid4().hex,
                        inline_worker=True, log_level="warning")
    do_migrate(settings)
    app = create_app(settings)
    provider = InstantProvider()
    breakdown = Breakdown()
    breakdown.install()
    committed_at: dict[int, float] = {}
    committed_cpu: dict[int, float] = {}
    measured: list[tuple[int, float]] = []
    statements: list[tuple[float, str]] = []

    async def stamp_commit(session: Any, stored: Any) -> None:
        message_ids = [s.message.id for s in stored]

        async def stamp() -> None:
            for message_id in message_ids:
                committed_at[message_id] = time.perf_counter()
                committed_cpu[message_id] = time.process_time()

        after_commit(session, stamp)

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # keep the output to figures

    load_before = os.getloadavg()[0]
    async with app.router.lifespan_context(app):
        # First among the inbound path's hooks, so its after-commit callback runs before anything
        # else after COMMIT.
        app.state.inbound_writer.after_store.insert(0, stamp_commit)
        db = app.state.db
        _record_statements(db, statements)
        async with db.session(cross_tenant="the bench makes its tenant") as session:
            tenant = await create_tenant(session, f"bench-{uuid.uuid4().hex[:8]}", "Bench")
            _, token = await create_api_token(session, tenant, "bench")
            channel, inbound = await create_channel(session, SecretBox(settings.resolved_secret_key()), tenant.id,
                                                    "api", "API", "bench")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://bench") as client:
            r = await client.post("/admin/assistants", json={"name": "Nora", "provider": "openai", "model": "instant",
                                                             "debounce_seconds": 0}, headers=auth)
            assistant_id = r.json()["id"]
            provider_overrides[uuid.UUID(assistant_id)] = lambda _a: provider
            await client.patch(f"/admin/channels/{channel.id}", json={"assistant_id": assistant_id}, headers=auth)
            for i in range(3):
                await client.post(f"/admin/assistants/{assistant_id}/knowledge", headers=auth, json={
                    "title": f"Tema {i}", "content": f"Información sobre envíos, horarios y precios número {i}."})

            sub = app.state.bus.subscribe(tenant.id, maxsize=100_000)
            to_provider: list[float] = []
            to_reply: list[float] = []
            cpu: list[float] = []
            for i in range(warmup + turns):
                provider.calls.clear()
                before = len(provider.requested_at)
                r = await client.post(f"/api/v1/inbound/{channel.id}", headers={"Authorization": f"Bearer {inbound}"},
                                      json={"external_message_id": uuid.uuid4().hex,
                                            "contact": {"external_id": f"c{i % 50}", "name": f"Cliente {i % 50}"},
                                            "content": "¿Cuánto cuesta el envío y cuál es el horario?"})
                message_id = r.json()["message_id"]
                await asyncio.wait_for(provider.calls.wait(), 10)
                reply_at = await _wait_reply(sub, message_id)
                if i >= warmup:
                    measured.append((message_id, provider.requested_at[before]))
                    to_provider.append(provider.requested_at[before] - committed_at[message_id])
                    to_reply.append(reply_at - committed_at[message_id])
                    cpu.append(provider.requested_cpu[before] - committed_cpu[message_id])
            deltas = provider.delta_costs[warmup * DELTAS_PER_REPLY:]

    print(f"database: {database_url.split(':', 1)[0]}   turns: {turns}   deltas per reply: {DELTAS_PER_REPLY}   "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores)")
    _line("commit → provider request", Stats.of(to_provider), target=20.0)
    _line("engine time per streamed delta", Stats.of(deltas), target=1.0, precision=4)
    _line("commit → reply committed (context)", Stats.of(to_reply))
    # Load-independent: this process's CPU time (all threads, the SQLite driver's included) and the
    # statements sent between the commit and the provider request.
    _line("CPU time commit → provider request", Stats.of(cpu))
    last_id, last_at = measured[-1]
    path = [sql for at, sql in statements if committed_at[last_id] < at < last_at]
    counts = sorted(sum(committed_at[m] < at < req for at, _ in statements) for m, req in measured)
    print(f"SQL statements commit → provider request: {counts[len(counts) // 2]} (median turn; "
          f"min {counts[0]}, max {counts[-1]})")
    if show_sql:
        for sql in path:
            print("   ", " ".join(sql.split())[:150])
    print("where commit → provider request goes:")
    b = breakdown
    _line("  commit → worker starts the claim", Stats.of([b.claim_started[m] - committed_at[m] for m, _ in measured]))
    _line("  claim (one write transaction)", Stats.of([b.claimed[m] - b.claim_started[m] for m, _ in measured]))
    _line("  context read (three reads)", Stats.of([b.loaded[m] - b.claimed[m] for m, _ in measured]))
    _line("  prompt → provider called", Stats.of([at - b.loaded[m] for m, at in measured]))


def _record_statements(db: Any, into: list[tuple[float, str]]) -> None:
    """Note every statement sent to the database (the BEGIN and COMMIT that psycopg sends by
    itself are not counted)."""
    for engine in {db.engine, db.read_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda _c, _cur, sql, *_a: into.append((time.perf_counter(), sql)))


async def _wait_reply(sub: Any, message_id: int) -> float:
    """Wait for the AI reply's `message.created` event on the live feed; returns when it came."""
    while True:
        event = await asyncio.wait_for(sub.get(), 10)
        data = event.get("data", {}) if isinstance(event, dict) else {}
        if event.get("type") == "message.created" and data.get("author") == "ai" and data.get("id", 0) > message_id:
            return time.perf_counter()


def _line(label: str, s: Stats, *, target: float | None = None, precision: int = 2) -> None:
    verdict = "" if target is None else f"   target p95 < {target:g} ms: {'met' if s.p95_ms < target else 'MISSED'}"
    f = f".{precision}f"
    print(f"{label:<38} p50 {s.p50_ms:{f}} ms   p95 {s.p95_ms:{f}} ms   max {s.max_ms:{f}} ms   (n={s.n}){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--show-sql", action="store_true", help="print the statements of the last turn's path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tertulia-bench-ai-") as tmp:
        data_dir = Path(tmp)
        if args.database == "sqlite":
            asyncio.run(run(f"sqlite:///{data_dir / 'bench.db'}", data_dir, args.turns, args.warmup, args.show_sql))
            return
        url = scratch_pg_url("tertulia_bench_ai")
        pg_create_database(url)
        try:
            asyncio.run(run(url, data_dir, args.turns, args.warmup, args.show_sql))
        finally:
            pg_drop_database(url)


if __name__ == "__main__":
    main()
