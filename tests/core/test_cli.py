"""The CLI commands scripts rely on, run as real processes against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx2

from tertulia.config import Settings

CLI = [sys.executable, "-m", "tertulia.cli"]


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TERTULIA_DATABASE_URL": settings.resolved_database_url,
           "TERTULIA_DATA_DIR": str(settings.data_dir), "TERTULIA_SECRET_KEY": settings.secret_key or ""}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])


async def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`run_cli` off the event loop: the app's background work (the delivery worker) keeps its
    turns short only while the loop runs; blocked, a transaction it began would hold SQLite's
    writer and the command would wait for it."""
    return await asyncio.to_thread(run_cli, settings, *args)


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    """A first migrate says it created the schema; the next one that there was nothing to do."""
    fresh = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'new.db'}", secret_key="k" * 32)
    first = run_cli(fresh, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"created the database schema in sqlite:///{tmp_path / 'new.db'}: "), first.stdout
    assert int(first.stdout.split(": ")[1].split()[0]) >= 10  # tables
    again = run_cli(fresh, "migrate")
    assert again.returncode == 0 and "already up to date" in again.stdout and "nothing to do" in again.stdout


async def test_cli_creates_what_scripts_need(settings: Settings, client: httpx2.AsyncClient) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    assert (await cli(settings, "migrate")).returncode == 0
    created = await cli(settings, "tenant", "create", slug, "--name", "CLI Co")
    assert created.returncode == 0, created.stderr
    dup = await cli(settings, "tenant", "create", slug, "--name", "CLI Co")
    assert dup.returncode != 0 and dup.stderr.strip().count("\n") == 0 and "already exists" in dup.stderr
    assert (await cli(settings, "tenant", "create", "Bad Slug!", "--name", "x")).returncode != 0

    weak = await cli(settings, "user", "create", "--tenant", slug, "--email", f"o@{slug}.test", "--password", "123",
                   "--role", "owner")
    assert weak.returncode != 0 and "password" in weak.stderr
    unknown = await cli(settings, "user", "create", "--tenant", "no-such-tenant", "--email", "x@y.test",
                      "--password", "long-enough-pass", "--role", "owner")
    assert unknown.returncode != 0 and "no tenant" in unknown.stderr
    bad_role = await cli(settings, "user", "create", "--tenant", slug, "--email", "x@y.test",
                       "--password", "long-enough-pass", "--role", "boss")
    assert bad_role.returncode != 0
    ok = await cli(settings, "user", "create", "--tenant", slug, "--email", f"o@{slug}.test",
                 "--password", "long-enough-pass", "--role", "owner")
    assert ok.returncode == 0, ok.stderr

    token_out = await cli(settings, "token", "create", "--tenant", slug, "--name", "ci")
    assert token_out.returncode == 0, token_out.stderr
    token = token_out.stdout.strip().splitlines()[-1]
    channel_out = await cli(settings, "channel", "create", "--tenant", slug, "--kind", "api", "--name", "Shop")
    channel = json.loads(channel_out.stdout.strip().splitlines()[-1])
    assert set(channel) == {"channel_id", "inbound_token"}
    assert (await cli(settings, "channel", "create", "--tenant", slug, "--kind", "telex", "--name", "x")).returncode != 0

    r = await client.post(f"/api/v1/inbound/{channel['channel_id']}",
                          headers={"Authorization": f"Bearer {channel['inbound_token']}"},
                          json={"external_message_id": "1", "contact": {"external_id": "c"}, "content": "desde CLI"})
    assert r.status_code == 202
    rows = (await client.get("/admin/chats/summary", headers={"Authorization": f"Bearer {token}"})).json()
    assert [row["last_message"] for row in rows] == ["desde CLI"]
    assert (await client.get(f"/admin/channels/{channel['channel_id']}", headers={"Authorization": f"Bearer {token}"})
            ).json()["assistant_id"] is None

    # --assistant NAME links the new channel to the tenant's assistant of that name
    made = await client.post("/admin/assistants", headers={"Authorization": f"Bearer {token}"}, json={"name": "Lía"})
    assert made.status_code == 201, made.text
    linked_out = await cli(settings, "channel", "create", "--tenant", slug, "--kind", "api", "--name", "Bot",
                         "--assistant", "Lía")
    assert linked_out.returncode == 0, linked_out.stderr
    linked = json.loads(linked_out.stdout.strip().splitlines()[-1])
    assert (await client.get(f"/admin/channels/{linked['channel_id']}", headers={"Authorization": f"Bearer {token}"})
            ).json()["assistant_id"] == made.json()["id"]
    nobody = await cli(settings, "channel", "create", "--tenant", slug, "--kind", "api", "--name", "x",
                     "--assistant", "Nadie")
    assert nobody.returncode != 0 and nobody.stderr.strip() == f"error: no assistant named 'Nadie' in {slug}"
