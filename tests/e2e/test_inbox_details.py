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
