"""`POST /admin/templates/sync` (and seed 001's `/templates/sync`): every template of every WhatsApp
channel, all pages of Meta's cursors and YCloud's pages, those gone marked; `GET /admin/templates`
with its filters."""

from __future__ import annotations

from typing import Any

import httpx2

from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, make_shop


def template_pages(sandbox: SandboxServer, provider: str) -> int:
    path = "/message_templates" if provider == "meta" else "/whatsapp/templates"
    return sum(1 for r in sandbox.state.requests if r["provider"] == provider and r["path"].endswith(path))


async def test_sync_follows_every_page_of_both_providers_and_marks_the_gone(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    cloud = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    # A second channel of the same tenant, on YCloud (registered in the sandbox, added to the tenant).
    other = await make_shop(out_app, control, "ycloud", out_receiver)
    r = await api.post("/admin/channels", headers=cloud.headers, json={
        "kind": "ycloud", "name": "YCloud", "credentials": other.credentials})
    assert r.status_code == 201, r.text
    ycloud_channel = r.json()["id"]
    assert (await control.put(f"/_sandbox/templates/{cloud.waba_id}",
                              json={"defaults": True, "filler": 245})).status_code == 200  # 250: three pages
    assert (await control.put(f"/_sandbox/templates/{other.waba_id}",
                              json={"filler": 130})).status_code == 200  # two pages of 100

    r = await api.post("/admin/templates/sync", headers=cloud.headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["synced"] == 380 and result["removed"] == 0
    assert {(c["channel_id"], c["synced"], c["ok"]) for c in result["channels"]} == {
        (str(cloud.channel_id), 250, True), (ycloud_channel, 130, True)}
    assert template_pages(sandbox, "meta") == 3 and template_pages(sandbox, "ycloud") == 2

    everything = (await api.get("/admin/templates", headers=cloud.headers)).json()
    assert len(everything) == 380
    mine = (await api.get("/admin/templates", headers=cloud.headers,
                          params={"channel": str(cloud.channel_id), "status": "APPROVED", "language": "es"})).json()
    assert {t["name"] for t in mine} >= {"recordatorio_cita", "oferta_temporada", "plantilla_0001"}
    assert all(t["status"] == "APPROVED" and t["language"] == "es" for t in mine)
    offer = next(t for t in mine if t["name"] == "oferta_temporada")
    assert offer["parameter_format"] == "NAMED" and offer["category"] == "MARKETING"
    assert offer["parameters"]["body"] == ["nombre", "descuento"] and offer["parameters"]["header"] == "image"
    assert offer["parameters"]["buttons"][0]["parameter"] == "text"
    reminder = next(t for t in mine if t["name"] == "recordatorio_cita")
    assert reminder["parameters"] == {"format": "POSITIONAL", "body": ["1", "2"], "header": None,
                                      "header_text_parameters": [],
                                      "buttons": [{"index": 0, "type": "QUICK_REPLY", "text": "Confirmar", "url": None,
                                                   "parameter": "payload"},
                                                  {"index": 1, "type": "QUICK_REPLY", "text": "Cambiar la cita",
                                                   "url": None, "parameter": "payload"}]}
    rejected = (await api.get("/admin/templates", headers=cloud.headers, params={"status": "REJECTED"})).json()
    assert [(t["name"], t["rejected_reason"]) for t in rejected] == [("sorteo_gratis", "PROMOTIONAL")]

    # Meta no longer lists the filler: the next sync (at the seed's path) marks them, keeps them.
    assert (await control.put(f"/_sandbox/templates/{cloud.waba_id}", json={"defaults": True})).status_code == 200
    r = await api.post("/templates/sync", headers=cloud.headers)
    assert r.status_code == 200 and r.json()["synced"] == 135 and r.json()["removed"] == 245, r.text
    listed = (await api.get("/admin/templates", headers=cloud.headers, params={"channel": str(cloud.channel_id)}))
    assert len(listed.json()) == 5
    kept = (await api.get("/admin/templates", headers=cloud.headers,
                          params={"channel": str(cloud.channel_id), "include_removed": "true"})).json()
    assert len(kept) == 250 and sum(1 for t in kept if t["removed_at"]) == 245


async def test_a_channel_the_provider_refuses_says_why_and_the_others_sync(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    broken = {**shop.credentials, "access_token": "EAAGcaducado0000"}
    r = await api.post("/admin/channels", headers=shop.headers, json={"kind": "whatsapp_cloud", "name": "Viejo",
                                                                      "credentials": broken})
    assert r.status_code == 201, r.text
    result = (await api.post("/admin/templates/sync", headers=shop.headers)).json()
    by_channel = {c["channel_id"]: c for c in result["channels"]}
    assert by_channel[str(shop.channel_id)]["ok"] is True and by_channel[str(shop.channel_id)]["synced"] == 5
    refused = by_channel[r.json()["id"]]
    assert refused["ok"] is False and "token de acceso" in refused["error"] and refused["synced"] == 0
    assert result["synced"] == 5
