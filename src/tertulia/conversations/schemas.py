from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tertulia.contacts.schemas import TagOut
from tertulia.kit.types import NonBlank, Text

MAX_TEXT = 4096  # WhatsApp's limit for a text message body; the strictest of our channels

ChannelSource = Literal["whatsapp", "instagram", "facebook", "web", "api"]


def _is_none(value: object) -> bool:
    return value is None


class Attachment(BaseModel):
    """A file a message carries, as sent and as returned (fields without a value are left out). `url`
    is where it is served; a file still at the provider (a webhook's media, fetched by a worker) has
    `provider_media_id` and `status: pending` instead, then `ready` with its url, or `failed` with
    the reason in `error`."""

    type: Literal["image", "video", "audio", "document"]
    url: Annotated[Text, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        default=None, exclude_if=_is_none)
    filename: Annotated[Text, StringConstraints(max_length=255)] | None = Field(default=None, exclude_if=_is_none)
    mime_type: Annotated[Text, StringConstraints(max_length=127)] | None = Field(default=None, exclude_if=_is_none)
    size: int | None = Field(default=None, ge=0, le=2**40, exclude_if=_is_none)
    caption: Annotated[Text, StringConstraints(max_length=MAX_TEXT)] | None = Field(default=None, exclude_if=_is_none)
    voice: bool | None = Field(default=None, description="an audio recorded as a voice note", exclude_if=_is_none)
    sticker: bool | None = Field(default=None, exclude_if=_is_none)
    provider_media_id: Annotated[Text, StringConstraints(max_length=512)] | None = Field(
        default=None, description="the provider's id of a file not fetched yet (webhooks)", exclude_if=_is_none)
    status: Literal["pending", "ready", "failed"] | None = Field(default=None, exclude_if=_is_none)
    error: Annotated[Text, StringConstraints(max_length=500)] | None = Field(default=None, exclude_if=_is_none)
    error_code: Annotated[Text, StringConstraints(max_length=64)] | None = Field(default=None, exclude_if=_is_none)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(("https://", "http://", "/"))):
            raise PydanticCustomError("url_scheme",
                                      "an attachment url is absolute (http/https) or a path on this server")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Attachment:
        if self.url is None and self.provider_media_id is None:
            raise PydanticCustomError("attachment_without_file", "an attachment needs its url")
        return self


class SearchMatch(BaseModel):
    """Why a search (`q`) found a conversation by its messages: the newest one holding the words."""

    message_id: int
    excerpt: str = Field(description="the message's text around the first searched word, cut with `…`")


class ChatSummary(BaseModel):
    """One row of the inbox list (seed 001 fields first, then ours)."""

    id: uuid.UUID
    customer_phone: str
    display_name: str
    last_message: str
    timestamp: datetime
    channel_source: str
    unread_count: int
    is_locked: bool
    platform_origin: str
    contact_id: uuid.UUID
    channel_id: uuid.UUID
    status: str
    tags: list[TagOut]
    last_inbound_at: datetime | None
    window_open_until: datetime | None = Field(default=None, description=(
        "WhatsApp: when the 24-hour window to write freely closes (in the past: closed, only templates; "
        "null on WhatsApp: the customer never wrote). Null on other channels, which have no window."))
    match: SearchMatch | None = Field(default=None, description=(
        "With `q`: set when the conversation was found by a message's text rather than its contact's name or phone."))


class UnreadCount(BaseModel):
    conversations: int = Field(description="conversations with messages nobody has read")
    messages: int = Field(description="their unread messages together")


class AssistantRef(BaseModel):
    id: uuid.UUID
    name: str


class ConversationAnswering(BaseModel):
    """Who answers a conversation and whether its channel can deliver: what the chat's banners say,
    from the channel's settings and the conversation's own queue, never assumed."""

    ai_answers: bool = Field(description="an enabled assistant is linked to the conversation's enabled channel "
                                         "(it answers while the AI owns the conversation)")
    assistant: AssistantRef | None = Field(description="the assistant linked to the channel, enabled or not")
    ai_missing: Literal["no_assistant", "assistant_disabled", "channel_disabled"] | None = Field(
        description="why no assistant answers, when none does")
    delivery: Literal["ok", "paused", "retrying", "disabled"] = Field(description=(
        "paused: the provider refused the channel's credentials and messages wait until they are fixed; "
        "retrying: the conversation's next message failed and is being tried again; disabled: the channel is off"))
    delivery_reason: str | None = Field(description="the provider's or the last attempt's words, when not ok")
    delivery_code: str | None = Field(description="the failure's code when known (`channel_attention` when paused), "
                                                  "which the web app words in the chosen language")
    next_attempt_at: datetime | None = Field(description="retrying: when the next attempt is due")
    waiting: int = Field(description="messages of this conversation not delivered yet (queued, sending or paused)")


class MessageOut(BaseModel):
    id: int
    conversation_id: uuid.UUID
    sender: Literal["user", "agent"]
    content: str
    timestamp: datetime
    attachments: list[Attachment] = Field(default_factory=list)
    correlation_id: str | None = None
    author: Literal["contact", "ai", "human", "system"]
    author_name: str | None = None
    status: str
    error: str | None = None
    error_code: str | None = None
    status_at: datetime | None = None
    kind: str = "text"
    extra: dict[str, Any] | None = Field(default=None, description="what the kind carries: location, contacts, "
                                         "the reply's id and title, a template's name and parameters, a referral")
    reply_to_id: int | None = Field(default=None, description="the message this one answers (quotes)")
    reactions: list[dict[str, Any]] = Field(default_factory=list, description="[{emoji, by, at}]")
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    is_echo: bool = Field(default=False, description="written by the business from its own phone app")


