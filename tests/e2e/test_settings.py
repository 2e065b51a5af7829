"""The owner's settings in a real browser: an assistant made and tried, knowledge added and used in a
reply, a member who then logs in with an agent's rights, an API token created and revoked, the
tenant's name and time zone. Every error on these screens is said in the chosen language."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.server.mcpserver import MCPServer
from playwright.async_api import Page, expect
from starlette.responses import JSONResponse

from tests.e2e.conftest import ARTIFACTS, VIEWPORT, E2EServer
from tests.fakes.harness import ThreadedUvicorn


async def until(page: Page, check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait for a condition the server tells (not the page), with a deadline."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await page.wait_for_timeout(100)


async def open_settings(page: Page, section: str) -> None:
    """Through the header, as a person would: the gear, then the section in the settings' navigation."""
    await page.get_by_role("link", name="Ajustes").click()
    await page.wait_for_url("**/panel_cliente/demo/settings/assistant")
    nav = page.get_by_role("navigation", name="Secciones de ajustes")
    await nav.get_by_role("link", name=section, exact=True).click()
    await expect(nav.get_by_role("link", name=section, exact=True)).to_have_attribute("aria-current", "page")


async def test_create_an_assistant_and_try_it(page: Page, api: httpx2.Client) -> None:
    await open_settings(page, "Asistente")
    name = f"Lola {uuid.uuid4().hex[:4]}"
    await page.get_by_role("button", name="Nuevo asistente").click()
    creating = page.get_by_role("form", name="Nuevo asistente")
    await creating.get_by_label("Nombre", exact=True).fill(name)
    await creating.get_by_role("button", name="Crear asistente").click()
    form = page.locator("form.assistant-form")  # (its name follows the language)
    await expect(form.get_by_label("Nombre", exact=True)).to_have_value(name)
    listed = api.get("/admin/assistants").json()
    created = next((a for a in listed if a["name"] == name), None)
    assert created, listed
    assert created["provider"] == "offline" and created["language"] == "es"

    # A value out of range comes back from the server as a field error, in Spanish.
    await form.get_by_label("Temperatura").fill("5")
    await form.get_by_label("Personalidad e instrucciones").fill("Eres Lola, hablas de tú y con calma.")
    await form.get_by_role("button", name="Guardar cambios").click()
    await expect(form.get_by_text("Debe ser 2 o menos.")).to_be_visible()
    await expect(form.get_by_label("Temperatura")).to_have_attribute("aria-invalid", "true")
    # ... and in English once English is chosen.
    await page.get_by_label("Idioma", exact=True).select_option("en")
    await expect(form.get_by_text("It must be 2 or less.")).to_be_visible()
    await page.get_by_label("Language", exact=True).select_option("es")

    await form.get_by_label("Temperatura").fill("0.3")
    await form.get_by_label("Añadir etiquetas al cliente").uncheck()
    await form.get_by_role("button", name="Guardar cambios").click()
    await expect(page.get_by_text("Cambios guardados")).to_be_visible()
    saved = api.get(f"/admin/assistants/{created['id']}").json()
    assert saved["temperature"] == 0.3 and saved["instructions"] == "Eres Lola, hablas de tú y con calma."
    assert "add_tag" not in saved["enabled_tools"] and "search_knowledge" in saved["enabled_tools"]

    # An OpenAI-compatible provider: model, base URL and a write-only key.
    await form.get_by_label("Proveedor del modelo").select_option("openai")
    await form.get_by_label("Modelo", exact=True).fill("llama3.1")
    await form.get_by_label("URL base").fill("http://127.0.0.1:9/v1")
    await form.get_by_label("Clave de API").fill("sk-e2e-secret")
    await form.get_by_role("button", name="Guardar cambios").click()
    await expect(form.get_by_text("Hay una clave guardada. Escribe otra para reemplazarla.")).to_be_visible()
    saved = api.get(f"/admin/assistants/{created['id']}").json()
    assert (saved["provider"], saved["model"], saved["base_url"], saved["has_api_key"]) == (
        "openai", "llama3.1", "http://127.0.0.1:9/v1", True)
    assert "sk-e2e-secret" not in api.get(f"/admin/assistants/{created['id']}").text
    await form.get_by_label("Proveedor del modelo").select_option("offline")
    await form.get_by_role("button", name="Guardar cambios").click()
    await expect(page.get_by_text("Cambios guardados")).to_be_visible()

    # Try it: a greeting, then a question its (empty) knowledge cannot answer, with the trace.
    trial = page.get_by_role("region", name="Pruébalo")
    box = trial.get_by_label("Escribe como lo haría un cliente")
    await box.fill("Hola")
    await box.press("Enter")
    await expect(trial.locator(".try-assistant .bubble-text")).to_have_text(f"¡Hola! Soy {name}. ¿En qué te puedo ayudar?")
    await box.fill("¿Venden bicicletas?")
    await box.press("Enter")
    await expect(trial.get_by_role("note")).to_contain_text("Pasaría la conversación a una persona")
    await expect(trial.get_by_role("note")).to_contain_text("bicicletas")
    await trial.get_by_role("button", name="Ver por qué respondió esto").last.click()
    await expect(trial.locator(".try-trace")).to_contain_text("search_knowledge")
    await expect(trial.locator(".try-trace")).to_contain_text("offline")
    assert not [r for r in api.get("/admin/chats/summary", params={"q": "bicicletas"}).json()]

    # Deleting asks first; cancelling gives the focus back to the button that asked.
    delete = form.get_by_role("button", name="Eliminar asistente")
    await delete.click()
    dialog = page.get_by_role("dialog", name="Eliminar asistente")
    await expect(dialog).to_contain_text(name)
    await dialog.get_by_role("button", name="Cancelar").click()
    await expect(dialog).to_be_hidden()
    await expect(delete).to_be_focused()
    await delete.click()
    await dialog.get_by_role("button", name="Eliminar asistente").click()
    await expect(page.get_by_role("form", name="Asistente", exact=True).get_by_label("Nombre", exact=True)).not_to_have_value(name)
    assert all(a["name"] != name for a in api.get("/admin/assistants").json())


