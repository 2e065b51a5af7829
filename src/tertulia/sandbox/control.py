"""The sandbox's own JSON API under `/_sandbox/`: register channels, make a customer write, emit
statuses, inject failures, read what was sent and delivered. Tests and the phone page use it; it is
not part of any provider's wire format."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tertulia.sandbox.samples import sample
from tertulia.sandbox.state import (
    FAILURE_KINDS,
    Channel,
    FailureRate,
    FailureRule,
    SandboxError,
    SandboxState,
    new_numeric_id,
)
from tertulia.sandbox.templates import default_templates, filler_templates, template
from tertulia.sandbox.traffic import Traffic


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["whatsapp_cloud", "ycloud", "facebook", "instagram"]
    webhook_url: str | None = None
    # whatsapp_cloud
    phone_number_id: str | None = None
    display_phone_number: str | None = None  # digits or E.164; default derived
    verified_name: str | None = None
    # Meta (all three Meta kinds)
    access_token: str | None = None
    page_access_token: str | None = None
    app_secret: str | None = None
    verify_token: str | None = None
    # WhatsApp (both providers)
    waba_id: str | None = None
    # ycloud
    phone_number: str | None = None  # the business number in E.164
    api_key: str | None = None
    signing_secret: str | None = None
    # facebook / instagram
    page_id: str | None = None
    instagram_account_id: str | None = None
    name: str | None = None
    username: str | None = None
    auto_status: bool | None = None
    echo_api_sends: bool = True


class MediaIn(BaseModel):
    data_base64: str
    mime_type: str = "application/octet-stream"
    filename: str | None = None


class CustomerMessageIn(BaseModel):
    """A customer writes. `type` is one of the channel's message types (see docs/channels.md)."""

    model_config = ConfigDict(populate_by_name=True)
    channel: str
    from_: str = Field(alias="from")
    name: str | None = None
    user_id: str | None = None
    username: str | None = None
    type: str = "text"
    text: str | None = None
    caption: str | None = None
    filename: str | None = None
    media: MediaIn | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_name: str | None = None
    address: str | None = None
    url: str | None = None
    contacts: list[dict[str, Any]] | None = None
    reply_id: str | None = None
    reply_title: str | None = None
    description: str | None = None
    payload: str | None = None
    emoji: str | None = None
    target: str | None = None  # the message a reaction, edit or revoke applies to
    context: str | None = None  # the message this one replies to
    referral: dict[str, Any] | bool | None = None
    story_id: str | None = None
    timestamp: float | None = None  # the provider's time of the message (backdate to close a window)
    standby: bool = False
    wait: bool = True


class EchoIn(BaseModel):
    channel: str
    to: str
    text: str
    name: str | None = None
    wait: bool = True


class StatusIn(BaseModel):
    message_id: str
    status: Literal["sent", "delivered", "read", "played", "failed"]
    error_code: str | None = None
    wait: bool = True


class ReadIn(BaseModel):
    channel: str
    customer: str


class FailureIn(BaseModel):
    kind: str
    times: int = Field(1, ge=1, le=1_000_000)
    scope: Literal["send", "media"] = "send"
    channel: str | None = None
    recipient: str | None = None
    mode: Literal["sync", "async"] | None = None


class FailureRateIn(BaseModel):
    rate: float = Field(ge=0, le=1)
    kinds: list[str] = Field(default_factory=lambda: ["429", "5xx"])
    seed: int = 1
    channel: str | None = None


class TemplatesIn(BaseModel):
    templates: list[dict[str, Any]] | None = None  # Meta's shape (name, language, category, components...)
    filler: int = Field(0, ge=0, le=5000)  # numbered approved templates added after the given ones
    defaults: bool = False


