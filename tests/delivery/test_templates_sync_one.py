"""`POST /admin/templates/sync?channel=`: the templates screen's sync button of one WhatsApp channel
reads that channel's provider only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2

from tests.delivery.harness import Receiver, make_shop


async def test_syncing_one_channel_leaves_the_others_alone(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, out_app: Any, out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    broken = {**shop.credentials, "access_token": "EAAGcaducado0000"}
    other = (await api.post("/admin/channels", headers=shop.headers, json={
        "kind": "whatsapp_cloud", "name": "Viejo", "credentials": broken})).json()
    one = await api.post("/admin/templates/sync", headers=shop.headers, params={"channel": str(shop.channel_id)})
    assert one.status_code == 200, one.text
    assert [(c["channel_id"], c["ok"], c["synced"]) for c in one.json()["channels"]] == [
        (str(shop.channel_id), True, 5)]
    refused = (await api.post("/admin/templates/sync", headers=shop.headers, params={"channel": other["id"]})).json()
    assert [(c["channel_id"], c["ok"]) for c in refused["channels"]] == [(other["id"], False)]
    unknown = await api.post("/admin/templates/sync", headers=shop.headers, params={"channel": str(uuid.uuid4())})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "channel_not_found"