async def test_knowledge_added_is_found_and_used_in_a_reply(
        page: Page, api: httpx2.Client, e2e_server: E2EServer, nora_on_test_channel: dict[str, Any],
        tmp_path: Path) -> None:
    await open_settings(page, "Conocimiento")
    nora = nora_on_test_channel
    picker = page.get_by_label("Asistente que editas")
    if await picker.count():
        await picker.select_option(label="Nora")
    topic = f"club de lectura {uuid.uuid4().hex[:4]}"
    new = page.get_by_role("form", name="Nueva entrada")
    await new.get_by_label("Título").fill(f"El {topic}")
    await new.get_by_label("Contenido (Markdown)").fill(
        f"El **{topic}** se reúne los jueves a las 19:00 en la terraza del café. La entrada es libre.")
    await new.get_by_role("button", name="Añadir entrada").click()
    await expect(page.get_by_role("region", name="Entradas").get_by_text(f"El {topic}")).to_be_visible()

    # A document upload becomes an entry too.
    doc = tmp_path / "mascotas.md"
    doc.write_text("# Mascotas\n\nLas mascotas son bienvenidas en la terraza, con correa.", encoding="utf-8")
    await page.get_by_role("button", name="Subir un documento").set_input_files(str(doc))
    await expect(page.get_by_role("status").filter(has_text="«Mascotas» añadido al conocimiento.")).to_be_visible()
    await expect(page.get_by_role("region", name="Entradas").get_by_text("De mascotas.md")).to_be_visible()
    # A file that is not what its name says is refused, in Spanish.
    fake = tmp_path / "menu.pdf"
    fake.write_bytes(b"no soy un PDF")
    await page.get_by_role("button", name="Subir un documento").set_input_files(str(fake))
    await expect(page.get_by_role("alert").filter(has_text="Ese tipo de archivo no se admite.")).to_be_visible()

    # The search preview shows what the assistant would find.
    await page.get_by_label("Pregunta de prueba").fill(f"¿Cuándo se reúne el {topic}?")
    await page.get_by_role("button", name="Buscar").click()
    hits = page.get_by_role("list", name="Pasajes encontrados")
    await expect(hits.locator("li").first).to_contain_text(f"El {topic}")
    await page.get_by_label("Pregunta de prueba").fill("helicópteros submarinos")
    await page.get_by_role("button", name="Buscar").click()
    await expect(page.get_by_text("No encontraría nada: pasaría la conversación a una persona.")).to_be_visible()

    # A customer asks, and the assistant answers from that entry in the inbox.
    external = f"e2e-{uuid.uuid4().hex[:8]}"
    contact = f"Lectora {external[-4:]}"
    e2e_server.post_inbound(f"Hola, ¿cuándo se reúne el {topic}?", external_id=external, name=contact)
    await page.get_by_role("link", name="Conversaciones").click()
    await page.get_by_role("listbox", name="Conversaciones").get_by_role("option").filter(has_text=contact).first.click()
    reply = page.locator(".bubble-ai").last
    await expect(reply).to_contain_text("jueves a las 19:00", timeout=30_000)
    await expect(reply).to_contain_text(f"El {topic}")
    assert nora["id"]


