from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from tertulia.kit.types import Name, Text

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_e164(value: str | None) -> str | None:
    """A phone number in E.164 (`+` and 8-15 digits) that is a possible number for its country."""
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        raise PydanticCustomError("phone_format", "the phone number must be in E.164 form, e.g. +525512345678")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise PydanticCustomError("phone_unreadable", "the phone number cannot be read") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise PydanticCustomError("phone_impossible", "that is not a possible phone number for its country code")
    return value


def check_color(value: str) -> str:
    if not HEX_COLOR.match(value):
        raise PydanticCustomError("invalid_color", "the colour must be a hex code like #22c55e")
    return value.lower()


Phone = Annotated[str | None, AfterValidator(check_e164)]
Color = Annotated[str, AfterValidator(check_color)]
TagName = Annotated[Name, StringConstraints(max_length=64)]


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    color: str


class TagCreate(BaseModel):
    name: TagName = Field(examples=["Cliente VIP"])
    color: Color = Field(default="#64748b", examples=["#22c55e"])


class TagUpdate(BaseModel):
    name: TagName | None = None
    color: Color | None = None


class IdentityOut(BaseModel):
    channel_id: uuid.UUID
    channel_source: str
    channel_name: str
    external_id: str


class ContactOut(BaseModel):
    id: uuid.UUID
    display_name: str
    phone: str | None
    notes: str
    custom_attributes: dict[str, Any]
    last_seen_at: datetime | None
    created_at: datetime
    tags: list[TagOut]
    identities: list[IdentityOut]


class ContactUpdate(BaseModel):
    display_name: Name | None = None
    phone: Phone = Field(default=None, examples=["+525512345678"])
    notes: Annotated[Text, StringConstraints(max_length=10_000)] | None = None
    custom_attributes: dict[str, Any] | None = Field(default=None, max_length=100)
