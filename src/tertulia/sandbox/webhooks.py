"""Signs and POSTs webhooks to the Tertulia URL a channel registered, retrying like the providers do
when Tertulia answers non-2xx or cannot be reached, and logs every attempt.

- Meta: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` (and the legacy
  `X-Hub-Signature: sha1=...`). The body is JSON with non-ASCII characters and `/` escaped, as
  Meta sends it: a receiver that re-serialises the parsed body before checking fails, as it would
  in production.
- YCloud: `YCloud-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, signed
  again at every attempt (YCloud retries for hours; a stale `t` would fall outside any tolerance).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx2

from tertulia.sandbox.state import Channel, Delivery, DeliveryAttempt, SandboxError, SandboxState


@dataclass
class RetryPolicy:
    """How often a webhook is tried. The providers retry for days (Meta) or hours (YCloud: 10 s,
    30 s, 5 min, 30 min, 1 h, 2 h, 2 h); the sandbox keeps the shape and shortens the waits."""

    attempts: int = 5
    delays: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt (1-based)."""
        return self.delays[min(attempt - 1, len(self.delays) - 1)] if self.delays else 0.0


def meta_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def meta_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def ycloud_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def ycloud_signature(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},s=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, state: SandboxState, policy: RetryPolicy | None = None) -> None:
        self.state = state
        self.policy = policy or RetryPolicy()
        self._client: httpx2.AsyncClient | None = None

    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.policy.timeout, follow_redirects=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _prepare(self, channel: Channel, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        if channel.kind == "ycloud":
            if not channel.signing_secret:
                raise SandboxError(f"channel {channel.key} has no signing_secret to sign its webhooks")
            return ycloud_body(payload), {"content-type": "application/json", "user-agent": "YCloud-Webhook/1.0"}
        if not channel.app_secret:
            raise SandboxError(f"channel {channel.key} has no app_secret to sign its webhooks")
        body = meta_body(payload)
        sha1 = "sha1=" + hmac.new(channel.app_secret.encode(), body, hashlib.sha1).hexdigest()
        return body, {"content-type": "application/json", "user-agent": "facebookexternalua",
                      "x-hub-signature": sha1, "x-hub-signature-256": meta_signature(channel.app_secret, body)}

    def _headers_for_attempt(self, channel: Channel, delivery: Delivery) -> dict[str, str]:
        if channel.kind != "ycloud":
            return delivery.headers
        assert channel.signing_secret is not None
        signature = ycloud_signature(channel.signing_secret, delivery.body, int(time.time()))
        return {**delivery.headers, "ycloud-signature": signature}

    async def deliver(self, channel: Channel, payload: dict[str, Any], event: str) -> Delivery:
        """POST the payload to the channel's webhook URL, retrying per the policy; answers the
        delivery with every attempt Tertulia answered."""
        if not channel.webhook_url:
            raise SandboxError(f"channel {channel.key} has no webhook_url: register it with one")
        body, headers = self._prepare(channel, payload)
        delivery = Delivery(self.state.next_seq(), channel.key, channel.webhook_url, event, body, headers)
        with self.state.lock:
            self.state.deliveries.append(delivery)
        for attempt in range(1, self.policy.attempts + 1):
            headers = self._headers_for_attempt(channel, delivery)
            try:
                response = await self.client().post(delivery.url, content=body, headers=headers)
            except httpx2.HTTPError as exc:
                result = DeliveryAttempt(time.time(), None, error=f"{type(exc).__name__}: {exc}")
            else:
                result = DeliveryAttempt(time.time(), response.status_code, response=response.text[:500])
            with self.state.lock:
                delivery.attempts.append(result)
                if delivery.headers is not headers:
                    delivery.headers = headers  # the last signature sent
            if result.status is not None and 200 <= result.status < 300:
                delivery.outcome = "delivered"
                return delivery
            if attempt < self.policy.attempts:
                await asyncio.sleep(self.policy.delay(attempt))
        delivery.outcome = "failed"
        return delivery
