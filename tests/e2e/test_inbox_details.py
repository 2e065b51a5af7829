"""The inbox details agents notice, in a real browser: search (accents, message text, opening the
chat at the message), the unread count in the tab's title, notifications, the image viewer."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx2
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, E2EServer


def conversations(page: Page) -> Any:
    return page.get_by_role("listbox", name="Conversaciones").get_by_role("option")


async def search(page: Page, q: str) -> None:
    await page.get_by_role("searchbox", name="Buscar por nombre o número").fill(q)


async def test_search_ignores_accents_and_opens_the_chat_at_the_message_it_found(
        page: Page, e2e_server: E2EServer, api: httpx2.Client) -> None:
    who = f"e2e-search-{uuid.uuid4().hex[:8]}"
    e2e_server.post_inbound("Quisiera cambiar la talla del abrigo granate, ¿se puede?", external_id=who,
                            name="Íñigo Ezcurra")
    # More than a page of messages after it: the chat must load older ones to reach it.
    for i in range(56):
        e2e_server.post_inbound(f"mensaje de relleno {i}", external_id=who)
    found = api.get("/admin/chats/summary", params={"q": "ABRIGO granate"}).json()
    assert [(r["display_name"], r["match"]["excerpt"]) for r in found] == [
        ("Íñigo Ezcurra", "Quisiera cambiar la talla del abrigo granate, ¿se puede?")]
    message_id = found[0]["match"]["message_id"]

    # A name without its accents, and in capitals.
    for q in ("inigo ezcu", "IÑIGO"):
        await search(page, q)
        await expect(conversations(page)).to_have_count(1)
        await expect(conversations(page).first.locator(".conv-name")).to_have_text("Íñigo Ezcurra")
        await expect(conversations(page).first.locator(".conv-match")).to_have_count(0)

    # By a message's words: the row shows that message, the words marked; it opens at it.
    await search(page, "abrigo granate")
    result = conversations(page).first
    await expect(result.locator(".conv-match")).to_have_text(
        "Quisiera cambiar la talla del abrigo granate, ¿se puede?")
    await expect(result.locator(".conv-match mark")).to_have_text(["abrigo", "granate"])
    await result.click()
    await expect(page.get_by_role("heading", level=2, name="Íñigo Ezcurra")).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"[?&]at={message_id}\b"))
    target = page.locator(f"#msg-{message_id}")
    await expect(target).to_have_class(re.compile(r"\bis-found\b"))
    await expect(target).to_be_in_viewport()
    # Opening it marked it read: the event that said so leaves the row (and its excerpt) in the results.
    await expect(result.locator(".conv-match mark")).to_have_text(["abrigo", "granate"])
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "search-by-message.png"))

    # A reload keeps the search and the place.
    await page.reload()
    await expect(page.locator(f"#msg-{message_id}")).to_be_in_viewport()


def _channel_with_a_customer(api: httpx2.Client, e2e_server: E2EServer, name: str,
                             customer: str) -> tuple[str, str]:
    """A new `api` channel of the demo tenant with one customer's message on it; its conversation id."""
    created = api.post("/admin/channels", json={"kind": "api", "name": name})
    assert created.status_code == 201, created.text
    channel = created.json()
    posted = httpx2.post(f"{e2e_server.url}/api/v1/inbound/{channel['id']}", timeout=10,
                         headers={"Authorization": f"Bearer {channel['inbound_token']}"},
                         json={"external_message_id": uuid.uuid4().hex, "content": "¿Hay alguien?",
                               "contact": {"external_id": uuid.uuid4().hex, "name": customer}})
    assert posted.status_code == 202, posted.text
    rows = api.get("/admin/chats/summary", params={"q": customer}).json()
    assert len(rows) == 1
    return str(channel["id"]), str(rows[0]["id"])


