"""The composer end to end in Chromium, on a server whose WhatsApp numbers talk to the provider
sandbox (the `whatsapp` fixture of test_whatsapp_sandbox.py): a photo attached in the composer
reaches the customer's phone; a private note shows live to another agent and never leaves; a
canned response comes by `/`; an emoji goes in at the caret; a draft survives switching
conversations and a reload. Screenshots in test-artifacts/composer-*.png."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from importlib.resources import files

import httpx2
import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, DEMO_EMAIL, DEMO_PASSWORD, E2EServer
from tests.e2e.test_whatsapp_sandbox import DESKTOP, SandboxRun, wait_until, whatsapp

__all__ = ["whatsapp"]  # the module's server and sandbox, shared with this file's tests

AGENT_EMAIL, AGENT_PASSWORD = "bruno@cafe-aurora.example", "bruno-agente-2026"
MARTA, MARTA_NAME = "34600333444", "Marta Ruiz"
JUAN, JUAN_NAME = "34600555666", "Juan Soto"


def customer_writes(sandbox: SandboxRun, customer: str, name: str, text: str) -> None:
    cloud = sandbox.channel("whatsapp_cloud")
    r = httpx2.post(f"{sandbox.url}/_sandbox/messages", timeout=10, json={
        "channel": cloud["key"], "from": customer, "name": name, "type": "text", "text": text,
        "timestamp": time.time()})
    assert r.status_code == 200 and r.json()["delivery"]["outcome"] == "delivered", r.text


@contextmanager
def owner_api(server: E2EServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/api/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        yield client


async def logged_in(browser: Browser, server: E2EServer, email: str, password: str, errors: list[str]) -> Page:
    context = await browser.new_context(viewport=DESKTOP, locale="es-ES")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/login")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(password)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url("**/panel_cliente/demo/chat**")
    return page


@pytest.fixture(scope="module")
def prepared(whatsapp: tuple[E2EServer, SandboxRun]) -> tuple[E2EServer, SandboxRun]:
    """Two customers who wrote just now, an agent besides the owner, and two canned responses."""
    server, sandbox = whatsapp
    with owner_api(server) as api:
        r = api.post("/admin/members", json={"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "role": "agent",
                                             "display_name": "Bruno"})
        assert r.status_code == 201, r.text
        for shortcut, title, content in (
                ("horario", "Horario", "Abrimos de lunes a sábado de 8:00 a 20:00 y el domingo de 9:00 a 14:00."),
                ("envio", "Envíos", "Enviamos a domicilio en 24-48 h; gratis desde 30 €.")):
            r = api.post("/admin/canned-responses", json={"shortcut": shortcut, "title": title, "content": content})
            assert r.status_code == 201, r.text
    customer_writes(sandbox, JUAN, JUAN_NAME, "¿Tienen pan sin gluten?")
    customer_writes(sandbox, MARTA, MARTA_NAME, "Hola, ¿me mandas una foto de la tarta de queso?")
    return server, sandbox


@pytest.fixture
async def agents(browser: Browser, prepared: tuple[E2EServer, SandboxRun]) -> AsyncIterator[dict[str, Page]]:
    """The owner's inbox and the agent's, side by side."""
    server, _ = prepared
    errors: list[str] = []
    pages = {"owner": await logged_in(browser, server, DEMO_EMAIL, DEMO_PASSWORD, errors),
             "agent": await logged_in(browser, server, AGENT_EMAIL, AGENT_PASSWORD, errors)}
    yield pages
    for page in pages.values():
        await page.context.close()
    assert not errors, f"uncaught errors in the pages: {errors}"


async def open_chat(page: Page, name: str) -> None:
    await page.get_by_placeholder("Buscar por nombre o número").fill(name)
    await page.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(has_text=name).first.click()
    await expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator(".col-chat").screenshot(path=str(ARTIFACTS / f"composer-{name}.png"))


async def test_a_photo_from_the_composer_reaches_the_customers_phone(
        agents: dict[str, Page], prepared: tuple[E2EServer, SandboxRun]) -> None:
    _, sandbox = prepared
    owner = agents["owner"]
    await open_chat(owner, MARTA_NAME)
    photo = (files("tertulia.demo") / "media" / "latte-corazon.png").read_bytes()
    await owner.locator('[data-testid="composer-file"]').set_input_files(
        {"name": "tarta.png", "mimeType": "image/png", "buffer": photo})
    preview = owner.locator(".composer-file")
    await expect(preview).to_have_attribute("data-file-state", "ready")
    await expect(preview.locator("img")).to_be_visible()
    box = owner.get_by_label("Escribe un mensaje")
    await box.fill("Recién salida del horno 🧀")
    await shot(owner, "photo-preview")
    await box.press("Enter")
    await expect(preview).to_have_count(0)
    sent = owner.locator('.bubble[data-kind="image"]', has_text="Recién salida del horno").last
    await expect(sent.locator("img")).to_be_visible()
    await expect(sent.locator('[data-status-mark="status.delivered"]')).to_be_visible(timeout=20_000)
    cloud = sandbox.channel("whatsapp_cloud")
    # The provider got an image upload and a send of it, to Marta, with the caption.
    log = wait_until("the photo in the sandbox's sent log", lambda: [
        m for m in httpx2.get(f"{sandbox.url}/_sandbox/sent", params={"channel": cloud["key"]}, timeout=5).json()
        if m["recipient"] == MARTA and m["type"] == "image"])
    assert log[0]["request"]["image"]["caption"] == "Recién salida del horno 🧀" and "id" in log[0]["request"]["image"]

    # A file the channel cannot send is refused in place, before any upload.
    await owner.locator('[data-testid="composer-file"]').set_input_files(
        {"name": "programa.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ" + b"\x00" * 64})
    await expect(owner.locator(".composer-file .file-error")).to_contain_text("Ese tipo de archivo no se admite")
    await owner.get_by_role("button", name="Quitar programa.exe").click()
    await expect(owner.locator(".composer-file")).to_have_count(0)


async def test_a_note_shows_live_to_another_agent_and_is_never_delivered(
        agents: dict[str, Page], prepared: tuple[E2EServer, SandboxRun]) -> None:
    _, sandbox = prepared
    owner, agent = agents["owner"], agents["agent"]
    await open_chat(owner, JUAN_NAME)
    await open_chat(agent, JUAN_NAME)
    await owner.get_by_role("radio", name="Nota privada").click()
    note_box = owner.get_by_label("Nota privada", exact=True)
    await note_box.fill("Es celíaco: ofrecerle el pan de trigo sarraceno del jueves.")
    await shot(owner, "note-mode")
    await note_box.press("Enter")
    for page in (owner, agent):  # the agent's page gets it from the event socket, without a reload
        note = page.locator(".bubble-note", has_text="trigo sarraceno")
        await expect(note).to_be_visible()
        await expect(note).to_contain_text("Nota privada")
    await expect(agent.get_by_text("La IA está respondiendo")).to_be_visible()  # a note takes nothing over
    await shot(agent, "note-seen-by-agent")
    cloud = sandbox.channel("whatsapp_cloud")
    sent = httpx2.get(f"{sandbox.url}/_sandbox/sent", params={"channel": cloud["key"]}, timeout=5).json()
    thread = sandbox.thread(cloud["key"], JUAN)
    assert "sarraceno" not in repr(sent) and "sarraceno" not in repr(thread)


async def test_canned_response_by_slash_emoji_and_a_draft_that_survives(
        agents: dict[str, Page], prepared: tuple[E2EServer, SandboxRun]) -> None:
    agent = agents["agent"]
    await open_chat(agent, JUAN_NAME)
    box = agent.get_by_label("Escribe un mensaje")
    await box.fill("Buenas, Juan. /hor")
    options = agent.get_by_role("listbox", name="Respuestas rápidas").get_by_role("option")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("/horario")
    await shot(agent, "canned-list")
    await box.press("Enter")
    await expect(box).to_have_value(
        "Buenas, Juan. Abrimos de lunes a sábado de 8:00 a 20:00 y el domingo de 9:00 a 14:00.")
    await box.press("End")
    await box.type(" /")
    await expect(options).to_have_count(2)
    await box.press("Escape")
    await expect(agent.get_by_role("listbox", name="Respuestas rápidas")).to_have_count(0)
    await box.press("Backspace")

    # An emoji at the caret (the picker is its own chunk, loaded on first use).
    await agent.get_by_role("button", name="Emoji", exact=True).click()
    await expect(agent.get_by_role("dialog", name="Emoji")).to_be_visible()
    await shot(agent, "emoji")
    await agent.get_by_role("dialog", name="Emoji").get_by_role("tab", name="Gestos").click()
    await agent.get_by_role("dialog", name="Emoji").get_by_role("button", name="👍", exact=True).click()
    draft = "Buenas, Juan. Abrimos de lunes a sábado de 8:00 a 20:00 y el domingo de 9:00 a 14:00. 👍"
    await expect(box).to_have_value(draft)

    # The draft stays with Juan's conversation while another is open, and after a reload.
    await open_chat(agent, MARTA_NAME)
    await expect(agent.get_by_label("Escribe un mensaje")).to_have_value("")
    await open_chat(agent, JUAN_NAME)
    await expect(agent.get_by_label("Escribe un mensaje")).to_have_value(draft)
    await agent.reload()
    await expect(agent.get_by_role("heading", level=2, name=JUAN_NAME)).to_be_visible()
    await expect(agent.get_by_label("Escribe un mensaje")).to_have_value(draft)
    await expect(agent.get_by_text("Borrador recuperado")).to_be_visible()
    await shot(agent, "draft-restored")
    # Sent, it is gone: the box is empty here and after a reload.
    await agent.get_by_label("Escribe un mensaje").press("Enter")
    await expect(agent.locator(".bubble", has_text="domingo de 9:00 a 14:00. 👍").last).to_be_visible()
    await expect(agent.get_by_label("Escribe un mensaje")).to_have_value("")
    await agent.reload()
    await expect(agent.get_by_label("Escribe un mensaje")).to_have_value("")
