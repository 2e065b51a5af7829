"""Fixtures for the media worker's tests: WhatsApp channels of a fresh tenant connected to the
provider sandbox (WhatsApp Cloud and YCloud), customers' files placed in the sandbox, messages
carrying them handed to the app's inbound writer, and the app's own media worker with short waits
between attempts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tertulia.channels.credentials import check_credentials
from tertulia.channels.service import create_channel
from tertulia.conversations.inbound import InboundDelivery
from tertulia.conversations.media_fetch import MediaWorker
from tertulia.conversations.schemas import Attachment, InboundContact, InboundMessage
from tertulia.kit.crypto import SecretBox
from tertulia.sandbox.server import SandboxServer
from tests.helpers import TenantCtx

CREDENTIAL_FIELDS = {"whatsapp_cloud": ("phone_number_id", "waba_id", "access_token", "app_secret"),
                     "ycloud": ("api_key", "phone_number", "waba_id", "signing_secret")}


@dataclass
class WhatsAppLine:
    """A tenant's WhatsApp channel and the same number in the sandbox."""

    tenant: TenantCtx
    kind: str
    channel_id: uuid.UUID
    key: str  # the sandbox's name for it: the phone number id, or the YCloud number
    credentials: dict[str, Any]


@pytest.fixture
def sandbox(provider_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    provider_sandbox.state.reset()
    yield provider_sandbox
    provider_sandbox.state.reset()


@pytest.fixture
def media_worker(app: Any) -> Iterator[MediaWorker]:
    """The app's media worker, retrying after a few hundredths of a second instead of minutes."""
    worker: MediaWorker = app.state.media_worker
    delays = worker.retry_delays
    worker.retry_delays = (0.05, 0.05, 0.1)
    yield worker
    worker.retry_delays = delays


@dataclass
class MediaCase:
    """One test's tenant, its WhatsApp channel on the sandbox, and customers' files sent through it."""

    app: Any
    client: httpx2.AsyncClient
    sandbox: SandboxServer
    line: WhatsAppLine

    @property
    def tenant(self) -> TenantCtx:
        return self.line.tenant

    def place(self, data: bytes, mime: str, filename: str | None = None) -> str:
        return place_file(self.sandbox, self.line, data, mime, filename)

    async def send(self, *attachments: dict[str, Any], kind: str = "image") -> dict[str, Any]:
        """A message with these files (each with its `provider_media_id`), once none is pending."""
        conversation, message_id = await customer_sends(self.app, self.line, *attachments, kind=kind)
        return await settled(self.client, self.tenant, conversation, message_id)

    async def send_file(self, data: bytes, mime: str, attachment: dict[str, Any],
                        filename: str | None = None) -> dict[str, Any]:
        """One file placed at the provider and sent; its attachment as the inbox reads it at the end."""
        message = await self.send({**attachment, "provider_media_id": self.place(data, mime, filename)})
        return dict(message["attachments"][0])


@pytest.fixture
def media_case(app: Any, client: httpx2.AsyncClient, make_tenant: Any, connect: Any, sandbox: SandboxServer,
               media_worker: MediaWorker) -> Any:
    async def factory(provider: str = "whatsapp_cloud") -> MediaCase:
        return MediaCase(app, client, sandbox, await connect(await make_tenant("media"), provider))

    return factory


@pytest.fixture
def connect(sandbox: SandboxServer, db: Any, settings: Any) -> Any:
    """Connect a WhatsApp channel of the tenant to the sandbox, as its owner would."""

    async def factory(t: TenantCtx, kind: str, **registration: Any) -> WhatsAppLine:
        async with httpx2.AsyncClient(base_url=sandbox.url) as http:
            answer = await http.post("/_sandbox/channels", json={"kind": kind, **registration})
        assert answer.status_code == 201, answer.text
        given = answer.json()["credentials"]
        credentials = {k: given[k] for k in CREDENTIAL_FIELDS[kind]}
        async with db.session(t.id) as session:
            channel, _ = await create_channel(session, SecretBox(settings.resolved_secret_key()), t.id, kind,
                                              f"WhatsApp {kind}", credentials=check_credentials(kind, credentials))
        return WhatsAppLine(t, kind, channel.id, answer.json()["channel"]["key"], credentials)

    return factory


def place_file(sandbox: SandboxServer, line: WhatsAppLine, data: bytes, mime: str, filename: str | None = None) -> str:
    """A customer's file, held by the provider; its media id."""
    return sandbox.state.add_media(line.key, data, mime, filename).id


async def customer_sends(app: Any, line: WhatsAppLine, *attachments: dict[str, Any], content: str = "",
                         kind: str = "image") -> tuple[uuid.UUID, int]:
    """A message with files still at the provider, stored as a webhook stores it; (conversation,
    message id)."""
    body = InboundMessage(external_message_id=f"wamid.{uuid.uuid4().hex}", kind=kind,  # type: ignore[arg-type]
                          contact=InboundContact(external_id="34600111222", name="Lucía", phone="+34600111222"),
                          content=content, attachments=[Attachment(**a) for a in attachments])
    result = await app.state.inbound_writer.submit(InboundDelivery(line.channel_id, body))
    return result.conversation_id, result.message_id


async def settled(client: httpx2.AsyncClient, t: TenantCtx, conversation_id: uuid.UUID, message_id: int,
                  within: float = 15.0) -> dict[str, Any]:
    """The message once none of its attachments is pending any more, as the inbox reads it."""
    deadline = time.monotonic() + within
    while True:
        r = await client.get(f"/admin/chats/{conversation_id}/messages", headers=t.headers)
        assert r.status_code == 200, r.text
        message = next(m for m in r.json() if m["id"] == message_id)
        if all(a.get("status") != "pending" for a in message["attachments"]):
            return dict(message)
        if time.monotonic() > deadline:
            raise TimeoutError(f"attachments still pending: {message['attachments']}")
        await asyncio.sleep(0.02)