MessageText = Annotated[NonBlank, StringConstraints(max_length=MAX_TEXT)]


class OutboundAttachment(BaseModel):
    """A file to send: one of this tenant's (`/media/<tenant>/<name>`, or the `media_id` that `POST
    /admin/media` answered; uploaded to the provider when sent) or a public URL the provider fetches
    itself. One of `url` and `media_id`."""

    type: Literal["image", "video", "audio", "document"]
    url: Annotated[Text, StringConstraints(min_length=1, max_length=2048)] | None = None
    media_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")] | None = Field(
        default=None, description="a file uploaded with POST /admin/media (its `id`)")
    filename: Annotated[Text, StringConstraints(max_length=255)] | None = None
    mime_type: Annotated[Text, StringConstraints(max_length=127)] | None = None
    voice: bool | None = Field(default=None, description="an audio to show as a voice note")

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "/media/")):
            raise PydanticCustomError("url_scheme",
                                      "an attachment url is absolute (http/https) or a path on this server")
        return value

    @model_validator(mode="after")
    def _one_file(self) -> OutboundAttachment:
        if (self.url is None) == (self.media_id is None):
            raise PydanticCustomError("attachment_without_file", "an attachment needs its url or its media_id")
        return self


class HumanSend(BaseModel):
    """What a person sends: text, and optionally one file (the text is its caption) and the
    message it answers."""

    attachments: list[OutboundAttachment] = Field(default_factory=list, max_length=1)
    message: Annotated[Text, StringConstraints(max_length=MAX_TEXT)] = Field(
        default="", examples=["Hola, soy Ana del equipo. Te ayudo con tu pedido."])
    reply_to_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="the message this one answers")

    @field_validator("message")
    @classmethod
    def _text_or_file(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        attachments = info.data.get("attachments") or []
        if not value and not attachments:
            raise PydanticCustomError("blank", "must not be empty")
        if value and attachments and attachments[0].type == "audio":
            raise PydanticCustomError("audio_caption", "an audio carries no text: send the text apart")
        return value


class SendRequest(HumanSend):
    conversation_id: uuid.UUID
    channel_source: ChannelSource = Field(examples=["whatsapp"])


class ConversationSendRequest(HumanSend):
    pass


class NoteCreate(BaseModel):
    """A private note: seen by the team in the conversation, never sent to the customer."""

    content: MessageText = Field(examples=["Pidió factura: enviarla el lunes con el pedido."])


class SendResult(BaseModel):
    status: Literal["queued"]
    conversation_id: uuid.UUID
    message_id: int
    is_locked: bool
    message: MessageOut


class HumanOverrideRequest(BaseModel):
    locked: bool


class HumanOverrideResult(BaseModel):
    locked: bool


class ReadResult(BaseModel):
    conversation_id: uuid.UUID
    unread_count: int


ExternalId = Annotated[NonBlank, StringConstraints(max_length=200)]


class InboundContact(BaseModel):
    external_id: ExternalId
    aliases: list[ExternalId] = Field(default_factory=list, max_length=3, description=(
        "other ids of the same person on this channel (WhatsApp: the business-scoped user id beside "
        "the phone); a conversation found by any of them is the person's"))
    name: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    phone: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class InboxQuery(BaseModel):
    """The inbox list's query parameters."""

    human_filter: Literal["all", "human_only", "bot_only"] = "all"
    channel: ChannelSource | None = None
    tag: Annotated[Text | None, Field(max_length=64, description="tag id or name")] = None
    status: Literal["open", "resolved", "snoozed"] | None = None
    q: Annotated[Text | None, Field(max_length=200, description="part of the name or phone")] = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    cursor: Annotated[Text | None, Field(max_length=200, description="from the X-Next-Cursor header")] = None


MessageKind = Literal["text", "image", "video", "audio", "voice", "document", "sticker", "location", "contacts",
                      "interactive", "button", "template", "unsupported"]


class InboundMessage(BaseModel):
    """One message a channel delivered. `content` is what a person reads in the inbox (for a
    location, its name and address; for a button reply, the button's title...); `kind` and `extra`
    keep what it was (coordinates, shared contacts, the reply's id, an ad's referral...)."""

    external_message_id: Annotated[NonBlank, StringConstraints(max_length=200)]
    contact: InboundContact
    content: Annotated[Text, StringConstraints(max_length=MAX_TEXT * 4)] = ""
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)
    timestamp: AwareDatetime | None = Field(default=None, description="when the customer wrote (the provider's clock)")
    kind: MessageKind = "text"
    extra: dict[str, Any] | None = Field(default=None, description="what the kind carries beyond text and files")
    reply_to: Annotated[Text, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the provider's id of the message this one answers (quotes)")
    echo: bool = Field(default=False, description=(
        "written by the business from its own phone app (WhatsApp Business app, Meta Business Suite): "
        "stored as a person's outbound message, never delivered again, and the person takes over"))

    model_config = {"json_schema_extra": {"examples": [{
        "external_message_id": "msg-0001",
        "contact": {"external_id": "cust-42", "name": "Lucía Pérez", "phone": "+525512345678"},
        "content": "Hola, ¿tienen envío a domicilio?",
    }]}}


class InboundResult(BaseModel):
    conversation_id: uuid.UUID
    message_id: int
    duplicate: bool


class EventOut(BaseModel):
    seq: int
    type: str
    data: dict[str, object]
    at: datetime
