"""`POST /admin/channels/{id}/check`: the provider asked with the channel's credentials, the answer
check by check in words a business owner understands; a passing check brings a channel that
needed attention back."""

from __future__ import annotations

from typing import Any

import httpx2

from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import Receiver, Shop, customer_writes, eventually, make_shop, settled


async def check(api: httpx2.AsyncClient, shop: Shop, channel_id: str | None = None) -> dict[str, Any]:
    r = await api.post(f"/admin/channels/{channel_id or shop.channel_id}/check", headers=shop.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def add_channel(api: httpx2.AsyncClient, shop: Shop, kind: str, credentials: dict[str, Any]) -> str:
    r = await api.post("/admin/channels", headers=shop.headers, json={"kind": kind, "name": "Otro",
                                                                      "credentials": credentials})
    assert r.status_code == 201, r.text
    channel_id: str = r.json()["id"]
    return channel_id


async def test_whatsapp_cloud_check_says_what_works_and_what_to_fix(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver, verified_name="Café Aurora")
    result = await check(api, shop)
    assert result["ok"] is True and result["status"] == "ok"
    details = {c["name"]: c["detail"] for c in result["checks"]}
    assert list(details) == ["credentials", "phone_number", "business_account", "number_in_account"]
    assert "(Café Aurora) responde; calidad: alta" in details["phone_number"]
    # Said by code with its specifics too (the panel says them in the user's language).
    assert [c["code"] for c in result["checks"]] == ["credentials_ok", "cloud_number_ok", "cloud_account_ok",
                                                     "number_in_account"]
    assert result["checks"][1]["params"]["name"] == "Café Aurora" and result["checks"][1]["params"]["quality"] == \
        "GREEN"

    expired = await add_channel(api, shop, "whatsapp_cloud", {**shop.credentials, "access_token": "EAAGviejo0000"})
    result = await check(api, shop, expired)
    assert result["ok"] is False and result["status"] == "attention"
    [_, number] = result["checks"]
    assert number["ok"] is False and "token de acceso de WhatsApp caducó" in number["detail"]
    assert "genera uno nuevo en Meta" in number["detail"]
    assert number["code"] == "provider_refused" and number["params"]["provider_code"] == "190"

    wrong_number = await add_channel(api, shop, "whatsapp_cloud", {**shop.credentials, "phone_number_id": "99999999"})
    result = await check(api, shop, wrong_number)
    failed = {c["name"]: c for c in result["checks"] if not c["ok"]}
    assert set(failed) == {"phone_number"} and "no encuentra el número con id 99999999" in failed["phone_number"][
        "detail"]
    assert result["status"] == "ok"  # a wrong id is not refused credentials

    # Incomplete credentials never get this far: the channel is refused, naming what is missing.
    r = await api.post("/admin/channels", headers=shop.headers, json={
        "kind": "whatsapp_cloud", "name": "Otro", "credentials": {"access_token": "EAAGsolo0000"}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_channel_credentials"
    assert "phone_number_id" in r.json()["error"]["message"]


async def test_ycloud_check(api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer,
                            out_app: Any, out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "ycloud", out_receiver)
    result = await check(api, shop)
    assert result["ok"] is True, result
    assert "está conectado en YCloud" in result["checks"][1]["detail"]
    revoked = await add_channel(api, shop, "ycloud", {**shop.credentials, "api_key": "clave-revocada-000"})
    result = await check(api, shop, revoked)
    assert result["ok"] is False and "clave de API de YCloud" in result["checks"][1]["detail"]
    elsewhere = await add_channel(api, shop, "ycloud", {**shop.credentials, "phone_number": "+34911000999"})
    result = await check(api, shop, elsewhere)
    assert "YCloud no encuentra el número +34911000999" in result["checks"][1]["detail"]


async def test_a_passing_check_resumes_a_channel_that_needed_attention(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    conv = (await customer_writes(shop, control))["conversation_id"]
    assert (await control.post("/_sandbox/failures", json={"kind": "190", "channel": shop.key})).status_code == 201
    r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers, json={"message": "Hola"})
    message_id = r.json()["message_id"]

    async def attention() -> bool:
        return (await api.get(f"/admin/channels/{shop.channel_id}", headers=shop.headers)).json()["status"] == \
            "attention"

    await eventually(attention, what="the channel to need attention")
    result = await check(api, shop)  # Meta renewed the token's session: the same credentials work again
    assert result["ok"] is True and result["status"] == "ok"
    assert (await settled(api, shop, conv, message_id))["status"] == "sent"


async def test_api_and_web_channels(api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer,
                                    out_app: Any, out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, None, "api", out_receiver)
    result = await check(api, shop)
    assert result["ok"] is True and result["checks"][0]["name"] == "outbound_url"
    assert (await api.patch(f"/admin/channels/{shop.channel_id}", headers=shop.headers,
                            json={"outbound_url": out_receiver.url("api-check")})).status_code == 200
    result = await check(api, shop)
    assert [(c["name"], c["ok"]) for c in result["checks"]] == [("outbound_url", True), ("outbound_secret", False)]
    web = await add_channel(api, shop, "web", {})
    assert (await check(api, shop, web))["ok"] is True
    page = await add_channel(api, shop, "facebook", {"page_id": "1234567890", "page_access_token": "EAAG" + "x" * 40,
                                                     "app_secret": "s" * 32})
    r = await api.post(f"/admin/channels/{page}/check", headers=shop.headers)  # a page Meta does not know
    assert r.status_code == 200 and r.json()["ok"] is False and r.json()["status"] == "attention"
    assert [(c["name"], c["ok"]) for c in r.json()["checks"]] == [("credentials", True), ("page", False)]
