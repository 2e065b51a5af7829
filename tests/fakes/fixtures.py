"""Pytest fixtures for the fake vendor servers. One server per kind for the whole session (starting
uvicorn costs ~50 ms), reset before each test so scripts and recorded requests never leak."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tertulia.config import Settings
from tertulia.kit import egress
from tertulia.kit.storage import FileStore, create_store
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.s3_server import FakeS3Server


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _fake_anthropic_server() -> Iterator[FakeAnthropicServer]:
    server = FakeAnthropicServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """An OpenAI-compatible server on 127.0.0.1: give `fake_openai.base_url` to the provider."""
    _fake_openai_server.reset()
    yield _fake_openai_server
    _fake_openai_server.reset()


@pytest.fixture
def fake_anthropic(_fake_anthropic_server: FakeAnthropicServer) -> Iterator[FakeAnthropicServer]:
    """An Anthropic Messages API server on 127.0.0.1: give `fake_anthropic.base_url` to the provider."""
    _fake_anthropic_server.reset()
    yield _fake_anthropic_server
    _fake_anthropic_server.reset()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[FakeS3Server]:
    """moto's S3 on 127.0.0.1; each test makes its own bucket (`s3_server.create_bucket()`)."""
    server = FakeS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def file_store(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> FileStore:
    """A file store made as `create_store` makes it, empty: a test taking it runs twice, on a local
    directory and on a fresh bucket (under a prefix, as an operator may set)."""
    if request.param == "local":
        return create_store(settings.model_copy(update={"data_dir": tmp_path}))
    s3: FakeS3Server = request.getfixturevalue("s3_server")
    return create_store(s3.settings(settings, s3.create_bucket(), prefix="tertulia"))


@pytest.fixture
def app_store(app: Any, file_store: FileStore) -> Iterator[FileStore]:
    """`file_store`, holding the app's files for this test."""
    own, app.state.store = app.state.store, file_store
    yield file_store
    app.state.store = own
@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Answers for the names the egress fence resolves: `fake_dns["api.x.test"] = [["127.0.0.1"],
    ["10.0.0.5"]]` answers each list in turn, the last one from then on (a name that rebinds).
    Other names go to the system's resolver."""
    answers: dict[str, list[list[str]]] = {}
    system = egress.resolve

    async def resolve(host: str, port: int) -> list[Any]:
        if host not in answers:
            return await system(host, port)
        queue = answers[host]
        current = queue.pop(0) if len(queue) > 1 else queue[0]
        return [ipaddress.ip_address(a) for a in current]

    monkeypatch.setattr(egress, "resolve", resolve)
    return answers
