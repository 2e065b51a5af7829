"""The web chat widget in Chromium, embedded in a sample page served on another origin (a second
loopback port): a visitor writes, the AI's reply streams in, a person takes over in the inbox and
the visitor sees the reply live, a reload keeps the conversation, a signed identity follows the
user to another browser, and a site that is not allowed gets no widget."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, VIEWPORT, E2EServer
from tests.servers import free_port

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Tienda de ejemplo</title></head>
<body style="font-family:sans-serif;margin:40px"><h1>Tienda de ejemplo</h1><p>Una página de un negocio.</p>
<script>window.tertuliaSettings = {settings};</script>{snippet}</body></html>"""


class SampleSite:
    """A business's site on its own origin: pages by path, each embedding the widget's snippet."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, snippet: str, lang: str = "es", **settings: str) -> str:
        self.pages[path] = PAGE.format(lang=lang, settings=json.dumps(settings), snippet=snippet)
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[SampleSite, SampleSite]]:
    allowed, other = SampleSite(), SampleSite()
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture
def web_channel(api: httpx2.Client, sites: tuple[SampleSite, SampleSite], e2e_server: E2EServer) -> dict[str, Any]:
    channel = next(c for c in api.get("/admin/channels").json() if c["kind"] == "web")
    r = api.patch(f"/admin/channels/{channel['id']}", json={"web": {"allowed_origins": [sites[0].origin]}})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    # The snippet names the server by TERTULIA_BASE_URL, which this server leaves at its default.
    result["snippet"] = result["snippet"].replace("http://127.0.0.1:8000", e2e_server.url)
    return result


async def _visitor_page(browser: Any, url: str, viewport: dict[str, int] | None = None,
                        storage: dict[str, Any] | None = None) -> tuple[Any, Page, list[dict[str, Any]]]:
    """A fresh browser (no panel cookies) on the site; the widget's socket frames are recorded."""
    context = await browser.new_context(viewport=viewport or VIEWPORT, locale="es-ES", storage_state=storage)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", on_socket)
    await page.goto(url)
    return context, page, frames


def _launcher(page: Page) -> Any:
    return page.get_by_role("button", name="Abrir el chat")


async def test_visitor_chats_with_the_ai_then_a_person(browser: Any, page: Page, api: httpx2.Client,
                                                       e2e_server: E2EServer, web_channel: dict[str, Any],
                                                       sites: tuple[SampleSite, SampleSite]) -> None:
    url = sites[0].page("/", web_channel["snippet"], name="Lucía Web")
    context, visitor, frames = await _visitor_page(browser, url)
    try:
        await expect(_launcher(visitor)).to_be_visible()
        await visitor.screenshot(path=str(ARTIFACTS / "widget-closed.png"))
        await _launcher(visitor).click()
        dialog = visitor.get_by_role("dialog", name="Nora")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_text("¡Hola! Soy Nora, de Café Aurora")).to_be_visible()
        box = dialog.get_by_label("Escribe un mensaje")
        await expect(box).to_be_focused()
        await box.fill("Hola")
        await box.press("Enter")
        log = dialog.get_by_role("log")
        await expect(log.get_by_text("Hola", exact=True)).to_be_visible()
        reply = log.get_by_text("¿En qué te puedo ayudar?")
        await expect(reply).to_be_visible(timeout=20_000)
        # the streamed bubble gives way to the posted reply (after the delivery worker)
        await expect(log.locator("[aria-busy=true]")).to_have_count(0, timeout=20_000)
        kinds = [f["type"] for f in frames]
        assert "ai_delta" in kinds, kinds
        first_delta = kinds.index("ai_delta")
        final = next(n for n, f in enumerate(frames) if f["type"] == "message" and f["message"]["by"] == "ai")
        assert first_delta < final and sum(k == "ai_delta" for k in kinds) > 2
        await visitor.screenshot(path=str(ARTIFACTS / "widget-desktop.png"))

        # a person takes over in the inbox and answers: the visitor sees it live
        await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat")
        await page.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(
            has_text="Lucía Web").first.click()
        composer = page.get_by_label("Escribe un mensaje")
        await composer.fill("Hola Lucía, soy Ana del equipo. ¿Te ayudo con tu pedido?")
        await composer.press("Enter")
        await expect(log.get_by_text("soy Ana del equipo")).to_be_visible()
        await expect(log.get_by_text("Ana Lucía Herrera")).to_be_visible()

        # the keyboard: Escape closes and gives the focus back to the launcher
        await box.focus()
        await visitor.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        await expect(_launcher(visitor)).to_be_focused()

        # a reload is the same conversation
        await visitor.reload()
        await _launcher(visitor).click()
        await expect(log.get_by_text("soy Ana del equipo")).to_be_visible()
        await expect(log.get_by_text("Hola", exact=True)).to_be_visible()
    finally:
        await context.close()


