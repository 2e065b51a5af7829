"""YCloud's API (v2) as Tertulia calls it: sends, the typing indicator, media uploads, the
connection check's look-ups and the template list. Header `X-API-Key`; wire format in
docs/channels.md; the base URL is the operator's `TERTULIA_YCLOUD_API_URL` (a trusted client).

Sends go to `/whatsapp/messages/sendDirectly`: WhatsApp's own refusals (the pair rate limit, a
closed window...) answer the request, the wamid comes back at once, and `externalId` (our message)
lets YCloud recognise a send repeated after a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx2

from tertulia.channels.credentials import YCloudCredentials
from tertulia.channels.sending import ProviderFailure, call, json_object, ycloud_failure
from tertulia.config import Settings

PROVIDER = "YCloud"
TEMPLATE_PAGE = 100  # YCloud's largest page
MAX_TEMPLATE_PAGES = 200


class YCloudApi:
    """One channel's credentials against YCloud, over a client the caller owns."""

    def __init__(self, client: httpx2.AsyncClient, base_url: str, credentials: YCloudCredentials) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._headers = {"X-API-Key": credentials.api_key}

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        return await call(self.client, method, f"{self.base_url}{path}", provider=PROVIDER, failure=ycloud_failure,
                          headers=self._headers, **kwargs)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return json_object(await self._call(method, path, **kwargs), PROVIDER)

    # -- sends ---------------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any], external_id: str) -> str:
        """Send one message (Meta's type object, `to` or `recipient`, `context`); answers its wamid
        (YCloud's own id when WhatsApp's is not known yet)."""
        body = {"from": self.credentials.phone_number, **message, "externalId": external_id}
        answer = await self._json("POST", "/whatsapp/messages/sendDirectly", json=body)
        provider_id = answer.get("wamid") or answer.get("id")
        if not provider_id:
            raise ProviderFailure("retry", "YCloud no devolvió el identificador del mensaje; Tertulia lo reintenta.",
                                  "bad_answer", str(answer)[:200])
        return str(provider_id)

    async def typing(self, inbound_message_id: str) -> None:
        """Show "typing…" to the customer who wrote this message (id or wamid)."""
        await self._call("POST", f"/whatsapp/inboundMessages/{quote(inbound_message_id, safe='')}/typing")

    async def upload(self, data: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for a send from this number; answers its media id (kept 30 days)."""
        number = quote(self.credentials.phone_number, safe="")
        answer = await self._json("POST", f"/whatsapp/media/{number}/upload",
                                  files={"file": (filename, data, mime_type)})
        if not answer.get("id"):
            raise ProviderFailure("retry", "YCloud no devolvió el identificador del archivo subido.", "bad_answer")
        return str(answer["id"])

    # -- look-ups ------------------------------------------------------------------------------------
    async def phone_number(self) -> dict[str, Any]:
        waba, number = quote(self.credentials.waba_id, safe=""), quote(self.credentials.phone_number, safe="")
        return await self._json("GET", f"/whatsapp/phoneNumbers/{waba}/{number}")

    async def business_account(self) -> dict[str, Any]:
        return await self._json("GET", f"/whatsapp/businessAccounts/{quote(self.credentials.waba_id, safe='')}")

    async def templates(self) -> AsyncIterator[dict[str, Any]]:
        """Every template of the channel's WhatsApp account, page after page: the last page is
        the one with fewer items than asked for (or that reaches `total`)."""
        for page in range(1, MAX_TEMPLATE_PAGES + 1):
            answer = await self._json("GET", "/whatsapp/templates", params={
                "page": page, "limit": TEMPLATE_PAGE, "includeTotal": "true",
                "filter.wabaId": self.credentials.waba_id})
            items = [i for i in answer.get("items") or [] if isinstance(i, dict)]
            for item in items:
                yield item
            total = answer.get("total")
            offset = int(answer.get("offset") or (page - 1) * TEMPLATE_PAGE)
            if len(items) < TEMPLATE_PAGE or (isinstance(total, int) and offset + len(items) >= total):
                return
        raise ProviderFailure("fail", "La cuenta tiene más plantillas de las que Tertulia lee de una vez.",
                              "too_many_pages")


def template_facts(item: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(quality, WhatsApp's template id, the rejection reason) of a YCloud template."""
    return item.get("qualityRating"), item.get("officialTemplateId"), item.get("reason")


async def list_templates(client: httpx2.AsyncClient, settings: Settings,
                         credentials: YCloudCredentials) -> AsyncIterator[dict[str, Any]]:
    async for item in YCloudApi(client, settings.ycloud_api_url, credentials).templates():
        yield item
