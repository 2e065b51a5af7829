"""The Messenger Platform's Send and User Profile APIs as Tertulia calls them, for a Facebook Page
(Messenger) or an Instagram professional account, at the operator's `TERTULIA_META_GRAPH_URL` (a
trusted client). Wire format: docs/channels.md, "Messenger and Instagram".

Every refusal raises `channels.sending.ProviderFailure`, classified by the Platform's codes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from tertulia.channels.credentials import InstagramCredentials, MessengerCredentials, credentials_of
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure, call, json_object, page_failure
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox

PageCredentials = MessengerCredentials | InstagramCredentials
PROVIDER = {"facebook": "Messenger", "instagram": "Instagram"}
# What the profile look-up asks for: Messenger's User Profile API and Instagram's user fields.
PROFILE_FIELDS = {"facebook": "first_name,last_name,profile_pic", "instagram": "name,username,profile_pic"}


class PageApi:
    """One channel's page (or Instagram account) against the Graph API, over a client the caller owns."""

    def __init__(self, client: httpx2.AsyncClient, base_url: str, kind: str, credentials: PageCredentials) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.kind = kind
        self.provider = PROVIDER[kind]
        self.credentials = credentials
        self._headers = {"Authorization": f"Bearer {credentials.page_access_token}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await call(self.client, method, f"{self.base_url}/{path}", provider=self.provider,
                              failure=lambda r: page_failure(r, self.provider), headers=self._headers, **kwargs)
        return json_object(response, self.provider)

    async def send(self, body: dict[str, Any], file: tuple[str, bytes, str] | None = None) -> str:
        """Send one message (`recipient`, `messaging_type`, `tag`?, `message`); with `file` (name,
        bytes, MIME type) uploaded in the same request as `filedata`. Answers its `message_id`."""
        path = f"{self.credentials.page_id}/messages"
        if file is None:
            answer = await self._call("POST", path, json=body)
        else:  # form fields carry JSON, as Meta's upload-and-send takes them
            form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in body.items()}
            answer = await self._call("POST", path, data=form, files={"filedata": file})
        if not answer.get("message_id"):
            raise ProviderFailure("retry", f"{self.provider} no devolvió el identificador del mensaje; Tertulia lo "
                                           "reintenta.", "bad_answer", str(answer)[:200])
        return str(answer["message_id"])

    async def typing(self, recipient: str) -> None:
        """Show "typing…" to the customer (until the next message, or about 20 s)."""
        await self._call("POST", f"{self.credentials.page_id}/messages",
                         json={"recipient": {"id": recipient}, "sender_action": "typing_on"})

    async def account(self) -> dict[str, Any]:
        fields = "id,name,username" if self.kind == "instagram" else "id,name"
        return await self._call("GET", self.credentials.page_id, params={"fields": fields})

    async def profile(self, user_id: str) -> dict[str, Any]:
        """A customer's public profile: name (Messenger: first and last) and picture."""
        return await self._call("GET", user_id, params={"fields": PROFILE_FIELDS[self.kind]})


def page_credentials(channel: Channel, box: SecretBox) -> PageCredentials:
    """The channel's stored credentials as its kind's model; ValueError when incomplete."""
    if channel.kind == "instagram":
        return credentials_of(channel, box, InstagramCredentials)
    return credentials_of(channel, box, MessengerCredentials)


def profile_name(profile: dict[str, Any]) -> str | None:
    """What a person is called, from either profile's fields."""
    name = str(profile.get("name") or "").strip() or " ".join(
        str(profile.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name or (str(profile.get("username") or "").strip() or None)


async def sender_name(client: httpx2.AsyncClient, settings: Settings, credentials: PageCredentials,
                      user_id: str) -> str | None:
    """A new sender's name, from the profile API (raises ProviderFailure when Meta will not say)."""
    kind = "instagram" if isinstance(credentials, InstagramCredentials) else "facebook"
    return profile_name(await PageApi(client, settings.meta_graph_url, kind, credentials).profile(user_id))