async def test_signed_identity_follows_the_user_and_unsigned_does_not(
        browser: Any, api: httpx2.Client, web_channel: dict[str, Any], sites: tuple[SampleSite, SampleSite]) -> None:
    secret = web_channel["web"]["identity_secret"]
    digest = hmac.new(secret.encode(), b"cliente-77", hashlib.sha256).hexdigest()
    signed = sites[0].page("/cuenta", web_channel["snippet"], identifier="cliente-77", identifier_hash=digest)
    context, visitor, _ = await _visitor_page(browser, signed)
    try:
        await _launcher(visitor).click()
        box = visitor.get_by_label("Escribe un mensaje")
        await box.fill("Soy el cliente 77 y quiero un pastel")
        await box.press("Enter")
        await expect(visitor.get_by_role("log").get_by_text("Soy el cliente 77")).to_be_visible()
    finally:
        await context.close()
    # another browser, the same signed user: the same conversation
    context, visitor, _ = await _visitor_page(browser, signed)
    try:
        await _launcher(visitor).click()
        await expect(visitor.get_by_role("log").get_by_text("Soy el cliente 77")).to_be_visible()
    finally:
        await context.close()
    # the identifier with a wrong signature is a stranger
    forged = sites[0].page("/falsa", web_channel["snippet"], identifier="cliente-77", identifier_hash="0" * 64)
    context, visitor, _ = await _visitor_page(browser, forged)
    try:
        await _launcher(visitor).click()
        await expect(visitor.get_by_role("dialog")).to_be_visible()
        await expect(visitor.get_by_role("log").get_by_text("Soy el cliente 77")).to_have_count(0)
    finally:
        await context.close()


async def test_a_site_that_is_not_allowed_gets_no_widget(browser: Any, web_channel: dict[str, Any],
                                                         sites: tuple[SampleSite, SampleSite]) -> None:
    url = sites[1].page("/", web_channel["snippet"])
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    try:
        async with page.expect_response(lambda r: "/session" in r.url) as answer:
            await page.goto(url)
        assert (await answer.value).status == 403
        await expect(page.locator("tertulia-widget").get_by_role("button")).to_have_count(0)
    finally:
        await context.close()


async def test_phone_layout_and_english(browser: Any, web_channel: dict[str, Any],
                                        sites: tuple[SampleSite, SampleSite]) -> None:
    url = sites[0].page("/en", web_channel["snippet"], lang="en")
    context, visitor, _ = await _visitor_page(browser, url, viewport={"width": 390, "height": 844})
    try:
        await visitor.get_by_role("button", name="Open the chat").click()
        dialog = visitor.get_by_role("dialog")
        await expect(dialog.get_by_label("Write a message")).to_be_visible()
        box = await dialog.bounding_box()
        assert box is not None and box["width"] == 390 and box["height"] == 844  # full screen on a phone
        # focus stays in the panel
        for _ in range(6):
            await visitor.keyboard.press("Tab")
            inside = await visitor.evaluate(
                "!!document.querySelector('tertulia-widget').shadowRoot.activeElement?.closest('.panel')")
            assert inside
        await visitor.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
    finally:
        await context.close()


async def test_widget_settings_screen(page: Page, e2e_server: E2EServer, web_channel: dict[str, Any]) -> None:
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/settings/widget")
    card = page.get_by_role("region", name="Chat web · Chat de cafeaurora.mx")
    await expect(card.get_by_label("Código para tu sitio")).to_have_value(re.compile("/widget/widget.js"))
    await expect(card.get_by_label("Sitios permitidos")).to_have_value(re.compile("127.0.0.1"))
    greeting = card.get_by_label("Saludo")
    await greeting.fill("¡Bienvenida a Café Aurora!")
    await card.get_by_role("button", name="Guardar").click()
    await expect(card.get_by_role("status")).to_have_text("Cambios guardados")
    await page.screenshot(path=str(ARTIFACTS / "widget-settings.png"), full_page=True)


