"""Settings: the generated secret, the database URL forms, readiness when the database is down."""

from __future__ import annotations

from pathlib import Path

import httpx2

from tertulia.app import create_app
from tertulia.config import Settings
from tertulia.kit.db import async_url


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    again = Settings(data_dir=tmp_path).resolved_secret_key()
    assert first == again and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, secret_key="given-secret").resolved_secret_key() == "given-secret"
    assert Settings(data_dir=tmp_path / "other").resolved_secret_key() != first


def test_database_urls_pick_async_drivers(tmp_path: Path) -> None:
    assert async_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert async_url("postgresql://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert Settings(data_dir=tmp_path).resolved_database_url.endswith("/tertulia.db")


async def test_readyz_fails_when_the_database_does_not_answer(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, database_url="postgresql://postgres@127.0.0.1:1/nowhere",
                              secret_key="x" * 40))
    async with app.router.lifespan_context(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/healthz")).status_code == 200
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
