"""The inbound writer's cost per batch, in process: `ingest_batch` called directly on a scratch
PostgreSQL database (api channel, known senders: the steady state), at several batch sizes.

For each size: CPU per message of this process (time.process_time: stable under load, unlike
wall time), wall time per message, and statements per batch (every statement the engine sends,
COMMIT's event writes included; BEGIN and COMMIT themselves are not counted).

    .venv/bin/python bench/inbound_batch.py [--sizes 1,5,20,100] [--messages 600] [--senders 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))
from _common import scratch_pg_database
from whatsapp import prepare

from tertulia.conversations.inbound import InboundDelivery, ingest_batch
from tertulia.conversations.schemas import InboundMessage
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Database


async def measure(url: str, channel: str, token: str, args: argparse.Namespace) -> None:
    db = Database(url, pool_size=2)
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    channel_id, token_hash = uuid.UUID(channel), hash_token(token)

    def batches(size: int, count: int) -> list[list[InboundDelivery]]:
        return [[InboundDelivery(channel_id, InboundMessage.model_validate(
            {"external_message_id": uuid.uuid4().hex, "content": "hola qué tal " * 3,
             "contact": {"external_id": f"s{(b * size + i) % args.senders}", "name": "Cliente"}}), token_hash)
            for i in range(size)] for b in range(count)]

    async def run(batch_list: list[list[InboundDelivery]]) -> None:
        for batch in batch_list:
            async with db.session() as session:
                await ingest_batch(session, batch)

    await run(batches(1, args.senders))  # every sender known, the code warm
    print(f"{'batch size':>10}{'cpu ms/msg':>12}{'wall ms/msg':>13}{'statements/batch':>18}")
    for size in [int(s) for s in args.sizes.split(",")]:
        todo = batches(size, max(10, args.messages // size))
        statements[0] = 0
        cpu, wall = time.process_time(), time.perf_counter()
        await run(todo)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = len(todo) * size
        print(f"{size:>10}{cpu / n * 1000:>12.3f}{wall / n * 1000:>13.3f}{statements[0] / len(todo):>18.1f}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,20,100")
    parser.add_argument("--messages", type=int, default=600, help="messages per batch size")
    parser.add_argument("--senders", type=int, default=50)
    args = parser.parse_args()
    with (tempfile.TemporaryDirectory(prefix="tertulia-bench-batch-") as tmp,
          scratch_pg_database("tertulia_bench_wa") as url):
        setup = prepare(url, Path(tmp), 0)
        asyncio.run(measure(url, setup.api_channel, setup.inbound_token, args))


if __name__ == "__main__":
    main()
