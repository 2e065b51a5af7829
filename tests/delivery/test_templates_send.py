"""`POST /admin/templates/send`: only approved templates, parameters checked against the template (a
422 naming each problem), the rendered text stored for the inbox, Meta's template object sent."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tertulia.sandbox.samples import sample
from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, Shop, customer_writes, make_shop, sent_log, settled


async def synced(api: httpx2.AsyncClient, shop: Shop) -> dict[str, dict[str, Any]]:
    assert (await api.post("/admin/templates/sync", headers=shop.headers)).status_code == 200
    listed = (await api.get("/admin/templates", headers=shop.headers)).json()
    return {t["name"]: t for t in listed}


@pytest.mark.parametrize("kind", ["whatsapp_cloud", "ycloud"])
async def test_a_template_with_its_values_reaches_the_customer_and_the_inbox_shows_its_text(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver, kind: str) -> None:
    shop = await make_shop(out_app, control, kind, out_receiver)
    templates = await synced(api, shop)
    conv = (await customer_writes(shop, control, "Hola"))["conversation_id"]
    r = await api.post("/admin/templates/send", headers=shop.headers, json={
        "conversation_id": conv, "template_id": templates["recordatorio_cita"]["id"],
        "parameters": ["Lucía", "martes a las 10:00"]})
    assert r.status_code == 202, r.text
    message = r.json()["message"]
    assert message["kind"] == "template" and message["author"] == "human"
    assert message["content"] == "Hola Lucía, te recordamos tu cita del martes a las 10:00. ¿Nos confirmas?"
    assert message["extra"]["template"]["name"] == "recordatorio_cita"
    assert message["extra"]["template"]["parameters"] == ["Lucía", "martes a las 10:00"]
    assert [b["text"] for b in message["extra"]["template"]["buttons"]] == ["Confirmar", "Cambiar la cita"]
    assert (await settled(api, shop, conv, message["id"]))["status"] == "sent"
    [sent] = sent_log(sandbox, shop)
    assert sent["type"] == "template"
    assert sent["request"]["template"] == {"name": "recordatorio_cita", "language": {"code": "es"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Lucía"},
                                        {"type": "text", "text": "martes a las 10:00"}]}]}
    chat = (await api.get(f"/admin/chats/{conv}", headers=shop.headers)).json()
    assert chat["is_locked"] is False  # a template is the business's notice: the AI still answers the reply
    assert chat["last_message"].startswith("Hola Lucía, te recordamos")


async def test_a_named_template_with_a_header_file_and_a_url_button(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    templates = await synced(api, shop)
    conv = (await customer_writes(shop, control, "Hola"))["conversation_id"]
    picture, _, _ = sample("image")
    await out_app.state.store.put(f"media/{shop.tenant_id}/oferta.png", picture)
    r = await api.post("/admin/templates/send", headers=shop.headers, json={
        "conversation_id": conv, "template_id": templates["oferta_temporada"]["id"],
        "named_parameters": {"nombre": "Lucía", "descuento": "20 %"},
        "header": {"type": "image", "url": f"/media/{shop.tenant_id}/oferta.png"},
        "buttons": [{"index": 0, "parameter": "primavera"}]})
    assert r.status_code == 202, r.text
    message = r.json()["message"]
    assert message["content"].startswith("¡Hola Lucía! Esta semana tienes un 20 % de descuento")
    assert message["content"].endswith("Responde BAJA para no recibir ofertas")
    assert message["attachments"] == [{"type": "image", "url": f"/media/{shop.tenant_id}/oferta.png"}]
    assert message["extra"]["template"]["buttons"][0]["url"] == "https://tienda.example/ofertas/primavera"
    await settled(api, shop, conv, message["id"])
    [sent] = sent_log(sandbox, shop)
    header, body, button = sent["request"]["template"]["components"]
    assert sandbox.state.media[header["parameters"][0]["image"]["id"]].data == picture  # uploaded, sent by id
    assert body["parameters"] == [{"type": "text", "text": "Lucía", "parameter_name": "nombre"},
                                  {"type": "text", "text": "20 %", "parameter_name": "descuento"}]
    assert button == {"type": "button", "sub_type": "url", "index": "0",
                      "parameters": [{"type": "text", "text": "primavera"}]}


async def test_parameters_that_do_not_fit_are_a_422_naming_the_problem(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    templates = await synced(api, shop)
    conv = (await customer_writes(shop, control, "Hola"))["conversation_id"]

    async def problems(name: str, **body: Any) -> list[dict[str, Any]]:
        r = await api.post("/admin/templates/send", headers=shop.headers,
                           json={"conversation_id": conv, "template_id": templates[name]["id"], **body})
        assert r.status_code == 422 and r.json()["error"]["code"] == "template_parameters", r.text
        details: list[dict[str, Any]] = r.json()["error"]["details"]
        return details

    [count] = await problems("recordatorio_cita", parameters=["Lucía"])
    assert (count["field"], count["type"], count["ctx"]) == ("parameters", "template_parameter_count",
                                                            {"expected": 2, "given": 1})
    [blank] = await problems("recordatorio_cita", parameters=["Lucía", "  "])
    assert (blank["field"], blank["type"]) == ("parameters.1", "blank")
    [lines] = await problems("recordatorio_cita", parameters=["Lucía", "martes\na las 10"])
    assert lines["type"] == "template_parameter_format"
    found = await problems("oferta_temporada", named_parameters={"nombre": "Lucía", "cupon": "X"})
    assert {(p["type"], p["ctx"].get("names")) for p in found if "ctx" in p} >= {
        ("template_parameter_missing", "descuento"), ("template_parameter_unknown", "cupon")}
    assert {p["type"] for p in found} >= {"template_header_missing", "template_button_missing"}
    [positional] = await problems("oferta_temporada", parameters=["Lucía", "20 %"],
                                  header={"type": "image", "url": "https://tienda.example/o.png"},
                                  buttons=[{"index": 0, "parameter": "x"}])
    assert positional["type"] == "template_parameters_named" and "nombre, descuento" in positional["message"]
    # Only approved templates go; nothing was queued by any of the above.
    r = await api.post("/admin/templates/send", headers=shop.headers, json={
        "conversation_id": conv, "template_id": templates["pedido_enviado"]["id"], "parameters": ["#1", "jueves"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "template_not_approved"
    messages = (await api.get(f"/admin/chats/{conv}/messages", headers=shop.headers)).json()
    assert [m["author"] for m in messages] == ["contact"] and sent_log(sandbox, shop) == []
