"""The customer phone page in a real browser, and the sandbox as a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tertulia.sandbox.server import SandboxServer
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.sandbox.conftest import WebhookReceiver, register


@pytest.fixture
async def chromium_page(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page(viewport={"width": 420, "height": 800}, locale="es-ES")
        yield page
        await browser.close()


async def test_a_person_writes_on_the_phone_and_sees_the_reply_ticks(http: httpx2.AsyncClient,
                                                                      sandbox: SandboxServer,
                                                                      receiver: WebhookReceiver,
                                                                      chromium_page: Any) -> None:
    from playwright.async_api import expect

    ch = await register(http, receiver, "whatsapp_cloud", verified_name="Café Aurora")
    page = chromium_page
    await page.goto(f"{sandbox.url}/phone")
    await expect(page.locator("#canal")).to_contain_text("Café Aurora")
    await page.select_option("#canal", ch["channel"]["key"])  # the session's sandbox has other channels too
    await page.fill("#texto", "Hola, ¿abrís el domingo?")
    await page.press("#texto", "Enter")
    await expect(page.locator(".msg.cliente")).to_contain_text("¿abrís el domingo?")
    [hook] = await receiver.wait_posts(1, "/whatsapp_cloud")
    message = json.loads(hook.body)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["text"]["body"] == "Hola, ¿abrís el domingo?" and message["from"] == "34600111222"

    reply = await http.post(f"{sandbox.graph_url}/{ch['channel']['key']}/messages",
                            headers={"authorization": f"Bearer {ch['credentials']['access_token']}"},
                            json={"messaging_product": "whatsapp", "to": "34600111222", "type": "text",
                                  "text": {"body": "Sí, de 9 a 14."}})
    wamid = reply.json()["messages"][0]["id"]
    business = page.locator(".msg.negocio")
    await expect(business).to_contain_text("de 9 a 14")
    await expect(business.locator("[title='Pendiente']")).to_have_count(1)
    await http.post("/_sandbox/statuses", json={"message_id": wamid, "status": "delivered"})
    await expect(business.locator(".ticks[title='Entregado']")).to_have_count(1)
    await page.click("#leer")
    await expect(business.locator(".ticks.leido")).to_have_count(1)
    hooks = await receiver.wait_posts(3, "/whatsapp_cloud")
    statuses = [json.loads(h.body)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for h in hooks[1:]]
    assert statuses == ["delivered", "read"]


async def test_the_thread_shows_both_sides_in_order(http: httpx2.AsyncClient, sandbox: SandboxServer,
                                                    receiver: WebhookReceiver) -> None:
    ch = await register(http, receiver, "ycloud")
    await http.post("/_sandbox/messages", json={"channel": ch["channel"]["key"], "from": "+34600111222",
                                                "text": "Hola"})
    await http.post(f"{sandbox.ycloud_url}/whatsapp/messages", headers={"x-api-key": ch["credentials"]["api_key"]},
                    json={"from": ch["channel"]["key"], "to": "+34600111222", "type": "text",
                          "text": {"body": "Buenas"}})
    thread = (await http.get("/_sandbox/thread", params={"channel": ch["channel"]["key"],
                                                         "customer": "+34600111222"})).json()
    assert [(m["from"], m["text"]) for m in thread["messages"]] == [("customer", "Hola"), ("business", "Buenas")]
    page = await http.get("/phone")
    assert page.status_code == 200 and "Teléfono del cliente" in page.text and "Marcar como leído" in page.text


def test_the_sandbox_runs_as_a_process_of_its_own(receiver: WebhookReceiver) -> None:
    process = subprocess.Popen([sys.executable, "-m", "tertulia.sandbox", "--port", "0",
                                "--webhook-url", receiver.url("proceso")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(line.startswith("provider sandbox on ") for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "\n".join(lines)
            lines.append(process.stdout.readline().strip())
        base = next(line for line in lines if line.startswith("provider sandbox on ")).split()[-1]
        credentials = next(line for line in lines if line.startswith("WhatsApp Cloud channel:"))
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx2.get(f"{base}/_sandbox/health", timeout=1)
                break
            except httpx2.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert health.json() == {"ok": True, "channels": 1}
        [channel] = httpx2.get(f"{base}/_sandbox/channels").json()
        assert channel["kind"] == "whatsapp_cloud" and channel["key"] in credentials
        written = httpx2.post(f"{base}/_sandbox/messages", json={"channel": channel["key"], "from": "34600111222",
                                                                  "text": "Hola"}).json()
        assert written["delivery"]["outcome"] == "delivered"
        assert receiver.posts("/proceso")
    finally:
        process.terminate()
        process.wait(timeout=10)
