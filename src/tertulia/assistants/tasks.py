"""The AI worker: claims due turns from the durable job table and runs them.

It runs inside `tertulia serve` (the embedded default, `inline_worker`) and as `tertulia worker`
processes; any number of them share the table. In-process it is woken right after an inbound
message commits; otherwise it polls. A worker that dies mid-turn leaves its lease to expire, and
another worker takes the turn over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from tertulia.assistants import repository as repo
from tertulia.assistants.orchestrator import EngineConfig, Orchestrator, ReplyStream
from tertulia.kit.background import ClaimingWorker
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, utcnow

log = structlog.get_logger("tertulia.assistants.worker")

# A worker serves every tenant: it finds and claims due turns across them, then runs each turn as
# its tenant.
CLAIMS_CROSS_TENANTS = "a worker claims due turns of every tenant"


class AiWorker(ClaimingWorker):
    label = "ai_worker"

    def __init__(self, db: Database, secret_box: SecretBox, *, config: EngineConfig | None = None,
                 concurrency: int = 8, poll_seconds: float = 1.0, stream: ReplyStream | None = None) -> None:
        super().__init__(log, concurrency=concurrency, poll_seconds=poll_seconds)
        self.db = db
        self.orchestrator = Orchestrator(db, secret_box, config, stream)

    @property
    def config(self) -> EngineConfig:
        return self.orchestrator.config

    async def _next_due(self) -> datetime | None:
        async with self.db.read_session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            return await repo.next_wake_at(session)

    async def _claim(self, free: int, hinted: bool) -> tuple[int, datetime | None]:
        async with self.db.session(cross_tenant=CLAIMS_CROSS_TENANTS) as session:
            jobs = await repo.claim_jobs(session, utcnow(), timedelta(seconds=self.config.lease_seconds), free)
        for job in jobs:
            self._start(self.orchestrator.run_job(job), f"ai-turn-{job.id}")
        # After announced work the next announcement or poll says what is due: a read now would run
        # beside the turns just started, on their way to the model.
        return len(jobs), None if hinted or len(jobs) == free else await self._next_due()
