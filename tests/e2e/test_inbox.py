"""The agent inbox in a real browser against a real server with the demo tenant."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, DEMO_EMAIL, DEMO_PASSWORD, VIEWPORT, E2EServer

CHANNEL_BORDERS = {"whatsapp": "rgb(34, 197, 94)", "instagram": "rgb(236, 72, 153)",
                   "facebook": "rgb(59, 130, 246)", "web": "rgb(168, 85, 247)"}


def conversations(page: Page) -> Any:
    return page.get_by_role("listbox", name="Conversaciones").get_by_role("option")


def row(page: Page, name: str) -> Any:
    return conversations(page).filter(has_text=name).first


async def names_shown(page: Page, n: int) -> list[str]:
    names = await page.locator(".conv-row .conv-name").all_inner_texts()
    return names[:n]


async def open_chat(page: Page, name: str) -> None:
    await row(page, name).click()
    await expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()


async def expect_list_starts_with(page: Page, expected: list[str], k: int = 8) -> None:
    """The list shows these conversations first, in this order (only rows in view exist: it is virtualized)."""
    want = expected[:k]
    assert want, "nothing to compare"
    names = page.locator(".conv-row .conv-name")
    for i, name in enumerate(want):
        await expect(names.nth(i)).to_have_text(name)
    assert await names_shown(page, len(want)) == want


def summary_rows(api: httpx2.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/admin/chats/summary", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_login_shows_the_inbox_most_recent_first(browser: Any, e2e_server: E2EServer,
                                                        api: httpx2.Client) -> None:
    context = await browser.new_context(viewport=VIEWPORT, locale="es-ES")
    page = await context.new_page()
    try:
        await page.goto(e2e_server.url + "/")
        await page.wait_for_url("**/login**")
        await page.get_by_label("Correo electrónico").fill(DEMO_EMAIL)
        await page.get_by_label("Contraseña").fill("not the password")
        await page.get_by_role("button", name="Entrar").click()
        await expect(page.get_by_role("alert")).to_have_text("Correo o contraseña incorrectos.")
        await page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="Entrar").click()
        await page.wait_for_url("**/panel_cliente/demo/chat")
        await expect(page.get_by_role("status", name="En vivo")).to_be_visible()

        expected = [r["display_name"] for r in summary_rows(api)][:8]
        await expect_list_starts_with(page, expected)

        # Each row carries its channel's colour on the left border.
        for source, colour in CHANNEL_BORDERS.items():
            first = page.locator(f'.conv-row[data-channel="{source}"]').first
            if await first.count():
                assert await first.evaluate("el => getComputedStyle(el).borderLeftColor") == colour
        # Rows the AI does not answer carry the human-control mark.
        locked = next(r for r in summary_rows(api) if r["is_locked"])
        await expect(row(page, locked["display_name"]).get_by_role("img", name="Control humano")).to_be_visible()

        # The screenshot of the inbox with a conversation open (an artifact to look at).
        await open_chat(page, expected[1])
        await expect(page.locator(".bubble").first).to_be_visible()
        await expect(page.locator(".summary-text")).not_to_be_empty()
        # Opening the chat reads it: its unread badge goes.
        await expect(row(page, expected[1]).locator(".badge")).to_have_count(0)
        await page.mouse.move(0, 0)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "inbox.png"))
    finally:
        await context.close()


async def test_filters_by_tag_channel_and_who_replies(page: Page, api: httpx2.Client) -> None:
    await expect(conversations(page).first).to_be_visible()
    tags = api.get("/admin/tags").json()
    tag = next(t for t in tags if summary_rows(api, tag=t["id"]))
    await page.get_by_label("Etiqueta", exact=True).select_option(label=tag["name"])
    expected = [r["display_name"] for r in summary_rows(api, tag=tag["id"])]
    await expect_list_starts_with(page, expected)
    await page.get_by_label("Etiqueta", exact=True).select_option(label="Todas las etiquetas")

    await page.get_by_label("Canal", exact=True).select_option(label="Instagram")
    expected = [r["display_name"] for r in summary_rows(api, channel="instagram")]
    await expect_list_starts_with(page, expected)
    for source in await page.locator(".conv-row").evaluate_all("els => els.map(e => e.dataset.channel)"):
        assert source == "instagram"
    await page.get_by_label("Canal", exact=True).select_option(label="Todos los canales")

    await page.get_by_role("radio", name="Humano").click()
    expected = [r["display_name"] for r in summary_rows(api, human_filter="human_only")]
    await expect_list_starts_with(page, expected)
    await page.get_by_role("radio", name="IA", exact=True).click()
    expected = [r["display_name"] for r in summary_rows(api, human_filter="bot_only")]
    await expect_list_starts_with(page, expected)

    await page.get_by_role("searchbox", name="Buscar por nombre o número").fill(expected[0].split()[0])
    await expect(conversations(page).first).to_contain_text(expected[0])


async def test_keyboard_moves_through_conversations_and_focuses_the_composer(page: Page, api: httpx2.Client) -> None:
    names = [r["display_name"] for r in summary_rows(api)][:3]
    await expect(conversations(page).first).to_be_visible()
    await page.get_by_role("listbox", name="Conversaciones").focus()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("heading", level=2, name=names[0])).to_be_visible()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("heading", level=2, name=names[1])).to_be_visible()
    await expect(conversations(page).nth(1)).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowUp")
    await expect(page.get_by_role("heading", level=2, name=names[0])).to_be_visible()
    await page.keyboard.press("/")
    await expect(page.get_by_label("Escribe un mensaje")).to_be_focused()
    # Alt+↓ moves on even while writing.
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.get_by_role("heading", level=2, name=names[1])).to_be_visible()


async def test_sending_takes_over_and_the_ai_can_be_given_back(page: Page, api: httpx2.Client) -> None:
    target = summary_rows(api, human_filter="bot_only")[0]
    name = target["display_name"]
    await open_chat(page, name)
    await expect(page.get_by_text("La IA está respondiendo")).to_be_visible()
    await expect(page.get_by_text("Al escribir tomas el control")).to_be_visible()

    text = f"Hola, soy Ana; te ayudo yo ({uuid.uuid4().hex[:6]})"
    composer = page.get_by_label("Escribe un mensaje")
    await composer.fill(text)
    await composer.press("Enter")
    mine = page.locator(".bubble-human").filter(has_text=text)
    await expect(mine).to_be_visible()
    await expect(mine).to_contain_text("Ana Lucía Herrera")
    await expect(composer).to_have_value("")
    await expect(page.get_by_text("Tú tienes el control")).to_be_visible()
    await expect(row(page, name).get_by_role("img", name="Control humano")).to_be_visible()
    # The row moved to the top with the message as its preview.
    await expect(conversations(page).first).to_contain_text(text)
    assert api.get(f"/admin/chats/{target['id']}").json()["is_locked"] is True

    await page.get_by_role("button", name="Devolver a la IA").click()
    await expect(page.get_by_text("La IA está respondiendo")).to_be_visible()
    await expect(row(page, name).get_by_role("img", name="Control humano")).to_have_count(0)
    assert api.get(f"/admin/chats/{target['id']}").json()["is_locked"] is False
    await page.get_by_role("button", name="Intervenir").click()
    await expect(page.get_by_role("button", name="Devolver a la IA")).to_be_visible()
    await page.get_by_role("button", name="Devolver a la IA").click()
    await expect(page.get_by_role("button", name="Intervenir")).to_be_visible()


async def test_edit_contact_with_errors_shown_in_place(page: Page, api: httpx2.Client) -> None:
    target = summary_rows(api)[3]
    await open_chat(page, target["display_name"])
    phone = page.get_by_label("Número", exact=True)
    await phone.fill("12345")
    await page.get_by_role("button", name="Guardar contacto").click()
    await expect(phone).to_have_attribute("aria-invalid", "true")
    error = page.locator("#err-phone")
    await expect(error).to_contain_text("E.164")
    assert api.get(f"/admin/contacts/{target['contact_id']}").json()["phone"] == (target["customer_phone"] or None)

    new_name = f"{target['display_name']} Editada"
    await page.get_by_label("Nombre", exact=True).fill(new_name)
    await phone.fill("+34612345678")
    await page.get_by_label("Notas").fill("Prefiere que le escriban por la tarde.")
    await page.get_by_role("button", name="Guardar contacto").click()
    await expect(page.get_by_text("Contacto guardado")).to_be_visible()
    await expect(phone).to_have_attribute("aria-invalid", "false")
    await expect(row(page, new_name)).to_be_visible()
    await expect(page.get_by_role("heading", level=2, name=new_name)).to_be_visible()
    saved = api.get(f"/admin/contacts/{target['contact_id']}").json()
    assert (saved["display_name"], saved["phone"], saved["notes"]) == (
        new_name, "+34612345678", "Prefiere que le escriban por la tarde.")


async def test_tags_create_rename_apply_remove_delete(page: Page, api: httpx2.Client) -> None:
    target = summary_rows(api)[4]
    name = target["display_name"]
    await open_chat(page, name)
    tag_name = f"Prueba {uuid.uuid4().hex[:4]}"
    renamed = tag_name + " VIP"

    await page.get_by_role("button", name="Gestionar etiquetas").click()
    dialog = page.get_by_role("dialog", name="Gestionar etiquetas")
    await dialog.get_by_label("Nombre de la etiqueta").fill(tag_name)
    await dialog.get_by_label("Color", exact=True).fill("#0ea5e9")
    await dialog.get_by_role("button", name="Crear etiqueta").click()
    rename = dialog.get_by_label(f"Renombrar {tag_name}")
    await expect(rename).to_be_visible()
    await rename.fill(renamed)
    await rename.press("Enter")
    await expect(dialog.get_by_label(f"Renombrar {renamed}")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert any(t["name"] == renamed and t["color"] == "#0ea5e9" for t in api.get("/admin/tags").json())

    await page.get_by_label("Añadir etiqueta").select_option(label=renamed)
    remove = page.get_by_role("button", name=f"Quitar etiqueta {renamed}")
    await expect(remove).to_be_visible()
    # The newest tag is the row's active tag.
    await expect(row(page, name).locator(".tag-chip")).to_have_text(renamed)
    await remove.click()
    await expect(remove).to_have_count(0)
    await expect(row(page, name).locator(".tag-chip", has_text=renamed)).to_have_count(0)

    await page.get_by_role("button", name="Gestionar etiquetas").click()
    await dialog.get_by_role("button", name=f"Eliminar {renamed}").click()
    await dialog.get_by_role("group", name=f"Eliminar {renamed}").get_by_role("button", name=f"Eliminar {renamed}").click()
    await expect(dialog.get_by_label(f"Renombrar {renamed}")).to_have_count(0)
    await dialog.get_by_role("button", name="Cerrar").click()
    await expect(page.get_by_label("Añadir etiqueta").locator("option", has_text=renamed)).to_have_count(0)
    assert all(t["name"] != renamed for t in api.get("/admin/tags").json())


async def test_ai_summary_is_shown(page: Page, api: httpx2.Client) -> None:
    target = summary_rows(api)[0]
    await open_chat(page, target["display_name"])
    summary = page.get_by_role("region", name="Resumen de la IA")
    await expect(summary.locator(".summary-text")).not_to_be_empty()
    await expect(summary).to_contain_text("mensajes")
    expected = api.get(f"/admin/chats/{target['id']}/summary").json()
    await expect(summary.locator(".summary-text")).to_have_text(expected["summary"].strip())


async def test_inbound_message_appears_live_and_the_ai_reply_explains_itself(
        page: Page, api: httpx2.Client, e2e_server: E2EServer, nora_on_test_channel: dict[str, Any]) -> None:
    await expect(page.get_by_role("status", name="En vivo")).to_be_visible()
    marker = await page.evaluate("() => (window.__noReload = Math.random())")
    external = f"e2e-{uuid.uuid4().hex[:8]}"
    name = f"Cliente En Vivo {external[-4:]}"
    e2e_server.post_inbound("Hola, ¿tienen pan de muerto?", external_id=external, name=name)
    await expect(conversations(page).first).to_contain_text(name)
    await expect(conversations(page).first).to_contain_text("pan de muerto")

    await open_chat(page, name)
    e2e_server.post_inbound("¿Y hacen envíos a Coyoacán?", external_id=external)
    await expect(page.locator(".bubble-contact").filter(has_text="envíos a Coyoacán")).to_be_visible()
    await expect(conversations(page).first).to_contain_text("envíos a Coyoacán")

    # The assistant answers on its own; its reply says why.
    ai_reply = page.locator(".bubble-ai").last
    await expect(ai_reply).to_be_visible(timeout=30_000)
    await expect(ai_reply).to_contain_text("Nora")
    await ai_reply.get_by_role("button", name="Ver por qué la IA respondió esto").click()
    dialog = page.get_by_role("dialog", name="Por qué respondió la IA")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Proveedor")
    await expect(dialog.locator(".trace-grid")).to_contain_text(re.compile(r"\d+ ms"))
    await expect(dialog).to_contain_text("Pasos")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # Focus is back on the control that opened the dialog.
    await expect(ai_reply.get_by_role("button", name="Ver por qué la IA respondió esto")).to_be_focused()
    assert await page.evaluate("() => window.__noReload") == marker


async def test_after_a_restart_the_page_reconnects_and_catches_up(
        page: Page, api: httpx2.Client, e2e_server: E2EServer) -> None:
    external = f"e2e-{uuid.uuid4().hex[:8]}"
    name = f"Cliente Reinicio {external[-4:]}"
    first = e2e_server.post_inbound("Primer mensaje antes del reinicio", external_id=external, name=name)
    # Keep the AI quiet (only the customer writes here): locked through the API at once, since the
    # assistant may already be answering or handing off by the time the page could click.
    assert api.post(f"/admin/conversations/{first['conversation_id']}/human-override",
                    json={"locked": True}).status_code == 200
    await open_chat(page, name)
    await expect(page.locator(".bubble-contact").filter(has_text="antes del reinicio")).to_be_visible()
    await expect(page.get_by_role("button", name="Devolver a la IA")).to_be_visible()
    marker = await page.evaluate("() => (window.__noReload = Math.random())")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    e2e_server.stop()
    await expect(page.get_by_role("status", name="Reconectando…")).to_be_visible()
    e2e_server.start()
    # Messages that arrive while the page is still waiting to reconnect.
    e2e_server.post_inbound("Llegó durante el reinicio", external_id=external)
    other = f"e2e-{uuid.uuid4().hex[:8]}"
    e2e_server.post_inbound("Soy nuevo, escribí durante el corte", external_id=other, name=f"Nuevo Corte {other[-4:]}")

    await expect(page.get_by_role("status", name="En vivo")).to_be_visible(timeout=45_000)
    await expect(page.locator(".bubble-contact").filter(has_text="Llegó durante el reinicio")).to_be_visible()
    await expect(row(page, f"Nuevo Corte {other[-4:]}")).to_be_visible()
    assert await page.evaluate("() => window.__noReload") == marker
    assert any("after=" in url for url in sockets), sockets
    # The assistant answers the new contact a few seconds later (or hands off): wait for it here,
    # so that its late events do not land in the next test's list.
    answered_by_ai = api.get(f"/admin/channels/{e2e_server.channel_id}").json()["assistant_id"] is not None
    deadline = time.monotonic() + (30 if answered_by_ai else 0)
    while time.monotonic() < deadline:
        rows = api.get("/admin/chats/summary", params={"q": f"Nuevo Corte {other[-4:]}"}).json()
        if rows and not rows[0]["last_message"].startswith("Soy nuevo"):
            break
        await page.wait_for_timeout(200)


async def test_ai_summary_refresh_with_handoff_brief(page: Page, api: httpx2.Client) -> None:
    target = summary_rows(api)[0]
    await open_chat(page, target["display_name"])
    summary = page.get_by_role("region", name="Resumen de la IA")
    await expect(summary.locator(".summary-text")).not_to_be_empty()
    await summary.get_by_role("button", name="Actualizar resumen").click()
    await expect(summary.get_by_role("status")).to_have_count(0, timeout=20_000)  # "Generando…" is gone
    await expect(summary).not_to_contain_text("no está disponible")
    await expect(summary.locator(".summary-text")).not_to_be_empty()
    await expect(summary).to_contain_text("Generado")


async def test_a_hundred_thousand_conversations_scroll_in_a_window_of_rows(page: Page) -> None:
    """The list is virtualized over keyset pages: scrolling through 100,000 conversations keeps a
    few dozen rows in the page, and each page is asked for with the cursor the previous one gave."""
    total, per_page = 100_000, 5_000
    cursors: list[str | None] = []

    def fake_row(i: int) -> dict[str, Any]:
        return {"id": f"00000000-0000-4000-8000-{i:012d}", "customer_phone": f"+52155{i:08d}",
                "display_name": f"Contacto {i:06d}", "last_message": f"Mensaje {i}",
                "timestamp": "2026-01-01T00:00:00Z", "channel_source": ("whatsapp", "instagram", "facebook", "web")[i % 4],
                "unread_count": i % 3, "is_locked": i % 5 == 0, "platform_origin": "", "contact_id": str(uuid.uuid4()),
                "status": "open", "tags": [], "last_inbound_at": None}

    async def serve_page(route: Any) -> None:
        cursor = re.search(r"cursor=([^&]+)", route.request.url)
        start = int(cursor.group(1)) if cursor else 0
        cursors.append(cursor.group(1) if cursor else None)
        rows = [fake_row(i) for i in range(start, min(total, start + per_page))]
        headers = {"X-Next-Cursor": str(start + per_page)} if start + per_page < total else {}
        await route.fulfill(status=200, json=rows, headers=headers)

    await page.route(re.compile(r".*/admin/chats/summary\?.*"), serve_page)
    await page.reload()
    listbox = page.get_by_role("listbox", name="Conversaciones")
    # Only the fake rows count: a live event from an earlier test's conversation (the assistant
    # answering or handing off a little later) may still put a real row on top.
    fake_rows = conversations(page).filter(has_text="Contacto ")
    await expect(fake_rows.first).to_contain_text("Contacto 000000")
    scroller = page.locator(".list-scroll")
    last = page.locator(".conv-row .conv-name").last
    deadline = time.monotonic() + 90  # 20 pages of 5,000 rows, built in Python, on a shared machine
    while time.monotonic() < deadline:
        await scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        if await last.inner_text() == f"Contacto {total - 1:06d}":
            break
        await page.wait_for_timeout(100)
    await expect(last).to_have_text(f"Contacto {total - 1:06d}")
    assert await page.locator(".conv-row").count() < 60
    assert await listbox.evaluate("el => el.scrollHeight") >= total * 70
    # Each next page asked for once, in order (the first page may also have been asked for by the
    # page load that the route was installed during).
    assert [c for c in cursors if c is not None] == [str(n) for n in range(per_page, total, per_page)]
    # Back to the top in one jump: the first rows are drawn again.
    await scroller.evaluate("el => { el.scrollTop = 0; }")
    await expect(fake_rows.first).to_contain_text("Contacto 000000")


async def test_older_messages_load_when_scrolling_up(page: Page, api: httpx2.Client, e2e_server: E2EServer) -> None:
    external = f"e2e-{uuid.uuid4().hex[:8]}"
    name = f"Cliente Historial {external[-4:]}"
    first = e2e_server.post_inbound("Mensaje 01 (el más antiguo)", external_id=external, name=name)
    # A human holds the conversation, so only the customer's 60 messages are in it.
    assert api.post(f"/admin/conversations/{first['conversation_id']}/human-override",
                    json={"locked": True}).status_code == 200
    for n in range(2, 61):
        e2e_server.post_inbound(f"Mensaje {n:02d}", external_id=external)
    await open_chat(page, name)
    log = page.get_by_role("log", name="Mensajes")
    await expect(log.locator(".bubble").last).to_contain_text("Mensaje 60")
    oldest = log.locator(".bubble").filter(has_text="Mensaje 01")
    await expect(oldest).to_have_count(0)  # only the latest page is loaded at first
    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(oldest).to_be_visible()
    await expect(log.get_by_text("Inicio de la conversación")).to_be_visible()
    assert await log.locator(".bubble").count() == 60


async def test_another_agents_changes_show_without_reload(page: Page, browser: Any, logged_in_state: dict[str, Any],
                                                          e2e_server: E2EServer, api: httpx2.Client) -> None:
    target = summary_rows(api)[5]
    other_context = await browser.new_context(viewport=VIEWPORT, locale="es-ES", storage_state=logged_in_state)
    other = await other_context.new_page()
    try:
        await other.goto(f"{e2e_server.url}/panel_cliente/demo/chat")
        await expect(other.get_by_role("status", name="En vivo")).to_be_visible()
        await expect(page.get_by_role("status", name="En vivo")).to_be_visible()
        await open_chat(page, target["display_name"])
        renamed = f"{target['display_name']} (otra pestaña)"
        await page.get_by_label("Nombre", exact=True).fill(renamed)
        await page.get_by_role("button", name="Guardar contacto").click()
        await expect(row(other, renamed)).to_be_visible()

        tag_name = f"Compartida {uuid.uuid4().hex[:4]}"
        await page.get_by_role("button", name="Gestionar etiquetas").click()
        dialog = page.get_by_role("dialog", name="Gestionar etiquetas")
        await dialog.get_by_label("Nombre de la etiqueta").fill(tag_name)
        await dialog.get_by_role("button", name="Crear etiqueta").click()
        await expect(other.get_by_label("Etiqueta", exact=True).locator("option", has_text=tag_name)).to_have_count(1)
    finally:
        await other_context.close()


# The player's own view: once metadata is in, the span it can seek to, then a seek to the middle.
SEEK = """async el => {
  const wait = (event) => new Promise((ok, ko) => {
    el.addEventListener(event, ok, { once: true });
    el.addEventListener("error", () => ko(new Error("media error " + (el.error && el.error.message))), { once: true });
  });
  if (el.readyState < 1) await wait("loadedmetadata");
  const duration = el.duration, seekable = el.seekable.length ? el.seekable.end(0) : 0;
  const seeked = wait("seeked");
  el.currentTime = duration / 2;
  await seeked;
  return { duration, seekable, at: el.currentTime };
}"""


async def test_demo_video_and_voice_notes_play_and_seek(page: Page, api: httpx2.Client, e2e_server: E2EServer) -> None:
    """The browser can seek in the demo's video and voice notes (only when the server answers byte
    ranges does it count the whole file as seekable), and its pictures load."""
    found: dict[str, str] = {}
    for r in summary_rows(api):
        for m in api.get(f"/admin/chats/{r['id']}/messages", params={"limit": 100}).json():
            for a in m["attachments"]:
                found.setdefault(a["type"], r["id"])
    assert {"video", "audio", "image"} <= set(found)
    for kind in ("video", "audio"):
        await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat/{found[kind]}")
        player = page.get_by_role("log", name="Mensajes").locator(f".att-{kind}").first
        await expect(player).to_be_attached()
        seen = await player.evaluate(SEEK)
        assert seen["duration"] > 1 and seen["seekable"] == pytest.approx(seen["duration"], abs=0.05), seen
        assert seen["at"] == pytest.approx(seen["duration"] / 2, abs=0.25), seen
    await page.goto(f"{e2e_server.url}/panel_cliente/demo/chat/{found['image']}")
    picture = page.get_by_role("log", name="Mensajes").locator(".att-image img").first
    await expect(picture).to_be_visible()
    width = await picture.evaluate("img => img.complete ? img.naturalWidth : new Promise(ok => "
                                   "img.addEventListener('load', () => ok(img.naturalWidth), { once: true }))")
    assert width >= 240


async def test_filters_and_the_open_conversation_survive_a_reload(page: Page, api: httpx2.Client) -> None:
    await expect(conversations(page).first).to_be_visible()
    await page.get_by_label("Canal", exact=True).select_option(label="WhatsApp")
    rows = summary_rows(api, channel="whatsapp")
    word = rows[0]["display_name"].split()[0]
    await page.get_by_role("searchbox", name="Buscar por nombre o número").fill(word)
    await expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(quote(word))))
    expected = [r["display_name"] for r in summary_rows(api, channel="whatsapp", q=word)]
    await expect_list_starts_with(page, expected)
    await open_chat(page, expected[0])
    await expect(page).to_have_url(re.compile(r"/panel_cliente/demo/chat/[0-9a-f-]{36}\?.*channel=whatsapp"))

    await page.reload()
    await expect(page.get_by_label("Canal", exact=True)).to_have_value("whatsapp")
    await expect(page.get_by_role("searchbox", name="Buscar por nombre o número")).to_have_value(word)
    await expect(page.get_by_role("heading", level=2, name=expected[0])).to_be_visible()
    await expect_list_starts_with(page, expected)
    # Day labels start with a capital and go on in lower case, as Spanish writes them.
    for label in await page.locator(".day-sep:not(.start) span").all_inner_texts():
        assert re.fullmatch(r"Hoy|Ayer|[A-ZÁÉÍÓÚ][a-záéíóú]+, \d{1,2} de [a-z]+( de \d{4})?", label), label
    # Clearing the filters gives the plain address back.
    await page.get_by_label("Canal", exact=True).select_option(label="Todos los canales")
    await page.get_by_role("searchbox", name="Buscar por nombre o número").fill("")
    await expect(page).to_have_url(re.compile(r"/panel_cliente/demo/chat/[0-9a-f-]{36}$"))
