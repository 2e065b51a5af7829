"""What the providers send to Tertulia: a customer's message, the statuses of what the business sent,
echoes of what the business wrote from its own phone, template reviews. Each becomes a signed
webhook through the `WebhookSender`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx2

from tertulia.sandbox import envelopes as env
from tertulia.sandbox.samples import SAMPLE_KINDS, sample
from tertulia.sandbox.state import (
    Channel,
    Delivery,
    Failure,
    InboundMessage,
    MediaObject,
    SandboxError,
    SandboxState,
    SentMessage,
    new_id,
    new_wamid,
)
from tertulia.sandbox.webhooks import RetryPolicy, WebhookSender

MEDIA_TYPES = ("image", "video", "audio", "voice", "document", "sticker", "file", "story_mention", "story_reply")
WHATSAPP_TYPES = ("text", "image", "video", "audio", "voice", "document", "sticker", "location", "contacts",
                  "button_reply", "list_reply", "button", "reaction", "edit", "revoke", "unsupported")
PAGE_TYPES = ("text", "quick_reply", "image", "video", "audio", "file", "document", "voice", "sticker",
              "story_mention", "story_reply", "share", "reaction", "revoke", "unsupported")
OTHER_APP_ID = "1000000000000099"  # the app a page's own replies come from (Business Suite), not ours
WINDOW = 24 * 3600  # the customer-service window of WhatsApp and Messenger
HUMAN_AGENT_WINDOW = 7 * 24 * 3600  # Messenger's HUMAN_AGENT tag


@dataclass
class SandboxConfig:
    graph_version: str = "v23.0"
    app_id: str = "1000000000000001"  # the Meta app Tertulia's Graph API sends are attributed to
    auto_status: bool = True  # after an accepted send: `sent`, then `delivered`, by itself
    status_delays: tuple[float, float] = (0.3, 0.8)  # seconds to `sent`, then to `delivered`
    auto_read_after: float | None = None  # seconds after `delivered` to `read`; None: only when asked
    async_failure_delay: float = 0.05  # a send accepted then failed (131047, 131026...) reports after this
    enforce_window: bool = True  # free-form WhatsApp/Messenger messages fail outside the 24-hour window
    media_url_ttl: float = 300.0  # Meta's media download URLs expire after about five minutes
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class Traffic:
    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config
        self.sender = WebhookSender(state, config.retry)
        self.base_url = ""  # set once the server is bound (media links point back to it)
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- background work ----------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Background deliveries and scheduled statuses not finished yet."""
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sender.close()

    async def deliver(self, channel: Channel, payload: dict[str, Any], event: str, wait: bool) -> Delivery | None:
        if wait:
            return await self.sender.deliver(channel, payload, event)
        self.spawn(self.sender.deliver(channel, payload, event))
        return None

    # -- media --------------------------------------------------------------------------------------
    def _customer_media(self, channel: Channel, spec: dict[str, Any]) -> MediaObject:
        given = spec.get("media") or {}
        if given.get("data_base64"):
            try:
                data = base64.b64decode(given["data_base64"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SandboxError("media.data_base64 is not base64") from exc
            mime = given.get("mime_type") or "application/octet-stream"
            return self.state.add_media(channel.key, data, mime, given.get("filename") or spec.get("filename"))
        kind = {"voice": "audio", "file": "document", "story_mention": "image", "story_reply": "image"}.get(
            spec["type"], spec["type"])
        if kind not in SAMPLE_KINDS:
            kind = "image"
        data, mime, filename = sample(kind)
        return self.state.add_media(channel.key, data, mime, spec.get("filename") or filename)

    def media_link(self, channel: Channel, media: MediaObject) -> str:
        if channel.kind == "ycloud":
            return f"{self.base_url}/v2/whatsapp/media/download/{media.id}"
        # Messenger/Instagram attachment URLs are signed CDN links anyone holding them can fetch.
        return f"{self.base_url}/_cdn/{media.id}/{media.filename or 'file'}"

    # -- a customer writes --------------------------------------------------------------------------
    async def customer_writes(self, spec: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.channel(spec["channel"])
        kind = spec["type"]
        allowed = PAGE_TYPES if channel.kind in ("facebook", "instagram") else WHATSAPP_TYPES
        if kind not in allowed:
            raise SandboxError(f"a {channel.kind} customer cannot send a {kind!r} message")
        if kind in ("reaction", "edit", "revoke") and not spec.get("target"):
            raise SandboxError(f"a {kind} needs `target`: the id of the message it applies to")
        if kind == "location" and (spec.get("latitude") is None or spec.get("longitude") is None):
            raise SandboxError("a location needs latitude and longitude")
        customer = self.state.customer(channel.key, spec["from"], spec.get("name"), user_id=spec.get("user_id"),
                                       username=spec.get("username"))
        ts = float(spec.get("timestamp") or time.time())
        media = self._customer_media(channel, spec) if kind in MEDIA_TYPES else None
        if channel.kind in ("facebook", "instagram"):
            message_id, payload, text = self._page_inbound(channel, customer.id, spec, ts, media)
        else:
            message_id, payload, text = self._whatsapp_inbound(channel, customer, spec, ts, media)
        self.state.record_inbound(InboundMessage(self.state.next_seq(), channel.key, customer.id, message_id,
                                                 kind, text, ts, payload))
        delivery = await self.deliver(channel, payload, "message", spec.get("wait", True))
        return {"message_id": message_id, "media_id": media.id if media else None, "payload": payload,
                "delivery": delivery.public(with_body=False) if delivery else None}

    def _whatsapp_inbound(self, channel: Channel, customer: Any, spec: dict[str, Any], ts: float,
                          media: MediaObject | None) -> tuple[str, dict[str, Any], str]:
        link = self.media_link(channel, media) if (media and channel.kind == "ycloud") else None
        kind, content, text = env.whatsapp_content(spec, media, link)
        referral = env.referral_object(spec["referral"]) if spec.get("referral") else None
        wamid = new_wamid()
        if channel.kind == "ycloud":
            context = {"from": channel.key, "id": spec["context"]} if spec.get("context") else None
            return wamid, env.ycloud_inbound(channel, customer, new_id("", 12), wamid, ts, kind, content,
                                             context=context, referral=referral), text
        context = {"from": channel.display_phone_number, "id": spec["context"]} if spec.get("context") else None
        message = env.cloud_message(customer, wamid, ts, kind, content, context=context, referral=referral)
        return wamid, env.cloud_messages(channel, customer, [message]), text

    def _page_inbound(self, channel: Channel, customer_id: str, spec: dict[str, Any], ts: float,
                      media: MediaObject | None) -> tuple[str, dict[str, Any], str]:
        if spec["type"] == "reaction":
            event = env.page_reaction(channel, customer_id, ts, spec["target"], spec.get("emoji", "❤️"))
            return spec["target"], env.page_envelope(channel, [event], standby=bool(spec.get("standby"))), \
                spec.get("emoji", "")
        mid = "m_" + secrets.token_urlsafe(30)
        link = self.media_link(channel, media) if media else None
        _kind, message, text = env.page_message(spec, mid, link)
        event = env.page_event(channel, customer_id, ts, message=message)
        return message["mid"], env.page_envelope(channel, [event], standby=bool(spec.get("standby"))), text

    # -- statuses of the business's messages ---------------------------------------------------------
    async def emit_status(self, message_id: str, status: str, error_code: str | None = None,
                          wait: bool = True) -> Delivery | None:
        sent = self.state.find_sent(message_id)
        if sent is None:
            raise SandboxError(f"no sent message {message_id!r}", 404)
        channel = self.state.channel(sent.channel_key)
        error = env.meta_error_object(error_code or "131026") if status == "failed" else None
        self.state.set_status(sent, status, error)
        now = time.time()
        if channel.kind == "whatsapp_cloud":
            payload = env.cloud_statuses(channel, [env.cloud_status(sent, status, now, error_code)])
        elif channel.kind == "ycloud":
            payload = env.ycloud_message_updated(channel, sent, status)
        elif status == "delivered":
            payload = env.page_envelope(channel, [env.page_delivery(channel, sent.recipient, [sent.message_id],
                                                                    now)])
        elif status == "read":
            payload = env.page_envelope(channel, [env.page_read(channel, sent.recipient, now, sent.message_id)])
        else:
            return None  # Messenger/Instagram have no `sent` or `failed` webhook: the send answers them
        return await self.deliver(channel, payload, "status", wait)

    def later_failure(self, failure: Failure | None, channel_key: str, recipient: str, kind: str) -> str | None:
        """The error code an accepted WhatsApp send fails with later, if any: an injected failure
        reported asynchronously, or the closed 24-hour window (Meta accepts such a message, then
        reports 131047; templates may be sent any time)."""
        if failure is not None and not failure.kind.startswith("drop"):
            return failure.kind
        if self.config.enforce_window and kind != "template" and not self.state.window_open(
                channel_key, recipient, WINDOW):
            return "131047"
        return None

    def after_send(self, channel: Channel, sent: SentMessage, async_failure: str | None) -> None:
        """What follows an accepted send on its own: a failure the provider reports later, or the
        `sent`/`delivered` (and optionally `read`) statuses; for pages, the echo of the send."""
        if channel.kind in ("facebook", "instagram") and channel.echo_api_sends:
            echo = env.page_envelope(channel, [env.page_echo(channel, sent)])
            self.spawn(self.sender.deliver(channel, echo, "echo"))
        if async_failure is not None:
            self.spawn(self._later(self.config.async_failure_delay, sent.message_id, "failed", async_failure))
            return
        auto = channel.auto_status if channel.auto_status is not None else self.config.auto_status
        if auto:
            self.spawn(self._auto_statuses(sent))

    async def _later(self, delay: float, message_id: str, status: str, code: str | None) -> None:
        await asyncio.sleep(delay)
        await self.emit_status(message_id, status, code, wait=False)

    async def _auto_statuses(self, sent: SentMessage) -> None:
        to_sent, to_delivered = self.config.status_delays
        steps: list[tuple[float, str]] = [(to_sent, "sent"), (to_delivered, "delivered")]
        if self.config.auto_read_after is not None:
            steps.append((self.config.auto_read_after, "read"))
        for delay, status in steps:
            await asyncio.sleep(delay)
            if sent.status == "failed" or (status == "read" and sent.status == "read"):
                return
            # Not awaited: a webhook being retried must not hold back the next status.
            await self.emit_status(sent.message_id, status, wait=False)

    async def customer_reads(self, channel_key: str, customer_id: str) -> list[str]:
        """The customer opens the chat: every message to them not yet read (nor failed) becomes read."""
        pending = [m for m in self.state.sent_log(channel_key, customer_id)
                   if m.status in ("accepted", "sent", "delivered") and not m.echo]
        for m in pending:
            await self.emit_status(m.message_id, "read", wait=False)
        return [m.message_id for m in pending]

    # -- the business writes from its own phone (echo) ------------------------------------------------
    async def business_echo(self, spec: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.channel(spec["channel"])
        text = spec.get("text") or ""
        customer = self.state.customer(channel.key, spec["to"], spec.get("name"))
        now = time.time()
        if channel.kind in ("facebook", "instagram"):
            sent = SentMessage(self.state.next_seq(), channel.kind, channel.key, customer.id,
                               "m_" + secrets.token_urlsafe(30), "text", text, {"text": text}, now,
                               time.monotonic(), endpoint="business_app", status="sent", echo=True)
            self.state.record_sent(sent)
            event = env.page_echo(Channel(channel.kind, channel.key, app_id=OTHER_APP_ID), sent)
            payload = env.page_envelope(channel, [event])
        else:
            sent = SentMessage(self.state.next_seq(), channel.kind, channel.key, customer.id, new_wamid(), "text",
                               text, {"type": "text", "text": {"body": text}}, now, time.monotonic(),
                               endpoint="business_app", ycloud_id=new_id("", 12), status="sent", echo=True)
            self.state.record_sent(sent)
            payload = (env.ycloud_echo(channel, sent) if channel.kind == "ycloud"
                       else env.cloud_echo(channel, sent, {"text": {"body": text}}))
        delivery = await self.deliver(channel, payload, "echo", spec.get("wait", True))
        return {"message_id": sent.message_id, "payload": payload,
                "delivery": delivery.public(with_body=False) if delivery else None}

    # -- templates ----------------------------------------------------------------------------------
    async def template_reviewed(self, waba_id: str, name: str, language: str | None, event: str,
                                reason: str | None) -> list[dict[str, Any]]:
        with self.state.lock:
            found = [t for t in self.state.templates.get(waba_id, [])
                     if t["name"] == name and (language is None or t["language"] == language)]
            for t in found:
                t["status"] = event
        if not found:
            raise SandboxError(f"no template {name!r} in WABA {waba_id}", 404)
        deliveries = []
        for channel in self.state.channels_of(("whatsapp_cloud", "ycloud")):
            if channel.waba_id != waba_id or not channel.webhook_url:
                continue
            for t in found:
                if channel.kind == "whatsapp_cloud":
                    payload = env.cloud_template_status(channel, t, event, reason)
                else:
                    payload = env.ycloud_event("whatsapp.template.reviewed", "whatsappTemplate", {
                        "wabaId": waba_id, "name": t["name"], "language": t["language"], "category": t["category"],
                        "status": event, "reason": reason, "officialTemplateId": t["id"]})
                delivery = await self.sender.deliver(channel, payload, "template_status")
                deliveries.append(delivery.public(with_body=False))
        return deliveries

    # -- Meta's webhook verification ------------------------------------------------------------------
    async def verify_webhook(self, channel: Channel) -> dict[str, Any]:
        """Meta's `GET ?hub.mode=subscribe&hub.challenge=..&hub.verify_token=..` as its console does."""
        if not channel.webhook_url:
            raise SandboxError(f"channel {channel.key} has no webhook_url")
        challenge = str(secrets.randbelow(10 ** 9))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": channel.verify_token or ""}
        try:
            response = await self.sender.client().get(channel.webhook_url, params=params)
        except httpx2.HTTPError as exc:
            return {"ok": False, "status": None, "error": str(exc)}
        return {"ok": response.status_code == 200 and response.text == challenge, "status": response.status_code,
                "body": response.text[:200]}
