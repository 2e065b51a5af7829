from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from tertulia.kit.types import Name, ShortText
from tertulia.widget.schemas import WebChannelOut, WebChannelSettings, WebChannelUpdate

ChannelKind = Literal["whatsapp_cloud", "ycloud", "instagram", "facebook", "web", "api"]


CREDENTIALS_HELP = (
    "What the channel needs to talk to its provider, stored encrypted and never returned. "
    "whatsapp_cloud: phone_number_id, waba_id, access_token, app_secret (and verify_token for Meta's "
    "webhook check, generated when not given); ycloud: api_key, phone_number (the business number in "
    "E.164), waba_id, signing_secret (the webhook endpoint's); facebook: page_id, page_access_token, app_secret, "
    "app_id (recommended: echoes of sends from that Meta app are Tertulia's own), verify_token (generated when "
    "not given); instagram: instagram_account_id, access_token, app_secret, app_id, verify_token; api: "
    "outbound_secret (optional).")


class ChannelCreate(BaseModel):
    kind: ChannelKind
    name: Name
    platform_origin: ShortText = ""
    credentials: dict[str, Any] = Field(default_factory=dict, description=CREDENTIALS_HELP)
    web: WebChannelSettings | None = Field(default=None, description="`web` channels: the widget's settings")


class ChannelUpdate(BaseModel):
    name: Name | None = None
    platform_origin: ShortText | None = None
    credentials: dict[str, Any] | None = Field(default=None, description=(
        "credentials to change, over the stored ones (a null removes one); checked again as a whole"))
    enabled: bool | None = None
    assistant_id: uuid.UUID | None = None
    human_agent_tag: bool | None = Field(default=None, description=(
        "Messenger and Instagram: a person of the team may answer up to 7 days after the customer's last "
        "message with Meta's HUMAN_AGENT tag (the app needs Meta's Human Agent permission); the AI never uses it"))
    outbound_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None = Field(
        default=None, description="`api` channels: where each outbound message is POSTed, signed "
        "(X-Tertulia-Signature: sha256=HMAC of the body under credentials.outbound_secret); null: none")
    web: WebChannelUpdate | None = Field(default=None, description="`web` channels: the widget's settings to change")


class ChannelHealth(BaseModel):
    """How the channel is doing, from the webhook event log and the outbox: what a person needs to
    see to know whether messages come in and go out."""

    last_webhook_at: datetime | None = Field(description="the last webhook its provider sent")
    webhooks_failed: int = Field(description="webhook bodies that failed in the last 24 hours")
    last_webhook_error: str | None = Field(description="why the newest of those failed")
    deliveries_failing: int = Field(description=(
        "messages that could not be delivered in the last 24 hours, being retried, or paused "
        "because the provider refused the credentials"))
    last_delivery_error: str | None = Field(description="why the newest of those failed")
    last_delivery_error_at: datetime | None


class ChannelOut(BaseModel):
    id: uuid.UUID
    kind: str
    channel_source: str
    name: str
    platform_origin: str
    enabled: bool
    has_credentials: bool
    credentials_set: list[str] = Field(description="which credentials are stored (their values are never returned)")
    assistant_id: uuid.UUID | None
    created_at: datetime
    account_id: str | None = Field(description="the provider's account the channel answers for (WhatsApp Cloud: "
                                               "the phone number id; YCloud: the business number; Messenger: the "
                                               "page id; Instagram: the account id)")
    webhook_url: str | None = Field(description="where the provider delivers its webhooks (paste it into Meta's "
                                                "or YCloud's console)")
    verify_token: str | None = Field(description="Meta's webhook verification token (paste it beside the URL)")
    status: Literal["ok", "attention"] = Field(description="attention: the provider refused the credentials; "
                                                           "deliveries wait until they are fixed")
    status_reason: str | None
    last_webhook_at: datetime | None
    outbound_url: str | None = Field(default=None, description="`api` channels: where each outbound message is POSTed")
    human_agent_tag: bool = Field(default=False, description=(
        "Messenger and Instagram: a person may answer up to 7 days with Meta's HUMAN_AGENT tag"))
    web: WebChannelOut | None = Field(default=None, description="`web` channels: the widget's settings")
    snippet: str | None = Field(default=None, description="`web` channels: the <script> tag to paste into the site")
    health: ChannelHealth


class ChannelKindOut(BaseModel):
    kind: ChannelKind
    channel_source: str
    webhooks: bool = Field(description="its provider delivers webhooks to `webhook_url`")
    credentials: dict[str, Any] = Field(description=(
        "the JSON Schema of its credentials (properties, required; a secret's `format` is `password`); "
        "empty: none to give"))


class ChannelCreated(ChannelOut):
    inbound_token: str | None = Field(default=None, description="for `api` channels; shown once")
