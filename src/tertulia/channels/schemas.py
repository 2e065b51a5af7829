from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

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


class ChannelCreated(ChannelOut):
    inbound_token: str | None = Field(default=None, description="for `api` channels; shown once")