class ReviewIn(BaseModel):
    name: str
    language: str | None = None
    event: str = "APPROVED"
    reason: str | None = None


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def build_channel(data: ChannelIn, app_id: str) -> tuple[Channel, dict[str, Any]]:
    """A channel from the registration, with generated ids and secrets where none were given;
    answers it with the credentials to configure Tertulia with."""
    token = data.access_token or data.page_access_token
    if data.kind == "whatsapp_cloud":
        key = data.phone_number_id or new_numeric_id(15)
        display = _digits(data.display_phone_number or "") or "3460" + key[-7:]
        channel = Channel("whatsapp_cloud", key, data.webhook_url, access_token=token or "EAAG" + secrets.token_hex(24),
                          app_secret=data.app_secret or secrets.token_hex(16), app_id=app_id,
                          waba_id=data.waba_id or new_numeric_id(15), display_phone_number=display,
                          verified_name=data.verified_name or "Negocio de prueba",
                          verify_token=data.verify_token or secrets.token_urlsafe(12))
        credentials = {"phone_number_id": key, "waba_id": channel.waba_id, "access_token": channel.access_token,
                       "app_secret": channel.app_secret, "verify_token": channel.verify_token,
                       "display_phone_number": display}
    elif data.kind == "ycloud":
        number = data.phone_number or "+3491" + new_numeric_id(7)
        if not number.startswith("+") or not number[1:].isdigit():
            raise SandboxError("phone_number must be in E.164 (+ and digits)")
        channel = Channel("ycloud", number, data.webhook_url, api_key=data.api_key or secrets.token_hex(16),
                          signing_secret=data.signing_secret or "whsec_" + secrets.token_hex(16),
                          waba_id=data.waba_id or new_numeric_id(15), display_phone_number=number[1:],
                          verified_name=data.verified_name or "Negocio de prueba", app_id=app_id)
        credentials = {"phone_number": number, "waba_id": channel.waba_id, "api_key": channel.api_key,
                       "signing_secret": channel.signing_secret}
    else:
        key = (data.page_id if data.kind == "facebook" else data.instagram_account_id) or new_numeric_id(15)
        channel = Channel(data.kind, key, data.webhook_url, access_token=token or "EAAG" + secrets.token_hex(24),
                          app_secret=data.app_secret or secrets.token_hex(16), app_id=app_id,
                          name=data.name or "Negocio de prueba", username=data.username or "negocio.sandbox",
                          verify_token=data.verify_token or secrets.token_urlsafe(12),
                          echo_api_sends=data.echo_api_sends)
        id_field = "page_id" if data.kind == "facebook" else "instagram_account_id"
        token_field = "page_access_token" if data.kind == "facebook" else "access_token"
        credentials = {id_field: key, token_field: channel.access_token, "app_secret": channel.app_secret,
                       "verify_token": channel.verify_token, "app_id": app_id}
    channel.auto_status = data.auto_status
    return channel, credentials


