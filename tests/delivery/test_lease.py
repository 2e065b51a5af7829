"""A worker that dies mid-send leaves its delivery to another once its lease runs out. Two workers of
their own on a database of their own (no app's worker in between), the first killed while the
receiving end holds its request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tertulia.channels.service import create_channel
from tertulia.cli import do_migrate
from tertulia.conversations.inbound import InboundDelivery, InboundWriter, running_writer
from tertulia.conversations.models import Message
from tertulia.conversations.schemas import InboundContact, InboundMessage
from tertulia.conversations.service import send_human_message
from tertulia.delivery.models import OutboundDelivery
from tertulia.delivery.tasks import DeliveryConfig, DeliveryWorker
from tertulia.kit.background import running
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.kit.ratelimit import RateLimiter
from tertulia.kit.storage import create_store
from tertulia.sandbox.server import SandboxServer
from tertulia.tenancy.service import create_tenant
from tests.delivery.harness import Receiver, eventually, fresh_database, outbound_settings
from tests.fakes.harness import Gate

LEASE = 1.5


async def test_a_killed_workers_delivery_goes_once_its_lease_runs_out(
        tmp_path: Path, request: pytest.FixtureRequest, out_sandbox: SandboxServer, out_receiver: Receiver) -> None:
    url, drop = fresh_database(tmp_path, request, "lease")
    settings = outbound_settings(url, tmp_path / "data", out_sandbox)
    await asyncio.to_thread(do_migrate, settings)
    db = Database(settings.resolved_database_url, pool_size=5)
    box = SecretBox(settings.resolved_secret_key())
    config = DeliveryConfig(lease_seconds=LEASE, poll_seconds=0.05)
    path = f"lease-{tmp_path.name}"
    try:
        async with db.session(cross_tenant="the test makes its tenant") as session:
            tenant = await create_tenant(session, "lease", "Lease")
            channel, _ = await create_channel(session, box, tenant.id, "api", "API", "api",
                                              {"outbound_secret": "firma-secreta"})
            channel.outbound_url = out_receiver.url(path)
        async with running_writer(InboundWriter(db, after_store=[], writers=1)) as writer:
            stored = await writer.submit(InboundDelivery(channel.id, InboundMessage(
                external_message_id="m-1", contact=InboundContact(external_id="cliente-1"), content="Hola")))
        held = Gate()
        out_receiver.holds[f"/{path}"] = [held]

        def worker() -> DeliveryWorker:
            return DeliveryWorker(db, box, create_store(settings), RateLimiter(None), settings, config)

        first = worker()
        loop = asyncio.create_task(first.run())
        async with db.session(tenant.id) as session:
            _, message = await send_human_message(session, tenant.id, stored.conversation_id, None, "¿Sigues ahí?")
        await held.wait_reached()  # the first worker's POST is at the receiver, unanswered
        claimed_at = time.monotonic()
        # The first worker dies: its loop and its send stop where they are, nothing more is written.
        for task in [loop, *first._running]:
            task.cancel()
        await asyncio.gather(loop, *first._running, return_exceptions=True)
        held.release()
        async with db.read_session(tenant.id) as session:
            row = (await session.execute(select(OutboundDelivery).where(
                OutboundDelivery.tenant_id == tenant.id, OutboundDelivery.message_id == message.id))).scalar_one()
        assert row.state == "sending" and row.attempts == 1  # held by a worker nobody will hear from again

        async with running(worker(), "delivery-worker"):
            async def sent() -> Any:
                async with db.read_session(tenant.id) as session:
                    found = (await session.execute(select(Message.status).where(
                        Message.tenant_id == tenant.id, Message.id == message.id))).scalar_one()
                return found == "sent"

            await eventually(sent, within=10, what="the second worker to send it")
        posts = out_receiver.posts(path)
        assert len(posts) == 2 and posts[0].body == posts[1].body  # the same message, tried again
        assert posts[1].at - claimed_at >= LEASE - 0.2  # not before the dead worker's lease ran out
        assert posts[1].headers["x-tertulia-attempt"] == "2"
    finally:
        await db.dispose()
        drop()
