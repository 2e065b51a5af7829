"""Meta's WhatsApp Cloud API as Tertulia calls it: sends, the typing indicator (with mark-as-read),
media uploads, the connection check's look-ups and the template list. Wire format in
docs/channels.md; the base URL is the operator's `TERTULIA_META_GRAPH_URL` (a trusted client).

Every refusal raises `channels.sending.ProviderFailure`, classified (retry, pause, fail...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx2

from tertulia.channels.credentials import WhatsAppCloudCredentials
from tertulia.channels.sending import ProviderFailure, call, graph_failure, json_object
from tertulia.config import Settings

PROVIDER = "WhatsApp (Meta)"
TEMPLATE_FIELDS = "id,name,language,status,category,parameter_format,components,quality_score,rejected_reason"
TEMPLATE_PAGE = 100
MAX_TEMPLATE_PAGES = 200  # 20,000 templates: far above Meta's per-account limit


class CloudApi:
    """One channel's credentials against the Graph API, over a client the caller owns."""

    def __init__(self, client: httpx2.AsyncClient, base_url: str, credentials: WhatsAppCloudCredentials) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._headers = {"Authorization": f"Bearer {credentials.access_token}"}

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await call(self.client, method, url, provider=PROVIDER, failure=graph_failure,
                              headers=self._headers, **kwargs)
        return json_object(response, PROVIDER)

    # -- sends ---------------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> str:
        """Send one message (the type object and `context`, as docs/channels.md shows) to the
        recipient in it; answers its wamid."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        answer = await self._call("POST", f"{self.base_url}/{self.credentials.phone_number_id}/messages", json=body)
        messages = answer.get("messages")
        if not (isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id")):
            raise ProviderFailure("retry", "WhatsApp no devolvió el identificador del mensaje; Tertulia lo reintenta.",
                                  "bad_answer", str(answer)[:200])
        return str(messages[0]["id"])

    async def typing(self, inbound_message_id: str) -> None:
        """Show "typing…" to the customer (until the next message, or 25 s); Meta ties it to
        marking their message read."""
        await self._call("POST", f"{self.base_url}/{self.credentials.phone_number_id}/messages", json={
            "messaging_product": "whatsapp", "status": "read", "message_id": inbound_message_id,
            "typing_indicator": {"type": "text"}})

    async def upload(self, data: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for a send; answers its media id (kept by Meta for 30 days)."""
        answer = await self._call("POST", f"{self.base_url}/{self.credentials.phone_number_id}/media",
                                  data={"messaging_product": "whatsapp", "type": mime_type},
                                  files={"file": (filename, data, mime_type)})
        if not answer.get("id"):
            raise ProviderFailure("retry", "WhatsApp no devolvió el identificador del archivo subido.", "bad_answer")
        return str(answer["id"])

    # -- look-ups ------------------------------------------------------------------------------------
    async def phone_number(self) -> dict[str, Any]:
        return await self._call("GET", f"{self.base_url}/{self.credentials.phone_number_id}", params={
            "fields": "display_phone_number,verified_name,quality_rating,code_verification_status,platform_type"})

    async def business_account(self) -> dict[str, Any]:
        return await self._call("GET", f"{self.base_url}/{self.credentials.waba_id}",
                                params={"fields": "id,name,currency,timezone_id,message_template_namespace"})

    async def phone_numbers(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", f"{self.base_url}/{self.credentials.waba_id}/phone_numbers")
        data = answer.get("data")
        return [n for n in data if isinstance(n, dict)] if isinstance(data, list) else []

    async def templates(self) -> AsyncIterator[dict[str, Any]]:
        """Every message template of the account, following Meta's `paging.next` until it is
        absent (the last page still has cursors). A `next` pointing away from the configured API
        is not followed: the access token goes only where the operator said."""
        url: str | None = f"{self.base_url}/{self.credentials.waba_id}/message_templates"
        params: dict[str, Any] | None = {"limit": TEMPLATE_PAGE, "fields": TEMPLATE_FIELDS}
        origin = urlsplit(self.base_url)
        for _ in range(MAX_TEMPLATE_PAGES):
            assert url is not None
            answer = await self._call("GET", url, params=params)
            for item in answer.get("data") or []:
                if isinstance(item, dict):
                    yield item
            following = (answer.get("paging") or {}).get("next")
            if not isinstance(following, str) or not following:
                return
            where = urlsplit(following)
            if (where.scheme, where.netloc) != (origin.scheme, origin.netloc):
                raise ProviderFailure("fail", "Meta indicó una página de plantillas en otro servidor; no se siguió.",
                                      "bad_answer", following[:200])
            url, params = following, None
        raise ProviderFailure("fail", "La cuenta tiene más plantillas de las que Tertulia lee de una vez.",
                              "too_many_pages")


def template_facts(item: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(quality, the provider's template id, the rejection reason) of a Graph API template."""
    score = item.get("quality_score")
    return score.get("score") if isinstance(score, dict) else None, item.get("id"), item.get("rejected_reason")


async def list_templates(client: httpx2.AsyncClient, settings: Settings,
                         credentials: WhatsAppCloudCredentials) -> AsyncIterator[dict[str, Any]]:
    async for item in CloudApi(client, settings.meta_graph_url, credentials).templates():
        yield item
