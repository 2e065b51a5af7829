"""End-to-end harness: a real `tertulia serve` subprocess (its own data directory and database, the
demo tenant loaded with `tertulia migrate && tertulia demo`) driven through a real Chromium (the
`chromium` fixture of tests/servers.py: the system's, or Playwright's own; skipped without one).

The server can be stopped and started again on the same port and database (`E2EServer.restart`),
which the reconnect test uses. Every test gets a fresh browser context already logged in as the
demo owner (one login for the whole run: the login endpoint is rate limited, as it should be)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from tests.servers import free_port

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
TERTULIA = str(Path(sys.executable).parent / "tertulia")
ARTIFACTS = ROOT / "test-artifacts"
DEMO_EMAIL = "ana@cafe-aurora.example"
DEMO_PASSWORD = "nora-demo-2026"
VIEWPORT = {"width": 1440, "height": 900}



def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask a server process to stop (SIGTERM), and kill it if it has not within 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class E2EServer:
    env: dict[str, str]
    port: int
    log_path: Path
    channel_id: str = ""
    inbound_token: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run([TERTULIA, *args], env=self.env, cwd=ROOT, capture_output=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"tertulia {' '.join(args)} failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")
        return done.stdout.decode()

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([TERTULIA, "serve", "--port", str(self.port)], env=self.env, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tertulia serve exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("tertulia serve did not become healthy within 60 s")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
        self.process = None

    def post_inbound(self, text: str, *, external_id: str, name: str | None = None) -> dict[str, Any]:
        """A customer's message through the generic API channel, as an integration would post it."""
        body: dict[str, Any] = {"external_message_id": uuid.uuid4().hex, "content": text,
                                "contact": {"external_id": external_id, **({"name": name} if name else {})}}
        response = httpx2.post(f"{self.url}/api/v1/inbound/{self.channel_id}", json=body, timeout=10,
                               headers={"Authorization": f"Bearer {self.inbound_token}"})
        assert response.status_code in (200, 201, 202), response.text
        result: dict[str, Any] = response.json()
        return result


@contextmanager
def fresh_database(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                   label: str = "e2e") -> Iterator[str]:
    """A database of its own on the run's kind of database (TERTULIA_TEST_DB), dropped afterwards."""
    kind = os.environ.get("TERTULIA_TEST_DB", "sqlite")
    if kind != "postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp(f'{label}-db') / f'{label}.db'}"
        return
    admin_url: str = request.getfixturevalue("pg_admin_url")
    name = f"tertulia_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(tmp_path_factory, request) as url:
        yield url


@pytest.fixture(scope="session")
def e2e_server(chromium: Path, e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    # `chromium` first: without a browser the tests are skipped before a server is started for them.
    if not (ROOT / "web" / "dist" / "index.html").exists():
        if shutil.which("npm") is None:
            pytest.fail("web/dist is missing and npm is not available to build it (run `make install`)")
        subprocess.run(["npm", "run", "build"], cwd=ROOT / "web", check=True, capture_output=True, timeout=300)
    data_dir = tmp_path_factory.mktemp("e2e-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update({
        "TERTULIA_DATA_DIR": str(data_dir), "TERTULIA_DATABASE_URL": e2e_database_url,
        "TERTULIA_SECRET_KEY": "e2e-" + uuid.uuid4().hex, "TERTULIA_LOG_LEVEL": "WARNING",
        "TERTULIA_EGRESS_PUBLIC": "false",  # whatever the browser sets, the server never calls out
        "TERTULIA_EGRESS_ALLOW": "127.0.0.1",  # but reaches the test's own servers on loopback
    })
    server = E2EServer(env=env, port=free_port(), log_path=data_dir / "serve.log")
    server.cli("migrate")
    server.cli("demo")
    created = json.loads(server.cli("channel", "create", "--tenant", "demo", "--kind", "api", "--name", "Pruebas E2E"))
    server.channel_id, server.inbound_token = created["channel_id"], created["inbound_token"]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def browser(e2e_server: E2EServer, chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


@pytest.fixture(scope="session")
async def logged_in_state(browser: Any, e2e_server: E2EServer) -> dict[str, Any]:
    """Cookies of one real login through the page, reused by every test's context."""
    context = await browser.new_context(viewport=VIEWPORT, locale="es-ES")
    page = await context.new_page()
    await page.goto(f"{e2e_server.url}/login")
    await page.get_by_label("Correo electrónico").fill(DEMO_EMAIL)
    await page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url("**/panel_cliente/demo/chat**")
    state: dict[str, Any] = await context.storage_state()
    await context.close()
    return state


@pytest.fixture
async def page(browser: Any, logged_in_state: dict[str, Any], e2e_server: E2EServer) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=VIEWPORT, locale="es-ES", storage_state=logged_in_state)
    context.set_default_timeout(15_000)
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    await pg.goto(f"{e2e_server.url}/panel_cliente/demo/chat")
    yield pg
    await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def api(e2e_server: E2EServer, logged_in_state: dict[str, Any]) -> Iterator[httpx2.Client]:
    """The REST API as the same logged-in owner (to know what the page should show)."""
    cookies = {c["name"]: c["value"] for c in logged_in_state["cookies"]}
    with httpx2.Client(base_url=e2e_server.url, cookies=cookies, timeout=10) as client:
        me = client.get("/api/auth/me").json()
        client.headers["X-CSRF-Token"] = me["csrf_token"]
        yield client


@pytest.fixture
def nora_on_test_channel(api: httpx2.Client, e2e_server: E2EServer) -> dict[str, Any]:
    """The API channel the tests post to is answered by the tenant's assistant (the demo's Nora, or one
    made here with the offline provider and a line of knowledge when the demo has none)."""
    assistants = api.get("/admin/assistants").json()
    assistant = next((a for a in assistants if a["name"] == "Nora"), None)
    if assistant is None:
        created = api.post("/admin/assistants", json={"name": "Nora", "provider": "offline", "debounce_seconds": 0.3})
        assert created.status_code == 201, created.text
        assistant = created.json()
    knowledge = api.post(f"/admin/assistants/{assistant['id']}/knowledge", json={
        "title": "Envíos a domicilio", "content": "Hacemos envíos a domicilio en toda la Ciudad de México, "
        "incluida Coyoacán, de 8:00 a 20:00. El pan de muerto se vende en octubre y noviembre."})
    assert knowledge.status_code == 201, knowledge.text
    linked = api.patch(f"/admin/channels/{e2e_server.channel_id}", json={"assistant_id": assistant["id"]})
    assert linked.status_code == 200, linked.text
    return dict(assistant)
