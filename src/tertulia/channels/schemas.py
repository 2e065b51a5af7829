from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from tertulia.kit.types import Name, ShortText

ChannelKind = Literal["whatsapp_cloud", "ycloud", "instagram", "facebook", "web", "api"]


class ChannelCreate(BaseModel):
    kind: ChannelKind
    name: Name
    platform_origin: ShortText = ""
    credentials: dict[str, Any] = Field(default_factory=dict, description="provider secrets; stored encrypted")


class ChannelUpdate(BaseModel):
    name: Name | None = None
    platform_origin: ShortText | None = None
    credentials: dict[str, Any] | None = None
    enabled: bool | None = None
    assistant_id: uuid.UUID | None = None
    outbound_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None = Field(
        default=None, description="`api` channels: where each outbound message is POSTed, signed "
        "(X-Tertulia-Signature: sha256=HMAC of the body under credentials.outbound_secret); null: none")


class ChannelOut(BaseModel):
    id: uuid.UUID
    kind: str
    channel_source: str
    name: str
    platform_origin: str
    enabled: bool
    has_credentials: bool
    assistant_id: uuid.UUID | None
    created_at: datetime
    status: str = Field(default="ok", description="ok | attention: the provider refused the credentials; "
                        "deliveries wait until they are fixed (status_reason says what to do)")
    status_reason: str | None = None
    outbound_url: str | None = None


class ChannelCreated(ChannelOut):
    inbound_token: str | None = Field(default=None, description="for `api` channels; shown once")
