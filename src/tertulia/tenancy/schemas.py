from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from tertulia.kit.types import Name, Text


def check_time_zone(value: str) -> str:
    # The IANA database's names only (ZoneInfo alone would also take file paths); "UTC" is one.
    if value not in _time_zones():
        raise PydanticCustomError("invalid_time_zone", "unknown time zone; use an IANA name such as "
                                  "'America/Mexico_City' or 'Europe/Madrid'")
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class LoginRequest(BaseModel):
    email: Text = Field(max_length=320, examples=["owner@demo.tertulia.local"])
    password: Text = Field(max_length=256, examples=["nora-demo-2026"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    display_name: str


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    role: str


class SessionOut(BaseModel):
    user: UserOut
    tenant: TenantOut | None
    tenants: list[TenantOut]
    csrf_token: str


class SelectTenantRequest(BaseModel):
    slug: Text = Field(max_length=64)


class MemberCreate(BaseModel):
    email: Text = Field(max_length=320)
    role: Literal["owner", "admin", "agent"] = "agent"
    password: Text | None = Field(default=None, max_length=256, description="needed when the user is new")
    display_name: Name | None = None


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: datetime


class MemberUpdate(BaseModel):
    role: Literal["owner", "admin", "agent"]


class TokenCreate(BaseModel):
    name: Name


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = Field(description=(
        "when a request last used the token, to the minute (null: never used)"))
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown only once")


class TenantSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    slug: str
    name: str
    time_zone: str = Field(description="an IANA time zone name, e.g. America/Mexico_City")
    ai_resumes_after_minutes: int | None = Field(default=None, description=(
        "after how many minutes without a person's message a conversation a person took over goes back "
        "to the AI; null: never (it stays with the people until someone gives it back)"))


class TenantSettingsUpdate(BaseModel):
    name: Name | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64), AfterValidator(check_time_zone)] | None = Field(
        default=None, examples=["America/Mexico_City"])
    ai_resumes_after_minutes: int | None = Field(default=None, ge=1, le=525_600, examples=[1440], description=(
        "minutes (up to a year); null turns the return off"))
