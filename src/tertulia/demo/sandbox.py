"""The demo tenant's WhatsApp numbers (and its Messenger and Instagram pages), connected to the
provider sandbox (`tertulia sandbox --demo`, `make run SANDBOX=1`), so that a person can try a
channel end to end without a Meta account.

Café Aurora answers on two WhatsApp numbers: one through Meta's Cloud API (the demo's own
channel) and one through YCloud (added here, answered by Nora too), and on its Messenger page and
Instagram account. Each gets credentials (made up
on first use, kept encrypted like any channel's, the same on every later run) and the sandbox gets
the same ones, with Tertulia's webhook URL for the channel. Tertulia then talks to the sandbox as it
would to the providers once `TERTULIA_META_GRAPH_URL` and `TERTULIA_YCLOUD_API_URL` point at it.
Nothing here runs unless asked.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import repository as channels_repo
from tertulia.channels.credentials import check_credentials
from tertulia.channels.models import Channel
from tertulia.channels.providers import provider
from tertulia.channels.service import create_channel
from tertulia.demo import content
from tertulia.demo.assistant import ensure_demo_assistant
from tertulia.demo.tenant import DEMO_SLUG
from tertulia.kit.crypto import SecretBox
from tertulia.kit.errors import Invalid, NotFound
from tertulia.tenancy import repository as tenancy_repo

YCLOUD_CHANNEL = ("WhatsApp Café Aurora · YCloud", "+52 55 4170 2299")
SANDBOX_KINDS = ("whatsapp_cloud", "ycloud", "facebook", "instagram")


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _numeric_id(digits: int = 15) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


def made_up_credentials(kind: str) -> dict[str, str]:
    """Credentials of the shape the provider's are (channels/credentials.py), for the sandbox only."""
    if kind == "whatsapp_cloud":
        return {"phone_number_id": _numeric_id(), "waba_id": _numeric_id(),
                "access_token": "EAAG" + secrets.token_hex(24), "app_secret": secrets.token_hex(16)}
    if kind == "facebook":
        return {"page_id": _numeric_id(), "page_access_token": "EAAG" + secrets.token_hex(24),
                "app_secret": secrets.token_hex(16)}
    if kind == "instagram":
        return {"instagram_account_id": "1784" + _numeric_id(13), "access_token": "IGAA" + secrets.token_hex(24),
                "app_secret": secrets.token_hex(16)}
    return {"api_key": secrets.token_hex(16), "phone_number": "+" + _digits(YCLOUD_CHANNEL[1]),
            "waba_id": _numeric_id(), "signing_secret": "whsec_" + secrets.token_hex(16)}


async def connect_demo_to_sandbox(session: AsyncSession, box: SecretBox, tertulia_url: str) -> list[dict[str, Any]]:
    """Give the demo's two WhatsApp channels (and its Messenger and Instagram ones) credentials
    (kept when they have them) and answer the sandbox's registrations of the same accounts (`POST
    /_sandbox/channels` bodies), each with the channel's webhook URL under `tertulia_url`."""
    tenant = await tenancy_repo.get_tenant_by_slug(session, DEMO_SLUG)
    if tenant is None:
        raise NotFound("there is no demo tenant yet: run `tertulia demo` first", code="unknown_tenant")
    channels = await channels_repo.list_channels(session, tenant.id)
    if not any(c.kind == "ycloud" for c in channels):
        name, origin = YCLOUD_CHANNEL
        created, _ = await create_channel(session, box, tenant.id, "ycloud", name, origin)
        channels.append(created)
        await ensure_demo_assistant(session, tenant.id)  # Nora answers there too
    registrations = []
    for kind in SANDBOX_KINDS:
        channel = next((c for c in channels if c.kind == kind), None)
        if channel is None:  # the demo's Messenger and Instagram pages, when it has them
            continue
        credentials = _credentials(channel, box)
        webhook_url = f"{tertulia_url.rstrip('/')}/webhooks/{channel.id}"
        registration: dict[str, Any] = {"kind": kind, "webhook_url": webhook_url,
                                        "verified_name": content.BUSINESS_NAME, **credentials}
        if kind == "whatsapp_cloud":
            registration["display_phone_number"] = _digits(channel.platform_origin) or None
        if kind in ("facebook", "instagram"):
            registration["name"] = content.BUSINESS_NAME
            registration["username"] = channel.platform_origin.lstrip("@") if kind == "instagram" else None
        if channel.verify_token:
            registration["verify_token"] = channel.verify_token
        registrations.append(registration)
    await session.flush()
    return registrations


def _credentials(channel: Channel, box: SecretBox) -> dict[str, Any]:
    """The channel's credentials, made up and stored when it has none (or none of its kind's shape)."""
    stored = box.decrypt(channel.credentials_encrypted) if channel.credentials_encrypted else {}
    try:
        return check_credentials(channel.kind, stored)
    except Invalid:  # none yet, or not of this kind's shape: made up for the sandbox
        pass
    credentials = check_credentials(channel.kind, made_up_credentials(channel.kind))
    channel.credentials_encrypted = box.encrypt(credentials)
    kind = provider(channel.kind)
    channel.account_id = str(credentials[kind.account_credential]) if kind.account_credential else None
    if kind.verify_token and not channel.verify_token:
        channel.verify_token = secrets.token_urlsafe(24)
    return credentials
