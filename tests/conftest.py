"""Test harness: the whole suite runs against a real database, chosen by TERTULIA_TEST_DB
(`sqlite`, the default, or `postgresql`). Each run gets a database of its own (a fresh SQLite file,
or a new PostgreSQL database dropped at the end), so runs never see each other's rows. Tests do
not share tenants: each one makes its own with the factories below."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tertulia.app import create_app
from tertulia.cli import do_migrate
from tertulia.config import Settings
from tertulia.kit.db import Database
from tertulia.sandbox.server import SandboxServer
from tertulia.sandbox.traffic import SandboxConfig
from tertulia.sandbox.webhooks import RetryPolicy
from tests.helpers import TEST_PASSWORD, TenantCtx, create_test_tenant, fresh_database_url, post_inbound

__all__ = ["TEST_PASSWORD", "TenantCtx", "post_inbound"]

# Fake LLM vendor servers on 127.0.0.1 (fixtures `fake_openai`, `fake_anthropic`); PostgreSQL, Redis
# and Chromium found or started for the run (fixtures `pg_admin_url`, `redis_url`, `chromium`); the
# outbound tests' own Tertulia sending to a provider sandbox (`out_app`, `out_sandbox`...).
pytest_plugins = ["tests.fakes.fixtures", "tests.servers", "tests.delivery.harness"]

# Tenant-chosen URLs may reach the loopback servers tests start and nothing else: never a public
# address, whatever a test (or a fuzzer) sets (kit/egress.py). Set in the environment so that
# providers built without the app and the servers tests start as processes are fenced the same way.
os.environ["TERTULIA_EGRESS_ALLOW"] = "127.0.0.1"
os.environ["TERTULIA_EGRESS_PUBLIC"] = "false"


def pytest_report_header(config: pytest.Config) -> str:
    return f"tertulia test database: {os.environ.get('TERTULIA_TEST_DB', 'sqlite')}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database_url(tmp_path_factory.mktemp("db"), request) as url:
        yield url


@pytest.fixture(scope="session")
def provider_sandbox() -> Iterator[SandboxServer]:
    """Meta's Graph API and YCloud's API (the provider sandbox) on 127.0.0.1 for the whole run: the
    app's provider URLs point here, so no test ever reaches the real providers. Tests register
    channels of their own in it; statuses come only when asked."""
    config = SandboxConfig(auto_status=False, status_delays=(0.02, 0.05), async_failure_delay=0.01,
                           retry=RetryPolicy(attempts=3, delays=(0.05, 0.2), timeout=5))
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, provider_sandbox: SandboxServer) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    s = Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret-" + uuid.uuid4().hex,
                 TESTING=True, inline_worker=True, db_pool_size=20,
                 # every test logs in from the same address; the per-email limit is what tests exercise
                 login_limit_per_address="10000/minute",
                 meta_graph_url=provider_sandbox.graph_url, ycloud_api_url=provider_sandbox.ycloud_url)
    do_migrate(s)
    return s


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def db(app: Any) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def make_tenant(db: Database, settings: Settings) -> Any:
    """Create a fresh tenant with an owner, an API token and an `api` channel."""

    async def factory(slug_prefix: str = "t") -> TenantCtx:
        return await create_test_tenant(db, settings, slug_prefix)

    return factory


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