async def test_typing_shows_both_ways(browser: Any, page: Page, e2e_server: E2EServer, web_channel: dict[str, Any],
                                      sites: tuple[SampleSite, SampleSite]) -> None:
    url = sites[0].page("/escribe", web_channel["snippet"], name="Tomás Escribe")
    context, visitor, frames = await _visitor_page(browser, url)
    typing_posts: list[dict[str, Any]] = []
    page.on("request", lambda r: typing_posts.append(json.loads(r.post_data or "{}"))
            if r.url.endswith("/typing") else None)
    try:
        await _launcher(visitor).click()
        dialog = visitor.get_by_role("dialog", name="Nora")
        box = dialog.get_by_label("Escribe un mensaje")
        await box.fill("Hola")
        await box.press("Enter")
        log = dialog.get_by_role("log")
        await expect(log.get_by_text("¿En qué te puedo ayudar?")).to_be_visible(timeout=20_000)

        await page.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(
            has_text="Tomás Escribe").first.click()
        head = page.locator(".chat-head")
        await expect(head.get_by_role("heading", name="Tomás Escribe")).to_be_visible()
        typing = head.locator(".typing-text")  # a status region, empty while nobody types
        await expect(typing).to_have_text("")

        # the visitor types: the agent sees it, until the message arrives
        await box.press_sequentially("¿Tienen pan sin gluten?", delay=20)
        await expect(typing).to_have_text("escribiendo…")
        await page.screenshot(path=str(ARTIFACTS / "panel-visitor-typing.png"))
        await box.press("Enter")
        await expect(page.get_by_role("log").get_by_text("¿Tienen pan sin gluten?")).to_be_visible()
        await expect(typing).to_have_text("")
        # a visitor who stops without sending: it fades after a few seconds (typed at a person's
        # pace: the widget repeats "typing" every 3 s, and its last one came with the message above)
        await box.press_sequentially("y también quería saber", delay=200)
        await expect(typing).to_have_text("escribiendo…")
        await expect(typing).to_have_text("", timeout=10_000)
        # a visitor who empties the box: "off", and the indicator goes at once
        await box.press_sequentially("Otra cosa", delay=20)
        await expect(typing).to_have_text("escribiendo…")
        await box.fill("")
        await expect(typing).to_have_text("", timeout=3_000)  # well before the 6 s one signal lasts

        # the agent writes a reply: the visitor sees a person typing, until the reply arrives
        composer = page.get_by_label("Escribe un mensaje")
        await composer.press_sequentially("Sí, tenemos", delay=20)
        agent_typing = log.get_by_text("Ana Lucía Herrera está escribiendo…")
        await expect(agent_typing).to_be_visible()
        await visitor.screenshot(path=str(ARTIFACTS / "widget-agent-typing.png"))
        await composer.press_sequentially(" dos clases.", delay=20)
        await composer.press("Enter")
        await expect(log.get_by_text("Sí, tenemos dos clases.")).to_be_visible()
        await expect(agent_typing).to_have_count(0)
        assert typing_posts[:2] == [{"on": True}, {"on": False}]  # "off" with the send

        # an agent who empties the box: "off", and the visitor's indicator goes at once
        await composer.press_sequentially("Un momento", delay=20)
        await expect(agent_typing).to_be_visible()
        await composer.fill("")
        await expect(agent_typing).to_have_count(0, timeout=3_000)  # well before the 6 s it would last

        # a private note never tells the visitor anything
        before = len(typing_posts)
        await page.get_by_role("radio", name="Nota privada").click()
        await page.locator("#composer").press_sequentially("Cliente celíaco", delay=20)
        await page.locator("#composer").press("Enter")
        await expect(page.get_by_role("log").get_by_text("Cliente celíaco")).to_be_visible()
        assert typing_posts[before:] == []
        assert [f["on"] for f in frames if f["type"] == "typing"][-1] is False
    finally:
        await context.close()