async def test_the_chat_says_who_answers_and_whether_the_channel_delivers(
        page: Page, e2e_server: E2EServer, api: httpx2.Client) -> None:
    channel_id, conversation_id = _channel_with_a_customer(api, e2e_server, "Canal sin asistente", "Olga Sin Nora")
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat/{conversation_id}")
    banner = page.locator(".state-banner")
    await expect(banner).to_contain_text("Ninguna IA responde en este canal")
    await expect(banner).to_contain_text("El canal no tiene un asistente vinculado.")
    await expect(banner.get_by_role("link", name="Configurar")).to_have_attribute(
        "href", "/panel_cliente/demo/settings/assistant")
    await expect(page.get_by_text("La IA está respondiendo")).to_have_count(0)
    # Nothing to take over from: the composer does not warn that writing stops the AI.
    hint = page.locator("#composer-hint")
    await expect(hint).to_have_text("Intro envía · Mayús+Intro nueva línea")
    await expect(page.get_by_text("Al escribir tomas el control")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "chat-no-assistant.png"))

    assistants = api.get("/admin/assistants").json()
    assistant = assistants[0] if assistants else api.post("/admin/assistants", json={"name": "Nora"}).json()
    assert api.patch(f"/admin/channels/{channel_id}", json={"assistant_id": assistant["id"]}).status_code == 200
    await page.reload()
    await expect(banner).to_contain_text("La IA está respondiendo")
    await expect(hint).to_have_text(
        "Al escribir tomas el control: la IA deja de responder en esta conversación.")

    assert api.patch(f"/admin/channels/{channel_id}", json={"enabled": False}).status_code == 200
    await page.reload()
    await expect(banner).to_contain_text("El canal está desactivado.")
    await expect(page.get_by_role("alert")).to_contain_text("Este canal está desactivado: los mensajes no salen.")


async def test_the_tab_title_counts_unread_and_a_handoff_notifies(
        browser: Any, logged_in_state: dict[str, Any], e2e_server: E2EServer, api: httpx2.Client) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="es-ES",
                                        storage_state=logged_in_state)
    await context.grant_permissions(["notifications"], origin=e2e_server.url)
    # What the page shows as notifications and plays as sound, recorded where the test can read it.
    await context.add_init_script("""
        window.__notes = [];
        window.__tones = 0;
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.__notes.push(title); }
        };
        const start = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
    """)
    page = await context.new_page()
    try:
        await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat")
        await expect(conversations(page).first).to_be_visible()
        who = f"e2e-attention-{uuid.uuid4().hex[:8]}"
        e2e_server.post_inbound("Hola, ¿me atiende alguien?", external_id=who, name="Rita Avisos")
        unread = api.get("/admin/chats/unread").json()["conversations"]
        assert unread > 0
        await expect(page).to_have_title(re.compile(rf"^\({unread}\) "))
        conversation = api.get("/admin/chats/summary", params={"q": "Rita Avisos"}).json()[0]

        # Handed to a person (here through the API, as another agent would): a notification.
        locked = api.post(f"/admin/conversations/{conversation['id']}/human-override", json={"locked": True})
        assert locked.status_code == 200, locked.text
        await page.wait_for_function("window.__notes.length >= 1")
        # The customer writes again in the conversation a person now owns: another one.
        e2e_server.post_inbound("¿Sigue ahí?", external_id=who)
        await page.wait_for_function("window.__notes.length >= 2")
        assert await page.evaluate("window.__notes") == ["Rita Avisos necesita a una persona",
                                                         "Rita Avisos te ha escrito"]
        assert await page.evaluate("window.__tones") >= 4  # two notes per chime

        # The sound can be turned off, and stays off after a reload.
        sound = page.get_by_role("button", name="Sonido de avisos")
        await expect(sound).to_have_attribute("aria-pressed", "true")
        await sound.click()
        await page.reload()
        await expect(page.get_by_role("button", name="Sonido de avisos")).to_have_attribute("aria-pressed", "false")
        tones = await page.evaluate("window.__tones")
        e2e_server.post_inbound("¿Hola?", external_id=who)
        await page.wait_for_function("window.__notes.length >= 1")
        assert await page.evaluate("window.__tones") == tones
        api.post(f"/admin/conversations/{conversation['id']}/human-override", json={"locked": False})
    finally:
        await context.close()


