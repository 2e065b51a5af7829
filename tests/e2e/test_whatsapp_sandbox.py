"""WhatsApp end to end in Chromium, as `make run SANDBOX=1` sets it up: a `tertulia serve` whose
provider URLs point at `tertulia sandbox --demo` (both real processes), the sandbox's customer phone
page in one tab and the inbox in another.

A customer writes on the phone; the signed webhook brings it to the inbox; Nora answers; her reply
goes out through the delivery worker and shows delivered, then read once the customer reads it on
the phone. A person takes over and writes; the phone gets it. The customer's photo and voice note
are copied from the provider and shown. A customer whose 24-hour window has closed gets a template
chosen, filled in and sent from the picker. Screenshots of each step at
1440×900 and 390×844 are left in test-artifacts/.

NEEDS THE WHOLE OF ISSUE 11: the webhooks (`/webhooks/{channel}`), the delivery worker and the
template endpoints (`/admin/templates/sync`, `/admin/templates/send`) are built beside the panel;
until the server has them this test is skipped with that reason, and it runs as soon as they are
merged.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import (
    ARTIFACTS,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ROOT,
    TERTULIA,
    E2EServer,
    fresh_database,
    stop_process,
)
from tests.servers import free_port

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
NEEDED_ROUTES = ("/webhooks/{channel_id}", "/admin/templates/sync", "/admin/templates/send")
CUSTOMER, CUSTOMER_NAME = "34600111222", "Lucía Martín"  # the phone page's own customer
LATE_CUSTOMER, LATE_NAME = "34600999888", "Pedro Gil"


def wait_until(what: str, check: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            found = check()
        except httpx2.HTTPError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:.0f} s")
        time.sleep(0.1)


class SandboxRun:
    """`tertulia sandbox --demo` as a process, beside the server."""

    def __init__(self, env: dict[str, str], log: Path, tertulia_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        out = log.open("ab")
        self.process = subprocess.Popen(
            [TERTULIA, "sandbox", "--demo", "--port", str(self.port), "--tertulia-url", tertulia_url],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_until("the sandbox with the demo's two numbers (and its Messenger and Instagram pages)",
                   lambda: self.process.poll() is None and len(httpx2.get(f"{self.url}/_sandbox/channels",
                                                                          timeout=1).json()) == 4, 60)
        if self.process.poll() is not None:
            raise RuntimeError(f"tertulia sandbox exited:\n{log.read_text()[-3000:]}")

    def channel(self, kind: str) -> dict[str, Any]:
        channels: list[dict[str, Any]] = httpx2.get(f"{self.url}/_sandbox/channels", timeout=5).json()
        return next(c for c in channels if c["kind"] == kind)

    def thread(self, channel: str, customer: str) -> list[dict[str, Any]]:
        answer = httpx2.get(f"{self.url}/_sandbox/thread", params={"channel": channel, "customer": customer}, timeout=5)
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="module")
def whatsapp(e2e_server: E2EServer, tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[tuple[E2EServer, SandboxRun]]:
    """A server of its own (its own database, the demo loaded), its WhatsApp numbers on a sandbox."""
    routes = httpx2.get(f"{e2e_server.url}/openapi.json", timeout=10).json()["paths"]  # the same code
    missing = [r for r in NEEDED_ROUTES if r not in routes]
    if missing:
        pytest.skip(f"needs the rest of issue 11 (webhooks, delivery worker, templates): {missing} not served yet")
    data_dir = tmp_path_factory.mktemp("e2e-whatsapp")
    with fresh_database(tmp_path_factory, request, "e2e_wa") as database_url:
        env = {**e2e_server.env, "TERTULIA_DATA_DIR": str(data_dir), "TERTULIA_DATABASE_URL": database_url,
               "TERTULIA_DELIVERY_SPACING": "0.5"}  # the seed's 4 s between two messages to one person, shortened
        server = E2EServer(env=env, port=free_port(), log_path=data_dir / "serve.log")
        server.cli("migrate")
        server.cli("demo")
        sandbox = SandboxRun(env, data_dir / "sandbox.log", server.url)
        server.env.update(TERTULIA_META_GRAPH_URL=f"{sandbox.url}/v23.0", TERTULIA_YCLOUD_API_URL=f"{sandbox.url}/v2")
        server.start()
        try:
            yield server, sandbox
        finally:
            server.stop()
            sandbox.stop()


@pytest.fixture
async def tabs(browser: Any, whatsapp: tuple[E2EServer, SandboxRun]) -> AsyncIterator[dict[str, Page]]:
    """The inbox (logged in as the demo owner) and the customer's phone, side by side."""
    server, sandbox = whatsapp
    errors: list[str] = []
    contexts = []
    pages: dict[str, Page] = {}
    for name, size in (("inbox", DESKTOP), ("phone", PHONE)):
        context = await browser.new_context(viewport=size, locale="es-ES")
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages[name] = page
    inbox = pages["inbox"]
    await inbox.goto(f"{server.url}/login")
    await inbox.get_by_label("Correo electrónico").fill(DEMO_EMAIL)
    await inbox.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    await inbox.get_by_role("button", name="Entrar").click()
    await inbox.wait_for_url("**/panel_cliente/demo/chat**")
    await pages["phone"].goto(f"{sandbox.url}/phone")
    yield pages
    for context in contexts:
        await context.close()
    assert not errors, f"uncaught errors in the pages: {errors}"