def build_router(state: SandboxState, traffic: Traffic) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "channels": len(state.channels)}

    @router.post("/channels", status_code=201)
    async def register_channel(data: ChannelIn) -> dict[str, Any]:
        channel, credentials = build_channel(data, traffic.config.app_id)
        state.add_channel(channel)
        if channel.waba_id:
            with state.lock:
                state.templates.setdefault(channel.waba_id, default_templates())
        base = traffic.base_url
        urls = {"graph_url": f"{base}/{traffic.config.graph_version}", "ycloud_url": f"{base}/v2",
                "phone_url": f"{base}/phone"}
        return {"channel": channel.public(), "credentials": credentials, "urls": urls}

    @router.get("/channels")
    async def list_channels() -> list[dict[str, Any]]:
        with state.lock:
            return [c.public() for c in state.channels.values()]

    @router.delete("/channels/{key}", status_code=204)
    async def delete_channel(key: str) -> Response:
        state.channel(key)
        with state.lock:
            state.channels.pop(key, None)
        return Response(status_code=204)

    @router.post("/channels/{key}/verify")
    async def verify(key: str) -> dict[str, Any]:
        return await traffic.verify_webhook(state.channel(key))

    @router.get("/customers")
    async def customers(channel: str | None = None) -> list[dict[str, Any]]:
        with state.lock:
            return [c.public() for c in state.customers.values() if channel is None or c.channel_key == channel]

    @router.post("/messages")
    async def customer_writes(data: CustomerMessageIn) -> dict[str, Any]:
        spec = data.model_dump(by_alias=True)
        if data.media is not None:
            spec["media"] = data.media.model_dump()
        return await traffic.customer_writes(spec)

    @router.post("/echoes")
    async def business_echo(data: EchoIn) -> dict[str, Any]:
        return await traffic.business_echo(data.model_dump())

    @router.post("/statuses")
    async def emit_status(data: StatusIn) -> dict[str, Any]:
        delivery = await traffic.emit_status(data.message_id, data.status, data.error_code, data.wait)
        return {"message_id": data.message_id, "status": data.status,
                "delivery": delivery.public(with_body=False) if delivery else None}

    @router.post("/read")
    async def customer_reads(data: ReadIn) -> dict[str, Any]:
        state.channel(data.channel)
        return {"read": await traffic.customer_reads(data.channel, data.customer)}

    @router.get("/sent")
    async def sent(channel: str | None = None, recipient: str | None = None) -> list[dict[str, Any]]:
        return [m.public() for m in state.sent_log(channel, recipient)]

    @router.get("/inbound")
    async def inbound(channel: str | None = None, customer: str | None = None) -> list[dict[str, Any]]:
        with state.lock:
            return [m.public() for m in state.inbound if (channel is None or m.channel_key == channel)
                    and (customer is None or m.customer_id == customer)]

    @router.get("/deliveries")
    async def deliveries(channel: str | None = None, event: str | None = None,
                         body: Annotated[bool, Query()] = True) -> list[dict[str, Any]]:
        with state.lock:
            return [d.public(with_body=body) for d in state.deliveries if (channel is None or d.channel_key == channel)
                    and (event is None or d.event == event)]

    @router.get("/actions")
    async def actions(channel: str | None = None) -> list[dict[str, Any]]:
        with state.lock:
            return [a for a in state.actions if channel is None or a["channel"] == channel]

    @router.get("/requests")
    async def requests() -> list[dict[str, Any]]:
        with state.lock:
            return list(state.requests)

    @router.post("/failures", status_code=201)
    async def add_failure(data: FailureIn) -> dict[str, Any]:
        if data.kind not in FAILURE_KINDS:
            raise SandboxError(f"unknown failure kind {data.kind!r}; one of {', '.join(FAILURE_KINDS)}")
        rule = FailureRule(data.kind, data.times, data.scope, data.channel, data.recipient, data.mode)
        with state.lock:
            state.rules.append(rule)
        return rule.public()

    @router.put("/failures/rate")
    async def set_rate(data: FailureRateIn) -> dict[str, Any]:
        unknown = [k for k in data.kinds if k not in FAILURE_KINDS]
        if unknown or not data.kinds:
            raise SandboxError(f"unknown failure kinds {unknown}; one of {', '.join(FAILURE_KINDS)}")
        with state.lock:
            state.rate = FailureRate(data.rate, data.kinds, data.seed, data.channel)
        return data.model_dump()

    @router.get("/failures")
    async def list_failures() -> dict[str, Any]:
        with state.lock:
            rate = state.rate
            return {"rules": [r.public() for r in state.rules if r.remaining > 0],
                    "rate": {"rate": rate.rate, "kinds": rate.kinds, "seed": rate.seed,
                             "channel": rate.channel_key} if rate else None}

    @router.delete("/failures", status_code=204)
    async def clear_failures() -> Response:
        with state.lock:
            state.rules.clear()
            state.rate = None
        return Response(status_code=204)

    @router.get("/templates/{waba_id}")
    async def get_templates(waba_id: str) -> list[dict[str, Any]]:
        with state.lock:
            return list(state.templates.get(waba_id, []))

    @router.put("/templates/{waba_id}")
    async def put_templates(waba_id: str, data: TemplatesIn) -> dict[str, Any]:
        records = default_templates() if data.defaults else []
        for t in data.templates or []:
            if not t.get("name") or not t.get("language"):
                raise SandboxError("every template needs name and language")
            records.append(template(t["name"], t["language"], t.get("category", "UTILITY"), t.get("components", []),
                                    status=t.get("status", "APPROVED"),
                                    parameter_format=t.get("parameter_format", "POSITIONAL"),
                                    rejected_reason=t.get("rejected_reason")))
        records.extend(filler_templates(data.filler))
        with state.lock:
            state.templates[waba_id] = records
        return {"waba_id": waba_id, "count": len(records)}

    @router.post("/templates/{waba_id}/review")
    async def review(waba_id: str, data: ReviewIn) -> dict[str, Any]:
        return {"deliveries": await traffic.template_reviewed(waba_id, data.name, data.language, data.event,
                                                              data.reason)}

    @router.get("/thread")
    async def thread(channel: str, customer: str) -> dict[str, Any]:
        """One conversation as the customer's phone shows it, oldest first."""
        with state.lock:
            items: list[dict[str, Any]] = [
                {"seq": m.seq, "from": "customer", "id": m.message_id, "type": m.type, "text": m.text, "at": m.at,
                 "read": m.read, "target": m.payload and _target(m.payload)}
                for m in state.inbound if m.channel_key == channel and m.customer_id == customer]
            items += [{"seq": m.seq, "from": "business", "id": m.message_id, "type": m.type, "text": m.text,
                       "at": m.at, "status": m.status, "echo": m.echo,
                       "error": (m.error or {}).get("title") if m.error else None}
                      for m in state.sent if m.channel_key == channel and m.recipient == customer]
            typing = any(a["action"] in ("typing", "typing_on") for a in state.actions[-5:]
                         if a["channel"] == channel and time.time() - a["at"] < 25)
        items.sort(key=lambda i: i["seq"])
        return {"messages": items, "typing": typing}

    @router.post("/reset", status_code=204)
    async def reset() -> Response:
        state.reset()
        return Response(status_code=204)

    return router


def _target(payload: dict[str, Any]) -> str | None:
    """The message a reaction applies to, from a webhook body (for the phone page)."""
    try:
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    except (KeyError, IndexError, TypeError):
        message = payload.get("whatsappInboundMessage") or {}
    target = (message.get("reaction") or {}).get("message_id")
    return str(target) if target else None


def cdn_routes(state: SandboxState) -> APIRouter:
    """Messenger/Instagram attachment and profile-picture URLs: public, like Meta's signed CDN links."""
    router = APIRouter(prefix="/_cdn")

    @router.get("/avatar/{name}")
    async def avatar(name: str) -> Response:
        return Response(sample("image")[0], media_type="image/png")

    @router.get("/{media_id}/{filename}")
    async def attachment(media_id: str, filename: str) -> Response:
        media = state.media.get(media_id)
        if media is None:
            return Response("Not Found", status_code=404)
        failure = state.take_failure("media", media.channel_key)
        if failure is not None:
            return Response("Service Unavailable", status_code=503 if failure.kind != "404" else 404)
        return Response(media.data, media_type=media.mime_type)

    return router


async def sandbox_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SandboxError)
    return JSONResponse({"error": {"code": "sandbox_error", "message": exc.message}}, status_code=exc.status)

