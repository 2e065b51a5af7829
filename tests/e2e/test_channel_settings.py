"""The channels and templates settings in Chromium, against the provider sandbox as `make run
SANDBOX=1` sets it up: an owner connects a WhatsApp number from the screen, copies the webhook URL
(pasted into the sandbox, as into Meta's console), checks the connection (it works), then with a
token the provider refuses (the answer says so in plain words), and syncs and previews the
number's templates. Screenshots at 1440×900 and 390×844 in test-artifacts/."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, DEMO_EMAIL, DEMO_PASSWORD, E2EServer
from tests.e2e.test_whatsapp_sandbox import DESKTOP, PHONE, SandboxRun, whatsapp

__all__ = ["whatsapp"]  # the module's server with its sandbox, shared with the WhatsApp test's fixture


def _digits(n: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


@pytest.fixture
async def owner(browser: Any, whatsapp: tuple[E2EServer, SandboxRun]) -> AsyncIterator[Page]:
    """The demo owner logged in, in a browser that lets the page use the clipboard."""
    server, _ = whatsapp
    context = await browser.new_context(viewport=DESKTOP, locale="es-ES",
                                        permissions=["clipboard-read", "clipboard-write"])
    context.set_default_timeout(20_000)
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/login")
    await page.get_by_label("Correo electrónico").fill(DEMO_EMAIL)
    await page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url("**/panel_cliente/demo/chat**")
    yield page
    await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def shots(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, viewport in (("1440", DESKTOP), ("390", PHONE)):
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)  # a layout pass after the resize, nothing to wait on
        await page.screenshot(path=str(ARTIFACTS / f"settings-{name}-{label}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} scrolls sideways at {label}: {width}px"
    await page.set_viewport_size(DESKTOP)


async def open_section(page: Page, section: str) -> None:
    await page.get_by_role("link", name="Ajustes").click()
    nav = page.get_by_role("navigation", name="Secciones de ajustes")
    await nav.get_by_role("link", name=section, exact=True).click()
    await expect(nav.get_by_role("link", name=section, exact=True)).to_have_attribute("aria-current", "page")


async def test_connect_a_whatsapp_number_check_it_and_preview_its_templates(
        owner: Page, whatsapp: tuple[E2EServer, SandboxRun]) -> None:
    server, sandbox = whatsapp
    page = owner
    name = f"WhatsApp tienda {secrets.token_hex(2)}"
    credentials = {"phone_number_id": _digits(15), "waba_id": _digits(15),
                   "access_token": "EAAG" + secrets.token_hex(24), "app_secret": secrets.token_hex(16)}

    await open_section(page, "Canales")
    form = page.get_by_role("form", name="Conectar un canal")
    await form.get_by_label("Tipo de canal").select_option("whatsapp_cloud")
    await form.get_by_label("Nombre del canal").fill(name)
    await form.get_by_label("Phone number ID").fill("12-34")  # not an id: the field says so
    await form.get_by_label("WhatsApp Business Account ID").fill(credentials["waba_id"])
    await form.get_by_label("Token de acceso").fill(credentials["access_token"])
    await expect(form.get_by_role("button", name="Conectar canal")).to_be_disabled()  # the app secret is missing
    await form.get_by_label("App secret (firma los webhooks)").fill(credentials["app_secret"])
    assert await form.get_by_label("Token de acceso").get_attribute("type") == "password"
    await form.get_by_role("button", name="Conectar canal").click()
    await expect(form.get_by_label("Phone number ID")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_text("El formato no es válido.")).to_be_visible()
    await form.get_by_label("Phone number ID").fill(credentials["phone_number_id"])
    await form.get_by_role("button", name="Conectar canal").click()

    connected = page.get_by_role("status", name=f"Canal «{name}» conectado")
    await expect(connected).to_be_visible()
    url_field = connected.get_by_label("URL del webhook", exact=True)
    webhook_url = await url_field.input_value()
    path = urlsplit(webhook_url).path  # under the installation's TERTULIA_BASE_URL
    assert re.fullmatch(r"/webhooks/[0-9a-f-]{36}", path), webhook_url
    verify_token = await connected.get_by_label("Token de verificación", exact=True).input_value()
    copy = connected.locator(".copy-field", has_text="URL del webhook").get_by_role("button")
    await copy.click()
    await expect(copy).to_have_text("Copiado")
    assert await page.evaluate("navigator.clipboard.readText()") == webhook_url
    await shots(page, "channel-connected")

    # What the owner pastes into Meta's console, the sandbox is told; it answers for the new number.
    registered = httpx2.post(f"{sandbox.url}/_sandbox/channels", timeout=10, json={
        "kind": "whatsapp_cloud", "webhook_url": server.url + path, "verify_token": verify_token,
        "display_phone_number": "34910001122", "verified_name": "Tienda Aurora", **credentials})
    assert registered.status_code == 201, registered.text

    row = page.get_by_role("listitem", name=name)
    await expect(row.get_by_text("credenciales guardadas: access_token, app_secret, phone_number_id, waba_id")).to_be_visible()
    assert credentials["access_token"] not in await page.content()  # write-only
    await row.get_by_role("button", name="Detalles").click()
    await row.get_by_role("button", name="Comprobar conexión").click()
    answer = row.locator(".check-result")
    await expect(answer).to_contain_text("La conexión funciona.")
    await expect(answer).to_contain_text("El número +34910001122 (Tienda Aurora) responde")
    await expect(answer).to_contain_text("El número pertenece a esa cuenta.")
    await shots(page, "channel-check-ok")
    # The answer follows the panel's language, like every other word of it.
    await page.get_by_label("Idioma", exact=True).select_option("en")
    await expect(answer).to_contain_text("The connection works.")
    await expect(answer).to_contain_text("The number +34910001122 (Tienda Aurora) answers; quality:")
    await expect(answer).to_contain_text("The number belongs to that account.")
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(answer).to_contain_text("El número pertenece a esa cuenta.")

    # The number's templates: synced from the sandbox with this channel's button, then previewed.
    await open_section(page, "Plantillas")
    await page.get_by_role("button", name=f"Sincronizar {name}").click()
    await expect(page.get_by_text(f"{name}: 5 plantilla(s) sincronizadas.")).to_be_visible()
    templates = page.get_by_role("list", name="Plantillas sincronizadas")
    reminder = templates.get_by_role("button", name="recordatorio_cita").first
    await expect(reminder).to_contain_text("Aprobada")
    await expect(templates.get_by_role("button", name="sorteo_gratis").first).to_contain_text("Rechazada")
    await reminder.click()
    preview = page.get_by_role("region", name="Vista previa de recordatorio_cita")
    await expect(preview.locator("mark.placeholder")).to_have_text(["{{1}}", "{{2}}"])
    await expect(preview.get_by_text("Marcadores: {{1}}, {{2}}")).to_be_visible()
    await expect(preview.locator(".template-buttons li")).to_have_text(["Confirmar", "Cambiar la cita"])
    await shots(page, "templates")

    # A token the provider refuses: the check says what is wrong and what to do, and the channel
    # shows that it needs attention.
    await open_section(page, "Canales")
    row = page.get_by_role("listitem", name=name)
    await row.get_by_role("button", name="Detalles").click()
    change = row.get_by_role("form", name=f"Cambiar las credenciales de {name}")
    await expect(change.get_by_text("Guardada: déjala vacía para conservarla.").first).to_be_visible()
    await change.get_by_label("Token de acceso").fill("EAAGcaducado0000")
    await change.get_by_role("button", name="Guardar credenciales").click()
    await expect(change.get_by_role("status")).to_have_text("Cambios guardados")
    await row.get_by_role("button", name="Comprobar conexión").click()
    answer = row.locator(".check-result")
    await expect(answer).to_contain_text("La conexión no funciona:")
    await expect(answer).to_contain_text("El token de acceso de WhatsApp caducó o no es válido")
    health = row.get_by_role("list", name=f"Estado de {name}")
    await expect(health).to_contain_text("Necesita atención: El token de acceso de WhatsApp caducó")
    await shots(page, "channel-check-refused")

    # Removed, after confirming.
    await row.get_by_role("button", name=f"Eliminar {name}").click()
    await page.get_by_role("dialog").get_by_role("button", name="Eliminar").click()
    await expect(page.get_by_role("listitem", name=name)).to_have_count(0)