async def test_a_new_member_logs_in_with_an_agents_rights(page: Page, api: httpx2.Client, browser: Any,
                                                          e2e_server: E2EServer) -> None:
    await open_settings(page, "Miembros")
    members = page.get_by_role("list", name="Miembros")
    # The only owner cannot be removed or demoted, and the screen says why.
    owner = members.get_by_role("listitem", name="Ana Lucía Herrera")
    await expect(owner).to_contain_text("Es el único propietario")
    await expect(owner.get_by_role("button", name="Quitar a Ana Lucía Herrera")).to_be_disabled()

    email = f"agente-{uuid.uuid4().hex[:6]}@cafe-aurora.example"
    form = page.get_by_role("form", name="Añadir miembro")
    await form.get_by_label("Correo electrónico").fill(email)
    await form.get_by_label("Nombre", exact=True).fill("Rosa Agente")
    await form.get_by_label("Contraseña inicial").fill("corta")
    await form.get_by_role("button", name="Crear miembro").click()
    await expect(form.get_by_role("alert")).to_contain_text("La contraseña es demasiado débil")
    await form.get_by_label("Contraseña inicial").fill("rosa-agente-2026")
    await form.get_by_role("button", name="Crear miembro").click()
    await expect(form.get_by_role("status")).to_contain_text(f"{email} ya puede entrar")
    row = members.get_by_role("listitem", name="Rosa Agente")
    await expect(row.get_by_label("Rol de Rosa Agente")).to_have_value("agent")

    # She logs in: the inbox, but no settings; the settings' address tells her they are not hers.
    context = await browser.new_context(viewport=VIEWPORT, locale="es-ES")
    agent = await context.new_page()
    try:
        await agent.goto(f"{e2e_server.url}/login")
        await agent.get_by_label("Correo electrónico").fill(email)
        await agent.get_by_label("Contraseña").fill("rosa-agente-2026")
        await agent.get_by_role("button", name="Entrar").click()
        await agent.wait_for_url("**/panel_cliente/demo/chat")
        await expect(agent.get_by_role("listbox", name="Conversaciones").get_by_role("option").first).to_be_visible()
        await expect(agent.get_by_role("link", name="Conversaciones")).to_be_visible()
        await expect(agent.get_by_role("link", name="Ajustes")).to_have_count(0)
        await agent.goto(f"{e2e_server.url}/panel_cliente/demo/settings/members")
        await expect(agent.get_by_role("alert")).to_have_text(re.compile("Solo los propietarios y administradores"))
        status = await agent.evaluate("fetch('/admin/members').then(r => r.status)")
        assert status == 403
    finally:
        await context.close()

    # The owner makes her an admin, then removes her.
    await row.get_by_label("Rol de Rosa Agente").select_option("admin")
    await until(page, lambda: next(m["role"] for m in api.get("/admin/members").json() if m["email"] == email) == "admin",
                "the new role saved")
    await row.get_by_role("button", name="Quitar a Rosa Agente").click()
    await page.get_by_role("dialog", name="Quitar a Rosa Agente").get_by_role("button", name="Quitar a Rosa Agente").click()
    await expect(row).to_have_count(0)
    assert all(m["email"] != email for m in api.get("/admin/members").json())


