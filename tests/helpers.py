"""Helpers shared by tests (import them from here; conftest re-exports them)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest
from starlette.routing import BaseRoute

from tertulia.channels.service import create_channel
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.tenancy.service import add_member, create_api_token, create_tenant, create_user

TEST_PASSWORD = "s3cret-test-pass"


@contextmanager
def fresh_database_url(tmp_dir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own, of the kind TERTULIA_TEST_DB names (`sqlite`, the default, or
    `postgresql`): a new SQLite file, or a new PostgreSQL database (on the run's server, fixture
    `pg_admin_url`) dropped at the end."""
    kind = os.environ.get("TERTULIA_TEST_DB", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir / 'test.db'}"
        return
    if kind != "postgresql":
        raise pytest.UsageError("TERTULIA_TEST_DB must be sqlite or postgresql")
    admin_url: str = request.getfixturevalue("pg_admin_url")  # only PostgreSQL runs need the server
    name = f"tertulia_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class TenantCtx:
    id: uuid.UUID
    slug: str
    owner_email: str
    token: str
    channel_id: uuid.UUID
    inbound_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def inbound_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.inbound_token}"}


async def post_inbound(client: httpx2.AsyncClient, t: TenantCtx, text: str = "Hola", *,
                       external_id: str = "cust-1", message_id: str | None = None, name: str | None = "Cliente",
                       phone: str | None = None, **extra: Any) -> httpx2.Response:
    body: dict[str, Any] = {
        "external_message_id": message_id or uuid.uuid4().hex,
        "contact": {"external_id": external_id, **({"name": name} if name else {}), **({"phone": phone} if phone else {})},
        "content": text, **extra,
    }
    return await client.post(f"/api/v1/inbound/{t.channel_id}", json=body, headers=t.inbound_headers)


# What an error body must never show: SQL (uppercase keywords with SQL around them, so that plain
# words do not count), bound parameters, driver and ORM names, stack traces, source paths.
INTERNALS = [
    re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.DOTALL),
    re.compile(r"\[SQL:|\[parameters:|Traceback \(most recent call last\)|File \"|\.py\b|site-packages|/src/|"
               r"psycopg|sqlalchemy|sqlite3|sqlalche\.me|\b\w+(Error|Exception): ", re.IGNORECASE),
]


def internals_in(text: str, *private: str) -> list[str]:
    """The pieces of `text` that give away internals, and any of the `private` values it contains."""
    found = [m.group(0)[:80] for pattern in INTERNALS for m in pattern.finditer(text)]
    return found + [p for p in private if p and p in text]


def iter_routes(routes: list[BaseRoute]) -> list[tuple[str, BaseRoute]]:
    """Every (full path, route) the app serves, through included routers."""
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if hasattr(route, "effective_candidates"):  # an included router
            for candidate in route.effective_candidates():
                if hasattr(candidate, "effective_candidates"):
                    found.extend(iter_routes([candidate]))
                else:
                    found.append((candidate.path, candidate.original_route))
        else:
            found.append((getattr(route, "path", ""), route))
    return found


async def create_test_tenant(db: Database, settings: Settings, slug_prefix: str = "t") -> TenantCtx:
    """A fresh tenant with an owner, an API token and an `api` channel."""
    slug = f"{slug_prefix}-{uuid.uuid4().hex[:10]}"
    async with db.session(cross_tenant="the tests make their tenants") as session:
        tenant = await create_tenant(session, slug, f"Tenant {slug}")
        user = await create_user(session, f"owner@{slug}.test", TEST_PASSWORD, "Owner")
        await add_member(session, tenant, user, "owner")
        _, token = await create_api_token(session, tenant, "tests")
        channel, inbound = await create_channel(session, SecretBox(settings.resolved_secret_key()), tenant.id,
                                                "api", "API", "api-test")
    assert inbound is not None
    return TenantCtx(id=tenant.id, slug=slug, owner_email=user.email, token=token, channel_id=channel.id,
                     inbound_token=inbound)


BOUNDARY = "frontera-de-prueba"


async def multipart_stream(name: str, size: int, piece: bytes, sent: Any = None,
                           field: str = "file") -> AsyncIterator[bytes]:
    """A multipart body with one file of `size` bytes (`piece` repeated), sent in pieces as a
    network would, so that no one holds the whole body; `sent` (a hashlib object) sees its bytes."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    left = size
    while left > 0:
        chunk = piece[:left]
        if sent is not None:
            sent.update(chunk)
        yield chunk
        left -= len(chunk)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART_TYPE = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def open_spools(settings: Settings) -> list[str]:
    """The upload spools this process has open (files under `<data dir>/tmp`, unlinked or not)."""
    spool_dir = str(settings.data_dir / "tmp")
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(spool_dir):
            found.append(target)
    return found
