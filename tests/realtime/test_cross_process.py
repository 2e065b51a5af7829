"""Two `tertulia serve` processes on one PostgreSQL and one Redis: an event written by one reaches
sockets on both, once each and in sequence order."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from redis.asyncio import Redis

from tertulia.config import Settings
from tests.helpers import TenantCtx, post_inbound
from tests.realtime.conftest import LiveServer, frames_until, is_message, login_cookie, next_frame, open_socket
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _open_log(log: Path) -> Any:
    return log.open("wb")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_ready(base_url: str, proc: asyncio.subprocess.Process, log: Path, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx2.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"tertulia serve exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"tertulia serve not ready within {deadline_s} s:\n{_tail(log)}")


@pytest.fixture
def redis_prefix() -> str:
    # A channel of our own: other test runs on this Redis never hear our events, nor we theirs.
    return f"tertulia-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def two_servers(settings: Settings, redis_prefix: str, tmp_path: Path,
                      request: pytest.FixtureRequest) -> AsyncIterator[list[LiveServer]]:
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("two processes share one database only on PostgreSQL (run with TERTULIA_TEST_DB=postgresql)")
    redis_url: str = request.getfixturevalue("redis_url")  # found or started by tests/servers.py
    redis = Redis.from_url(redis_url, socket_connect_timeout=2)
    env = {**os.environ, "TERTULIA_DATABASE_URL": settings.resolved_database_url, "TERTULIA_REDIS_URL": redis_url,
           "TERTULIA_REDIS_PREFIX": redis_prefix, "TERTULIA_SECRET_KEY": settings.resolved_secret_key(),
           "TERTULIA_DATA_DIR": str(tmp_path / "data"), "TERTULIA_LOG_LEVEL": "warning",
           "TERTULIA_DB_POOL_SIZE": "5"}
    exe = Path(sys.executable).parent / "tertulia"
    procs: list[tuple[asyncio.subprocess.Process, Path, Any]] = []
    servers: list[LiveServer] = []
    try:
        for i in range(2):
            port = free_port()
            log = tmp_path / f"serve-{i}.log"
            fh = _open_log(log)
            proc = await asyncio.create_subprocess_exec(str(exe), "serve", "--port", str(port), env=env, cwd=ROOT,
                                                        stdout=fh, stderr=subprocess.STDOUT)
            procs.append((proc, log, fh))
            servers.append(LiveServer(base_url=f"http://127.0.0.1:{port}", host=f"127.0.0.1:{port}"))
        for (proc, log, _), server in zip(procs, servers, strict=True):
            await _wait_ready(server.base_url, proc, log)
        # Ready also means both listen on Redis: wait until the channel has its two subscribers.
        channel = f"{redis_prefix}:events"
        deadline = time.monotonic() + 30
        while dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) < 2:
            assert time.monotonic() < deadline, "the servers did not subscribe to Redis"
            await asyncio.sleep(0.05)
        yield servers
    finally:
        await redis.aclose()
        for proc, _, _ in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc, _, fh in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            fh.close()


async def test_an_inbound_message_posted_to_one_process_reaches_a_socket_on_the_other(
        two_servers: list[LiveServer], make_tenant: Any) -> None:
    a, b = two_servers
    t: TenantCtx = await make_tenant("xproc")
    cookie = await login_cookie(a.base_url, t)
    on_a = await open_socket(a, cookie)
    on_b = await open_socket(b, cookie)
    head = (await next_frame(on_a))["seq"]
    assert (await next_frame(on_b))["seq"] == head

    async with httpx2.AsyncClient(base_url=a.base_url, timeout=10) as http_a, \
            httpx2.AsyncClient(base_url=b.base_url, timeout=10) as http_b:
        response = await post_inbound(http_a, t, "Hola desde el proceso A")
        assert response.status_code == 202, response.text
        frames = await frames_until(on_b, is_message("Hola desde el proceso A"))
        assert frames[-1]["seq"] == head + 1

        # Writes on both processes: each socket sees every event exactly once, in order.
        for i, http in enumerate((http_b, http_a, http_b)):
            assert (await post_inbound(http, t, f"mensaje {i}")).status_code == 202
    expected = list(range(head + 1, head + 9))  # 4 messages, 2 events each
    seen_a = [f["seq"] for f in await frames_until(on_a, lambda f: f.get("seq") == expected[-1], within=15)]
    seen_b = [frames[-1]["seq"]] + [
        f["seq"] for f in await frames_until(on_b, lambda f: f.get("seq") == expected[-1], within=15)]
    assert seen_a == expected
    assert seen_b == expected
    await on_a.close()
    await on_b.close()