async def test_an_api_token_is_shown_once_and_revoked(page: Page, api: httpx2.Client, e2e_server: E2EServer) -> None:
    await open_settings(page, "Tokens de API")
    name = f"CRM {uuid.uuid4().hex[:4]}"
    await page.get_by_label("Nombre del token").fill(name)
    await page.get_by_role("button", name="Crear token").click()
    await expect(page.get_by_text("Copia este token ahora: no se volverá a mostrar.")).to_be_visible()
    token = await page.get_by_label("Token nuevo").input_value()
    assert token.startswith("trt")
    with httpx2.Client(base_url=e2e_server.url, timeout=10) as script:
        headers = {"Authorization": f"Bearer {token}"}
        assert script.get("/admin/chats/summary", headers=headers).status_code == 200
        await page.get_by_role("button", name="Ya lo copié").click()
        await expect(page.get_by_label("Token nuevo")).to_have_count(0)
        row = page.get_by_role("listitem", name=name)
        await expect(row).to_contain_text(f"Empieza por {token[:8]}")
        await row.get_by_role("button", name=f"Revocar {name}").click()
        await page.get_by_role("dialog", name=f"Revocar {name}").get_by_role("button", name=f"Revocar {name}").click()
        await expect(row).to_contain_text("Revocado")
        await expect(row.get_by_role("button", name=f"Revocar {name}")).to_have_count(0)
        refused = script.get("/admin/chats/summary", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    assert token not in api.get("/admin/tokens").text


async def test_the_tenants_name_and_time_zone(page: Page, api: httpx2.Client) -> None:
    before = api.get("/admin/tenant").json()
    await open_settings(page, "Negocio")
    try:
        await page.get_by_label("Nombre del negocio").fill("Café Aurora Roma")
        await page.get_by_label("Zona horaria").select_option("America/Mexico_City")
        await page.get_by_role("button", name="Guardar cambios").click()
        await expect(page.get_by_role("status").filter(has_text="Cambios guardados")).to_be_visible()
        await expect(page.locator(".tenant-name")).to_have_text("Café Aurora Roma")
        saved = api.get("/admin/tenant").json()
        assert (saved["name"], saved["time_zone"], saved["slug"]) == ("Café Aurora Roma", "America/Mexico_City", "demo")
        await page.get_by_label("Nombre del negocio").fill("   ")
        await page.get_by_role("button", name="Guardar cambios").click()
        await expect(page.get_by_text("No puede quedar vacío.")).to_be_visible()
        await page.reload()
        await expect(page.get_by_label("Zona horaria")).to_have_value("America/Mexico_City")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "settings-tenant-1440.png"))
    finally:
        api.patch("/admin/tenant", json={"name": before["name"], "time_zone": before["time_zone"]})


@pytest.fixture
def menu_mcp_url() -> Iterator[str]:
    """A real MCP server (the SDK's) on 127.0.0.1 that wants an Authorization header."""

    server = MCPServer("menu")

    @server.tool()
    def dish_of_the_day() -> str:
        """Today's dish."""
        return "chilaquiles verdes"

    app = server.streamable_http_app()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != b"Bearer menu-key":
            await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
            return
        await app(scope, receive, send)

    served = ThreadedUvicorn(guarded, name="mcp-menu", lifespan="on")
    served.start()
    yield f"{served.url}/mcp"
    served.stop()


async def test_an_mcp_server_added_by_url_shows_its_tools_and_is_removed(
        page: Page, api: httpx2.Client, menu_mcp_url: str) -> None:
    await open_settings(page, "Asistente")
    name = f"menu{uuid.uuid4().hex[:4]}"
    form = page.get_by_role("form", name="Añadir servidor")
    await form.get_by_label("Nombre", exact=True).fill(name)
    await form.get_by_label("URL del servidor").fill(menu_mcp_url)
    await form.get_by_label("Cabecera Authorization").fill("Bearer menu-key")
    await form.get_by_role("button", name="Añadir servidor").click()
    servers = page.get_by_role("region", name="Servidores MCP")
    await servers.get_by_role("button", name=f"Ver herramientas de {name}").click()
    await expect(servers.get_by_text("dish_of_the_day")).to_be_visible(timeout=20_000)
    await expect(servers.get_by_text("Today's dish.")).to_be_visible()
    assert "menu-key" not in api.get("/admin/mcp-servers").text  # the header is write-only

    await servers.get_by_role("button", name=f"Quitar {name}").click()
    await page.get_by_role("dialog", name=f"Quitar {name}").get_by_role("button", name=f"Quitar {name}").click()
    await expect(servers.get_by_text(name)).to_have_count(0)
    assert all(s["name"] != name for s in api.get("/admin/mcp-servers").json())