async def test_pictures_open_in_a_viewer_with_zoom_next_and_download(page: Page, e2e_server: E2EServer,
                                                                      api: httpx2.Client) -> None:
    # A customer sends two of the demo's pictures (already in this tenant's file store).
    urls = []
    for name in ("Andrea Ruiz", "Emilio Guerrero"):
        conversation = api.get("/admin/chats/summary", params={"q": name}).json()[0]
        messages = api.get(f"/admin/chats/{conversation['id']}/messages", params={"limit": 100}).json()
        urls.append(next(a["url"] for m in messages for a in m["attachments"] if a["type"] == "image"))
    who = f"e2e-pictures-{uuid.uuid4().hex[:8]}"
    for url in urls:
        sent = httpx2.post(f"{e2e_server.url}/api/v1/inbound/{e2e_server.channel_id}", timeout=10,
                           headers={"Authorization": f"Bearer {e2e_server.inbound_token}"},
                           json={"external_message_id": uuid.uuid4().hex, "content": "",
                                 "contact": {"external_id": who, "name": "Vera Fotos"},
                                 "attachments": [{"type": "image", "url": url, "filename": "foto.png"}]})
        assert sent.status_code == 202, sent.text
    vera = api.get("/admin/chats/summary", params={"q": "Vera Fotos"}).json()[0]
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat/{vera['id']}")
    pictures = page.get_by_role("log", name="Mensajes").locator("a.att-image")
    await expect(pictures).to_have_count(2)
    first = pictures.first
    await first.click()
    viewer = page.get_by_role("dialog", name="Imagen 1 de 2")
    await expect(viewer).to_be_visible()
    await expect(viewer.locator(".viewer-stage img")).to_have_attribute("src", re.compile(r"/media/"))
    first_src = await viewer.locator(".viewer-stage img").get_attribute("src")

    await viewer.get_by_role("button", name="Acercar").click()
    await expect(viewer.locator(".viewer-zoom")).to_have_text("150 %")
    await page.keyboard.press("ArrowRight")
    viewer = page.get_by_role("dialog", name="Imagen 2 de 2")
    await expect(viewer).to_be_visible()
    await expect(viewer.locator(".viewer-zoom")).to_have_text("100 %")
    second_src = await viewer.locator(".viewer-stage img").get_attribute("src")
    assert second_src and second_src != first_src
    await expect(viewer.get_by_role("link", name="Descargar")).to_have_attribute("href", second_src)
    await expect(viewer.get_by_role("button", name="Imagen siguiente")).to_be_disabled()
    await viewer.get_by_role("button", name="Imagen anterior").click()
    await expect(page.get_by_role("dialog", name="Imagen 1 de 2")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "image-viewer.png"))

    await page.keyboard.press("Escape")
    await expect(page.locator("dialog.viewer")).to_have_count(0)
    assert await first.evaluate("link => document.activeElement === link")


async def test_focus_returns_to_the_control_that_opened_a_dialog(page: Page) -> None:
    await conversations(page).first.click()
    # The tags dialog, closed with Escape.
    manage = page.get_by_role("button", name="Gestionar etiquetas")
    await manage.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("dialog", name="Gestionar etiquetas")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(manage).to_be_focused()
    # The panel's assistant (a drawer that is not modal), closed with its button and with Escape.
    opener = page.get_by_role("button", name="Asistente del panel")
    for close in ("button", "Escape"):
        await opener.focus()
        await page.keyboard.press("Enter")
        drawer = page.get_by_role("dialog", name="Asistente del panel")
        await expect(drawer).to_be_visible()
        if close == "button":
            await drawer.get_by_role("button", name="Cerrar el asistente").click()
        else:
            await page.keyboard.press("Escape")
        await expect(drawer).to_have_count(0)
        await expect(opener).to_be_focused()
