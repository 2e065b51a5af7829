from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from tertulia.conversations.schemas import MessageOut
from tertulia.kit.types import Text

ParameterValue = Annotated[Text, StringConstraints(max_length=1024)]
ParameterName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,100}$")]


class TemplateButtonOut(BaseModel):
    index: int
    type: str = Field(description="QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW...")
    text: str
    url: str | None = None
    parameter: Literal["text", "payload", "coupon_code"] | None = Field(
        default=None, description="what a send may (payload) or must (text, coupon_code) give this button")


class TemplateParametersOut(BaseModel):
    """What a send of the template takes, read from its components."""

    format: Literal["POSITIONAL", "NAMED"]
    body: list[str] = Field(description="the body's parameters in order: positions ('1', '2') or names")
    header: Literal["text", "image", "video", "document", "location"] | None = Field(
        default=None, description="the header a send must give, if any")
    header_text_parameters: list[str] = Field(default_factory=list)
    buttons: list[TemplateButtonOut] = Field(default_factory=list)


class TemplateOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    provider_template_id: str | None
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: list[dict[str, Any]]
    quality: str | None
    rejected_reason: str | None
    synced_at: datetime
    removed_at: datetime | None
    parameters: TemplateParametersOut


class TemplateQuery(BaseModel):
    channel: uuid.UUID | None = Field(default=None, description="only this channel's templates")
    status: Annotated[str, StringConstraints(pattern=r"^[A-Z_]{2,32}$")] | None = Field(
        default=None, examples=["APPROVED"])
    language: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$")] | None = Field(
        default=None, examples=["es", "en_US"])
    include_removed: bool = Field(default=False, description="also the templates gone from the provider")


class ChannelSync(BaseModel):
    channel_id: uuid.UUID
    name: str
    ok: bool
    synced: int
    removed: int
    error: str | None = Field(default=None, description="why this channel's templates could not be read")


class SyncResult(BaseModel):
    synced: int = Field(description="templates read from the providers and stored")
    removed: int = Field(description="stored templates the providers no longer have (kept, marked removed_at)")
    channels: list[ChannelSync]


class TemplateHeaderIn(BaseModel):
    type: Literal["text", "image", "video", "document"]
    text: ParameterValue | None = Field(default=None, description="a text header's parameter")
    url: Annotated[Text, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="a media header's file: one of ours (/media/...) or a public https URL")
    filename: Annotated[Text, StringConstraints(max_length=255)] | None = None


class TemplateButtonIn(BaseModel):
    index: int = Field(ge=0, le=9, description="the button's position in the template")
    parameter: ParameterValue = Field(description="the URL's suffix, the coupon code, or a quick reply's payload")


class TemplateSendRequest(BaseModel):
    """Seed 001's contract (`parameters`: the body's values in order), extended with named
    parameters, a header's text or file and the buttons' parameters."""

    conversation_id: uuid.UUID
    template_id: uuid.UUID
    parameters: list[ParameterValue] = Field(default_factory=list, max_length=100, examples=[["Lucía", "martes"]])
    named_parameters: dict[ParameterName, ParameterValue] = Field(default_factory=dict, max_length=100)
    header: TemplateHeaderIn | None = None
    buttons: list[TemplateButtonIn] = Field(default_factory=list, max_length=10)


class TemplateSendResult(BaseModel):
    status: Literal["queued"]
    conversation_id: uuid.UUID
    message_id: int
    message: MessageOut