async def shots(page: Page, name: str) -> None:
    """The page at 1440×900 and at 390×844 (then back), in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("1440", DESKTOP), ("390", PHONE)):
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)  # a layout pass after the resize, nothing to wait on
        await page.screenshot(path=str(ARTIFACTS / f"whatsapp-{name}-{label}.png"))
    if size:
        await page.set_viewport_size(size)


def bubble(page: Page, text: str) -> Any:
    return page.locator(".bubble", has_text=text).last


async def test_customer_ai_human_and_a_template_through_the_sandbox(
        tabs: dict[str, Page], whatsapp: tuple[E2EServer, SandboxRun]) -> None:
    server, sandbox = whatsapp
    inbox, phone = tabs["inbox"], tabs["phone"]
    cloud = sandbox.channel("whatsapp_cloud")

    # 1. A customer writes on the phone: the webhook brings it to the inbox, first in the list.
    await phone.get_by_label("Canal").select_option(cloud["key"])
    await phone.get_by_label("Número o identificador del cliente").fill(CUSTOMER)
    await phone.get_by_label("Nombre del cliente").fill(CUSTOMER_NAME)
    await phone.get_by_label("Mensaje").fill("Hola, ¿a qué hora abren el domingo?")
    await phone.get_by_role("button", name="Enviar").click()
    row = inbox.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(has_text=CUSTOMER_NAME)
    await row.first.click()
    await expect(inbox.get_by_role("heading", level=2, name=CUSTOMER_NAME)).to_be_visible()
    await expect(inbox.locator(".window-chip")).to_contain_text("Ventana de 24 h: quedan 23 h")

    # 2. Nora answers; her reply reaches the phone and shows delivered (✓✓) in the inbox...
    reply = inbox.locator('.bubble[data-author="ai"]').last
    await expect(reply).to_contain_text("domingo", timeout=30_000)
    await expect(reply.locator('[data-status-mark="status.delivered"]')).to_be_visible(timeout=20_000)
    nora_said = (await reply.locator(".bubble-text").inner_text()).strip()
    await expect(phone.locator(".msg.negocio", has_text=nora_said[:40])).to_be_visible()
    await shots(inbox, "delivered")
    # ...and read (blue ✓✓) once the customer reads it on the phone.
    await phone.get_by_role("button", name="✓✓ Marcar como leído").click()
    await expect(reply.locator('[data-status-mark="status.read"]')).to_be_visible(timeout=20_000)
    await shots(inbox, "read")
    await shots(phone, "phone")

    # 3. A person takes over and writes: the AI stays out, the customer gets it.
    await inbox.get_by_role("button", name="Intervenir").click()
    await expect(inbox.get_by_text("Tú tienes el control")).to_be_visible()
    await inbox.get_by_label("Escribe un mensaje").fill("Te atiendo yo, Lucía: el domingo abrimos de 8 a 15 h.")
    await inbox.get_by_label("Escribe un mensaje").press("Enter")
    human = bubble(inbox, "Te atiendo yo, Lucía")
    await expect(human.locator('[data-status-mark="status.delivered"]')).to_be_visible(timeout=20_000)
    await expect(phone.locator(".msg.negocio", has_text="Te atiendo yo, Lucía")).to_be_visible()
    await shots(inbox, "human")

    # 4. The customer sends a photo and a voice note: the media worker copies them from the
    # provider, and the inbox shows the picture and a player where the placeholders were.
    await phone.get_by_role("button", name="📷 Foto").click()
    await phone.get_by_role("button", name="🎤 Nota de voz").click()
    photo = inbox.locator('.bubble[data-kind="image"] .att-image img').last
    await expect(photo).to_be_visible(timeout=20_000)
    assert await photo.evaluate("img => img.complete && img.naturalWidth > 0"), "the photo did not load"
    assert (await photo.get_attribute("src") or "").startswith("/media/")
    voice = inbox.locator('.bubble[data-kind="voice"] audio').last
    await expect(voice).to_have_attribute("src", re.compile(r"^/media/.+\.ogg$"), timeout=20_000)
    await expect(inbox.locator('[data-file="pending"]')).to_have_count(0)
    await shots(inbox, "media")

    # 5. A customer who last wrote 25 hours ago: the window is closed and only a template can go.
    late = httpx2.post(f"{sandbox.url}/_sandbox/messages", timeout=10, json={
        "channel": cloud["key"], "from": LATE_CUSTOMER, "name": LATE_NAME, "type": "text",
        "text": "¿Me guardan un pastel para el sábado?", "timestamp": time.time() - 25 * 3600})
    assert late.status_code == 200 and late.json()["delivery"]["outcome"] == "delivered", late.text
    cookies = {c["name"]: c["value"] for c in await inbox.context.cookies()}
    with httpx2.Client(base_url=server.url, cookies=cookies, timeout=30) as api:
        api.headers["X-CSRF-Token"] = api.get("/api/auth/me").json()["csrf_token"]
        synced = api.post("/admin/templates/sync")
        assert synced.status_code == 200 and synced.json()["synced"] >= 1, synced.text
    # Its last message is a day old: far down the list, found by its name.
    await inbox.get_by_placeholder("Buscar por nombre o número").fill(LATE_NAME)
    row = inbox.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(has_text=LATE_NAME)
    await row.first.click()
    await expect(inbox.get_by_role("heading", level=2, name=LATE_NAME)).to_be_visible()
    await expect(inbox.locator(".window-chip")).to_have_text("Ventana de 24 h cerrada")
    await expect(inbox.get_by_label("Escribe un mensaje")).to_have_count(0)  # no free text
    await inbox.get_by_role("button", name="Enviar una plantilla").click()
    picker = inbox.get_by_role("dialog", name="Plantillas de WhatsApp")
    await picker.get_by_placeholder("Buscar por nombre o texto").fill("cita")
    await picker.locator(".template-item", has_text="recordatorio_cita").click()
    await picker.get_by_label("Parámetro 1").fill("Pedro")
    await picker.get_by_label("Parámetro 2").fill("sábado a las 11:00")
    await expect(picker.locator(".preview-bubble")).to_contain_text(
        "Hola Pedro, te recordamos tu cita del sábado a las 11:00. ¿Nos confirmas?")
    await shots(inbox, "template-picker")
    await picker.get_by_role("button", name="Enviar plantilla").click()
    await expect(picker).to_have_count(0)
    sent = bubble(inbox, "Hola Pedro, te recordamos tu cita")
    await expect(sent).to_contain_text("Plantilla «recordatorio_cita»")
    await expect(sent.locator('[data-status-mark="status.delivered"]')).to_be_visible(timeout=20_000)
    wait_until("the template on Pedro's phone", lambda: any(
        "Hola Pedro" in (m.get("text") or "") for m in sandbox.thread(cloud["key"], LATE_CUSTOMER)))
    await shots(inbox, "template-sent")
    # What the inbox says is what the provider was asked to send.
    sent_log = httpx2.get(f"{sandbox.url}/_sandbox/sent", params={"channel": cloud["key"]}, timeout=5).json()
    assert [m["type"] for m in sent_log if m["recipient"] == LATE_CUSTOMER] == ["template"], json.dumps(sent_log)
