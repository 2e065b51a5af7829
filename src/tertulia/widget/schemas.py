"""What the widget's API takes and gives (docs/widget.md has the protocol)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from tertulia.kit.types import NonBlank, Text

Origin = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200,
                                          pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+$")]
Colour = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^#[0-9a-fA-F]{6}$")]
Short = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=300)]
VisitorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
# The widget's own cap: shorter than a channel message may be, a chat line rather than a document.
WIDGET_MAX_TEXT = 4000


class WebChannelSettings(BaseModel):
    """A `web` channel's widget: where it may run and how it looks. Every field is optional on
    update; what is not given keeps its value."""

    allowed_origins: list[Origin] = Field(default_factory=list, max_length=20, description=(
        "the sites (scheme://host[:port]) the widget may run on; every widget request and socket from "
        "another origin is refused (Tertulia's own host is always allowed, for the demo page)"))
    colour: Colour = Field(default="#2563eb", description="the launcher's and the visitor's bubbles' colour")
    greeting: Short = Field(default="", description="shown when the panel opens, before anyone writes")
    assistant_name: Short = Field(default="", description="the name shown above the panel (empty: the channel's)")
    avatar_url: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=500,
                                                  pattern=r"^(https://|/)\S*$")] | None = None
    ask_name: bool = Field(default=False, description="a pre-chat field for the visitor's name (optional to fill)")
    ask_email: bool = Field(default=False, description="a pre-chat field for the visitor's e-mail (optional)")
    business_hours_message: Short = Field(default="", description=(
        "shown under the greeting, e.g. «We answer Mon-Fri 9-18; the assistant is here the rest of the time»"))

    @field_validator("allowed_origins")
    @classmethod
    def _normalise(cls, value: list[str]) -> list[str]:
        return sorted({o.rstrip("/").lower() for o in value})


class WebChannelOut(WebChannelSettings):
    identity_secret: str = Field(description=(
        "signs a site's known user for identity verification: identifier_hash = hex HMAC-SHA256(secret, identifier)"))


class WebChannelUpdate(BaseModel):
    allowed_origins: list[Origin] | None = Field(default=None, max_length=20)
    colour: Colour | None = None
    greeting: Short | None = None
    assistant_name: Short | None = None
    avatar_url: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=500,
                                                  pattern=r"^(https://|/)\S*$")] | None = None
    ask_name: bool | None = None
    ask_email: bool | None = None
    business_hours_message: Short | None = None
    rotate_identity_secret: bool = Field(default=False, description="a new secret (the old one stops working)")


# --- the visitor's side ----------------------------------------------------------------------------

class VisitorSessionIn(BaseModel):
    visitor_id: VisitorId | None = Field(default=None, description="the id the browser kept; none: a new one")
    identifier: Annotated[NonBlank, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the site's id of a logged-in user; trusted only with identifier_hash")
    identifier_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    name: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    email: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=254,
                                             pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


class WidgetConfig(BaseModel):
    channel_id: uuid.UUID
    name: str
    colour: str
    greeting: str
    assistant_name: str
    avatar_url: str | None
    ask_name: bool
    ask_email: bool
    business_hours_message: str


class VisitorMessage(BaseModel):
    """A message as the visitor sees it: no internal fields (notes, errors, who of the team)."""

    id: int
    by: Literal["visitor", "ai", "agent"]
    text: str
    at: datetime
    attachments: list[dict[str, object]] = Field(default_factory=list)
    status: str = Field(description="the visitor's own: received | read; ours: sent | delivered | read")
    author_name: str | None = None
    turn: str | None = Field(default=None, description="the AI turn that wrote it (matches the streamed deltas)")


class VisitorSessionOut(BaseModel):
    visitor_id: str
    token: str = Field(description="send as `Authorization: Bearer` (HTTP) or `token=` (socket)")
    identified: bool = Field(description="the signed identifier was accepted")
    conversation_id: uuid.UUID | None
    config: WidgetConfig
    messages: list[VisitorMessage] = Field(description="the conversation's last 50 messages, oldest first")


class VisitorMessageIn(BaseModel):
    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = Field(
        description="the widget's id for this message: sending it again stores it once")
    text: Annotated[Text, StringConstraints(max_length=WIDGET_MAX_TEXT)] = ""
    upload_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{8,120}$")]] = Field(
        default_factory=list, max_length=4, description="files sent first to the uploads endpoint")


class VisitorMessageSent(BaseModel):
    client_id: str
    message: VisitorMessage
    conversation_id: uuid.UUID
    duplicate: bool


class VisitorMessages(BaseModel):
    conversation_id: uuid.UUID | None
    messages: list[VisitorMessage]


class VisitorReadIn(BaseModel):
    up_to: int = Field(ge=0, le=2**63 - 1, description="the newest message the visitor has seen")


class TypingIn(BaseModel):
    on: bool = True


class VisitorUploadOut(BaseModel):
    upload_id: str
    type: Literal["image", "document"]
    filename: str
    size: int

