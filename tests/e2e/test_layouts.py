"""The panel on a phone (390×844), a small laptop (1024×768) and a desktop (1440×900): what each
shows, that nothing scrolls sideways, and a screenshot of each screen in test-artifacts/ to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, E2EServer

PHONE, LAPTOP, DESKTOP = (390, 844), (1024, 768), (1440, 900)


@pytest.fixture
async def sized(browser: Any, logged_in_state: dict[str, Any]) -> AsyncIterator[Any]:
    """A page of the given size, logged in as the demo owner; uncaught page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    async def make(size: tuple[int, int], *, logged_in: bool = True) -> Page:
        context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="es-ES",
                                            storage_state=logged_in_state if logged_in else None)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page: Page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def no_sideways_scroll(page: Page) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px of content in {widths[1]} px"


async def shot(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def first_rows(api: httpx2.Client) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.get("/admin/chats/summary", params={"limit": 5}).json()
    return rows


async def open_second_chat(page: Page, e2e_server: E2EServer, api: httpx2.Client) -> tuple[Page, dict[str, Any]]:
    """The inbox's second conversation, opened by its address."""
    target = first_rows(api)[1]
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat/{target['id']}")
    await expect(page.get_by_role("heading", level=2, name=target["display_name"])).to_be_visible()
    return page, target


async def test_a_phone_shows_one_pane_at_a_time(sized: Any, e2e_server: E2EServer, api: httpx2.Client) -> None:
    login = await sized(PHONE, logged_in=False)
    await login.goto(f"{e2e_server.url}/login")
    card = login.locator(".login-card")
    await expect(card).to_be_visible()
    box = await card.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
    await no_sideways_scroll(login)
    await shot(login, "phone-login")

    page = await sized(PHONE)
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat")
    listbox = page.get_by_role("listbox", name="Conversaciones")
    await expect(listbox.get_by_role("option").first).to_be_visible()
    await expect(page.get_by_role("region", name="Mensajes")).to_be_hidden()
    await no_sideways_scroll(page)
    await shot(page, "phone-list")

    target = first_rows(api)[1]
    await listbox.get_by_role("option").filter(has_text=target["display_name"]).first.click()
    await expect(page.get_by_role("heading", level=2, name=target["display_name"])).to_be_visible()
    await expect(listbox).to_be_hidden()
    await expect(page.locator(".bubble").first).to_be_visible()
    await expect(page.get_by_label("Escribe un mensaje")).to_be_visible()
    await no_sideways_scroll(page)
    await shot(page, "phone-chat")

    info = page.get_by_role("button", name="Ver contacto")
    await info.click()
    drawer = page.get_by_role("dialog", name="Contacto")
    await expect(drawer.get_by_label("Nombre", exact=True)).to_have_value(target["display_name"])
    await no_sideways_scroll(page)
    await shot(page, "phone-contact")
    await drawer.get_by_role("button", name="Cerrar").click()
    await expect(drawer).to_be_hidden()
    await expect(info).to_be_focused()

    await page.get_by_role("button", name="Volver a la lista").click()
    await expect(listbox).to_be_visible()
    await expect(page).to_have_url(f"{e2e_server.url}/panel_cliente/demo/chat")

    await page.get_by_role("link", name="Ajustes").click()
    await expect(page.get_by_role("navigation", name="Secciones de ajustes")).to_be_visible()
    for section in ("Asistente", "Conocimiento", "Miembros", "Tokens de API", "Negocio"):
        await page.get_by_role("navigation", name="Secciones de ajustes").get_by_role("link", name=section).click()
        await expect(page.locator(".settings-card").first).to_be_visible()
        await no_sideways_scroll(page)
    await page.get_by_role("navigation", name="Secciones de ajustes").get_by_role("link", name="Asistente").click()
    await expect(page.locator("form.assistant-form")).to_be_visible()
    await shot(page, "phone-settings-assistant")


async def test_a_laptop_keeps_the_contact_in_a_drawer(sized: Any, e2e_server: E2EServer, api: httpx2.Client) -> None:
    page, _ = await open_second_chat(await sized(LAPTOP), e2e_server, api)
    await expect(page.get_by_role("listbox", name="Conversaciones")).to_be_visible()
    await expect(page.get_by_role("complementary", name="Contacto")).to_have_count(0)
    await no_sideways_scroll(page)
    await shot(page, "laptop-chat")
    info = page.get_by_role("button", name="Ver contacto")
    await info.click()
    drawer = page.get_by_role("dialog", name="Contacto")
    await expect(drawer.get_by_role("region", name="Resumen de la IA")).to_be_visible()
    await shot(page, "laptop-contact")
    await page.keyboard.press("Escape")
    await expect(drawer).to_be_hidden()
    await expect(info).to_be_focused()
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/settings/knowledge")
    await expect(page.get_by_role("region", name="Entradas")).to_be_visible()
    await no_sideways_scroll(page)
    await shot(page, "laptop-settings-knowledge")


async def test_a_desktop_shows_three_columns(sized: Any, e2e_server: E2EServer, api: httpx2.Client) -> None:
    page, target = await open_second_chat(await sized(DESKTOP), e2e_server, api)
    contact = page.get_by_role("complementary", name="Contacto")
    await expect(contact.get_by_label("Nombre", exact=True)).to_have_value(target["display_name"])
    await expect(page.get_by_role("button", name="Ver contacto")).to_have_count(0)
    await no_sideways_scroll(page)
    await shot(page, "desktop-chat")
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/settings/members")
    await expect(page.get_by_role("list", name="Miembros")).to_be_visible()
    await shot(page, "desktop-settings-members")
