"""`tertulia sandbox --demo` (`make run SANDBOX=1`): the demo's WhatsApp numbers, one on Meta's
Cloud API and one on YCloud, get credentials once and the sandbox the same ones, so that the
sandbox's Graph API and YCloud API accept what Tertulia sends on the demo's behalf."""

from __future__ import annotations

from typing import Any

import httpx2

from tertulia.channels import repository as channels_repo
from tertulia.channels.credentials import WhatsAppCloudCredentials, YCloudCredentials, credentials_of
from tertulia.demo.sandbox import connect_demo_to_sandbox
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database
from tertulia.sandbox.server import SandboxServer
from tests.demo.test_tenant import _ensure_demo


async def test_the_demo_numbers_connect_to_the_sandbox_once(app: Any, provider_sandbox: SandboxServer,
                                                            settings: Any) -> None:
    tenant_id = await _ensure_demo(app)
    db: Database = app.state.db
    box = SecretBox(settings.resolved_secret_key())
    runs = []
    for _ in range(2):  # a second start keeps the numbers the sandbox and the panel know
        async with db.session(cross_tenant="the demo connects its channels") as session:
            runs.append(await connect_demo_to_sandbox(session, box, "http://127.0.0.1:8000/"))
    first, again = runs
    assert first == again
    assert [r["kind"] for r in first] == ["whatsapp_cloud", "ycloud", "facebook", "instagram"]

    async with db.read_session(tenant_id) as session:
        channels = {c.kind: c for c in await channels_repo.list_channels(session, tenant_id)}
    cloud, ycloud = channels["whatsapp_cloud"], channels["ycloud"]
    assert first[0]["webhook_url"] == f"http://127.0.0.1:8000/webhooks/{cloud.id}"
    assert first[1]["webhook_url"] == f"http://127.0.0.1:8000/webhooks/{ycloud.id}"
    # Stored encrypted as any channel's, answering for the numbers they name; Nora answers on both.
    stored_cloud = credentials_of(cloud, box, WhatsAppCloudCredentials)
    stored_ycloud = credentials_of(ycloud, box, YCloudCredentials)
    assert cloud.account_id == stored_cloud.phone_number_id == first[0]["phone_number_id"]
    assert ycloud.account_id == stored_ycloud.phone_number == first[1]["phone_number"]
    assert cloud.verify_token and first[0]["verify_token"] == cloud.verify_token
    assert ycloud.assistant_id is not None and ycloud.assistant_id == cloud.assistant_id

    # The sandbox takes the same numbers, and its APIs accept Tertulia's credentials for them.
    async with httpx2.AsyncClient(base_url=provider_sandbox.url) as http:
        for registration in first:
            assert (await http.post("/_sandbox/channels", json=registration)).status_code == 201
        phone = await http.get(f"{provider_sandbox.graph_url}/{stored_cloud.phone_number_id}",
                               headers={"Authorization": f"Bearer {stored_cloud.access_token}"})
        assert phone.status_code == 200 and phone.json()["verified_name"] == "Café Aurora"
        number = await http.get(f"{provider_sandbox.ycloud_url}/whatsapp/phoneNumbers/{stored_ycloud.waba_id}/"
                                f"{stored_ycloud.phone_number}", headers={"X-API-Key": stored_ycloud.api_key})
        assert number.status_code == 200
        for page in first[2:]:  # the demo's Messenger page and Instagram account answer with their tokens
            key = page.get("page_id") or page["instagram_account_id"]
            token = page.get("page_access_token") or page["access_token"]
            answer = await http.get(f"{provider_sandbox.graph_url}/{key}", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200 and answer.json()["id"] == key
            assert channels[page["kind"]].account_id == key and page["verify_token"] == channels[page["kind"]].verify_token
