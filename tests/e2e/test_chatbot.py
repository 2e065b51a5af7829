"""The panel chatbot in a real browser: opened from the header, a claims spreadsheet dropped on it
(with its progress), `/repetitividad` run, the files it made opened, the map shown in place, the
history on reopening, a new conversation."""

from __future__ import annotations

import base64
import re

import httpx2
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.reports.claims import ORIGINAL_HEADERS, claims_rows, xlsx_bytes

DROP = """async ([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }));
  const drawer = document.querySelector("aside.chatbot");
  drawer.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
  drawer.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


async def test_a_report_from_a_dropped_spreadsheet(page: Page, api: httpx2.Client) -> None:
    await page.get_by_role("button", name="Asistente del panel").click()
    drawer = page.get_by_role("dialog", name="Asistente del panel")
    await expect(drawer.get_by_role("status").filter(has_text="Conectado")).to_be_visible()

    sheet = xlsx_bytes(ORIGINAL_HEADERS, claims_rows(400, months=(8, 9), services=80))
    await page.evaluate(DROP, ["reclamos septiembre.xlsx", base64.b64encode(sheet).decode()])
    attached = drawer.get_by_role("list", name="Archivos adjuntos").get_by_role("listitem")
    await expect(attached).to_have_class("done")
    await expect(attached).to_contain_text("reclamos septiembre.xlsx")

    box = drawer.get_by_role("textbox", name="Escribe un mensaje o un comando (/ayuda)")
    await box.fill("/repetitividad mes=9 anio=2025")
    await box.press("Enter")
    results = drawer.get_by_role("navigation", name="Archivos generados")
    await expect(results.get_by_role("link", name="Documento Word")).to_be_visible(timeout=30_000)
    answer = drawer.get_by_role("article", name="Asistente").last
    await expect(answer).to_contain_text("Servicios analizados:")
    await expect(drawer.get_by_role("article", name="Tú").last).to_contain_text("reclamos septiembre.xlsx")

    # The links are the tenant's files, served to this session.
    for name, kind in (("Documento Word", b"PK"), ("PDF", b"%PDF"), ("Detalle (CSV)", b"\xef\xbb\xbf")):
        href = await results.get_by_role("link", name=name).get_attribute("href")
        assert href and href.startswith("/reports/")
        got = api.get(href)
        assert got.status_code == 200 and got.content.startswith(kind), (name, got.status_code)

    # The map opens in place, drawn by Leaflet from Tertulia's own files.
    await results.get_by_role("button", name="Ver el mapa aquí").click()
    frame = page.frame_locator("iframe.chatbot-map")
    await expect(frame.locator("body")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    await expect(frame.locator(".leaflet-container")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "chatbot-report.png"))

    # Closed and opened again: the conversation is still there (the socket's history_snapshot).
    await drawer.get_by_role("button", name="Cerrar el asistente").click()
    await expect(drawer).to_be_hidden()
    await page.get_by_role("button", name="Asistente del panel").click()
    await expect(drawer.get_by_role("article", name="Asistente").last).to_contain_text("Servicios analizados:")
    await expect(drawer.get_by_role("navigation", name="Archivos generados").last.get_by_role(
        "link", name="PDF")).to_be_visible()

    # A new conversation starts empty; the old one stays listed.
    await drawer.get_by_role("button", name="Nueva conversación").click()
    await expect(drawer.get_by_role("article")).to_have_count(0)
    sessions = api.get("/api/chat/sessions").json()
    assert sessions[0]["status"] == "active" and sessions[1]["title"] == "/repetitividad mes=9 anio=2025"


async def test_commands_and_errors_in_english(page: Page) -> None:
    await page.get_by_label("Idioma").select_option("en")
    await page.get_by_role("button", name="Panel assistant").click()
    drawer = page.get_by_role("dialog", name="Panel assistant")
    await expect(drawer.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    box = drawer.get_by_role("textbox", name="Write a message or a command (/ayuda)")
    await box.fill("/repetitividad mes=13 anio=2025")
    await box.press("Enter")
    await expect(drawer.get_by_role("alert").last).to_have_text("Some details are missing or not valid.")
    await box.fill("/ayuda")
    await box.press("Enter")
    await expect(drawer.get_by_role("article", name="Assistant").last).to_contain_text("/pendientes")
    await page.get_by_label("Language").select_option("es")
