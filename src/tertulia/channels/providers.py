"""The channel kinds, one `Provider` each: everything Tertulia does differently per kind is named
here, and everything else looks the provider up by the channel's kind.

A provider says what credentials its channels take (and which of them names the account a
channel answers for), whether Meta's verification GET applies, how its webhooks are checked and
read (channels/intake.py), how a message leaves (delivery/senders.py), how a file a customer sent
is fetched (conversations/media_fetch.py), how its credentials are checked
(`POST /admin/channels/{id}/check`), and whether it has message templates. Adding a kind is a
provider module (`channels/<kind>/`), one entry below, and the sandbox learning it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx2

from tertulia.channels.api_channel import check as api_check
from tertulia.channels.checks import Checks, nothing_to_check
from tertulia.channels.credentials import (
    ApiChannelCredentials,
    Credentials,
    InstagramCredentials,
    MessengerCredentials,
    WhatsAppCloudCredentials,
    YCloudCredentials,
)
from tertulia.channels.events import Account, Item
from tertulia.channels.media import ProviderFile
from tertulia.channels.messenger import api as messenger_api
from tertulia.channels.messenger import check as messenger_check
from tertulia.channels.messenger import media as messenger_media
from tertulia.channels.messenger import webhooks as messenger_webhooks
from tertulia.channels.messenger.sender import PageSender
from tertulia.channels.models import CHANNEL_KINDS, Channel
from tertulia.channels.whatsapp_cloud import api as cloud_api
from tertulia.channels.whatsapp_cloud import check as cloud_check
from tertulia.channels.whatsapp_cloud import media as cloud_media
from tertulia.channels.whatsapp_cloud import webhooks as cloud_webhooks
from tertulia.channels.ycloud import api as ycloud_api
from tertulia.channels.ycloud import check as ycloud_check
from tertulia.channels.ycloud import media as ycloud_media
from tertulia.channels.ycloud import webhooks as ycloud_webhooks
from tertulia.config import Settings
from tertulia.delivery.senders import (
    ApiChannelSender,
    CloudSender,
    LocalSender,
    Sender,
    SenderTools,
    YCloudSender,
)
from tertulia.kit.crypto import SecretBox

# A file behind a webhook's media reference: (client, settings, the channel's credentials, reference).
OpenMedia = Callable[[httpx2.AsyncClient, Settings, Any, str], AbstractAsyncContextManager[ProviderFile]]
Check = Callable[[Channel, SecretBox, Settings, Checks], Awaitable[None]]
# (client, settings, the channel's credentials, the sender's id) -> the name their profile gives.
SenderName = Callable[[httpx2.AsyncClient, Settings, Any, str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Webhooks:
    """How a provider's webhooks to `/webhooks/{channel id}` are authenticated and read."""

    secret: str  # the credential that signs them
    check_signature: Callable[[str, bytes, Mapping[str, str], float], None]
    dedupe_key: Callable[[bytes, Any], str]
    read: Callable[[Any, Account], list[Item]]
    check_subscription: Callable[[Mapping[str, str], str | None], str] | None = None  # Meta's GET


@dataclass(frozen=True, slots=True)
class Templates:
    """A provider's message templates: every one of an account, and what its items say of quality,
    id and rejection (in the provider's own field names)."""

    list: Callable[[httpx2.AsyncClient, Settings, Any], AsyncIterator[dict[str, Any]]]
    facts: Callable[[dict[str, Any]], tuple[Any, Any, Any]]


@dataclass(frozen=True, slots=True)
class Provider:
    kind: str
    sender: Callable[[SenderTools], Sender]
    credentials: type[Credentials] | None = None  # None: free-form (kinds not connected to a provider yet)
    account_credential: str | None = None  # the credential naming the account the channel answers for
    verify_token: bool = False  # Meta's webhook verification GET repeats a token of ours
    webhooks: Webhooks | None = None
    open_media: OpenMedia | None = None
    check: Check | None = None  # None: `check_not_available`
    templates: Templates | None = None
    sender_name: SenderName | None = None  # a new sender's name, when the webhook does not give it


PROVIDERS: dict[str, Provider] = {p.kind: p for p in (
    Provider("whatsapp_cloud", CloudSender, WhatsAppCloudCredentials, "phone_number_id", verify_token=True,
             webhooks=Webhooks("app_secret", cloud_webhooks.check_signature, cloud_webhooks.dedupe_key,
                               cloud_webhooks.read, cloud_webhooks.check_subscription),
             open_media=cloud_media.open_media, check=cloud_check.check,
             templates=Templates(cloud_api.list_templates, cloud_api.template_facts)),
    Provider("ycloud", YCloudSender, YCloudCredentials, "phone_number",
             webhooks=Webhooks("signing_secret", ycloud_webhooks.check_signature, ycloud_webhooks.dedupe_key,
                               ycloud_webhooks.read),
             open_media=ycloud_media.open_media, check=ycloud_check.check,
             templates=Templates(ycloud_api.list_templates, ycloud_api.template_facts)),
    *(Provider(kind, PageSender, model, account, verify_token=True,
               webhooks=Webhooks("app_secret", cloud_webhooks.check_signature, cloud_webhooks.dedupe_key,
                                 messenger_webhooks.reader(kind), cloud_webhooks.check_subscription),
               open_media=messenger_media.open_media, check=messenger_check.check,
               sender_name=messenger_api.sender_name)
      for kind, model, account in (("facebook", MessengerCredentials, "page_id"),
                                   ("instagram", InstagramCredentials, "instagram_account_id"))),
    Provider("web", LocalSender, check=nothing_to_check),
    Provider("api", ApiChannelSender, ApiChannelCredentials, check=api_check.check),
)}
assert set(PROVIDERS) == set(CHANNEL_KINDS), "every channel kind has its provider"

WEBHOOK_KINDS = tuple(kind for kind, p in PROVIDERS.items() if p.webhooks is not None)
TEMPLATE_KINDS = tuple(kind for kind, p in PROVIDERS.items() if p.templates is not None)


def provider(kind: str) -> Provider:
    return PROVIDERS[kind]


def credentials_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's credentials (what the connect form asks for), empty for a kind
    that takes none."""
    model = PROVIDERS[kind].credentials
    return model.model_json_schema() if model is not None else {}
