"""The 24-hour windows. WhatsApp: a business may write freely to a customer only within 24 hours of
the customer's last message (by the provider's timestamp of when they wrote, `last_inbound_at`),
and after that only with an approved template. Messenger and Instagram: the same 24 hours, then
nothing, except a person of the team up to 7 days with Meta's `HUMAN_AGENT` tag when the channel
enables it (`human_agent_tag`); the AI never uses the tag. Our own messages, templates and echoes
do not reopen a window.

Free-form sends to a closed window are refused before they are queued (a person's: 409
`window_closed` naming the templates that can go instead; the AI's: the turn is skipped), so that
nobody learns of it from a failed message minutes later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tertulia.channels import repository as channels_repo
from tertulia.channels import template_repository as templates_repo
from tertulia.conversations.models import Conversation
from tertulia.kit.db import Reader, utcnow
from tertulia.kit.errors import Conflict

WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PAGE_SOURCES = ("facebook", "instagram")  # Meta's Messenger Platform
HUMAN_AGENT_OPTION = "human_agent_tag"  # Channel.options: a person may reply up to 7 days with the tag


def window_open_until(channel_source: str, last_inbound_at: datetime | None) -> datetime | None:
    """When the window closes (WhatsApp conversations the customer wrote in); None elsewhere."""
    if channel_source != "whatsapp" or last_inbound_at is None:
        return None
    return last_inbound_at + WINDOW


def window_is_closed(channel_source: str, last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """True for a WhatsApp, Messenger or Instagram conversation whose customer never wrote or wrote
    more than 24 h ago (what the AI may not write past)."""
    if channel_source not in ("whatsapp", *PAGE_SOURCES):
        return False
    return last_inbound_at is None or last_inbound_at + WINDOW <= (now or utcnow())


def page_messaging(last_inbound_at: datetime | None, *, human: bool, human_agent_tag: bool,
                   now: datetime | None = None) -> str | None:
    """How a Messenger/Instagram message may go now: `RESPONSE` within 24 h of the customer's last
    message, `HUMAN_AGENT` for a person's message within 7 days when the channel enables the tag;
    None when it may not go at all."""
    now = now or utcnow()
    if last_inbound_at is None:
        return None
    if last_inbound_at + WINDOW > now:
        return "RESPONSE"
    if human and human_agent_tag and last_inbound_at + HUMAN_AGENT_WINDOW > now:
        return "HUMAN_AGENT"
    return None


class WindowClosed(Conflict):
    code = "window_closed"


async def require_open_window(session: Reader, conv: Conversation) -> None:
    """Refuse a person's free-form message to a closed window: naming the templates that may go
    instead (WhatsApp), or saying how long a person may still answer (Messenger, Instagram)."""
    if conv.channel_source in PAGE_SOURCES:
        await _require_page_window(session, conv)
        return
    if not window_is_closed(conv.channel_source, conv.last_inbound_at):
        return
    approved = await templates_repo.approved_templates(session, conv.tenant_id, conv.channel_id)
    names = ", ".join(f"{t.name} ({t.language})" for t in approved[:10])
    advice = f"send one of the approved templates instead: {names}" if approved else (
        "no approved template is synced for this channel: sync the templates (POST /admin/templates/sync)")
    closes = window_open_until(conv.channel_source, conv.last_inbound_at)
    when = f"closed at {closes.isoformat()}" if closes else "is closed: the customer never wrote on this channel"
    extra: dict[str, Any] = {
        "closed_at": closes.isoformat() if closes else None,
        "templates": [{"id": str(t.id), "name": t.name, "language": t.language, "category": t.category}
                      for t in approved],
    }
    raise WindowClosed(f"WhatsApp's 24-hour window {when}; {advice}", extra=extra)


async def _require_page_window(session: Reader, conv: Conversation) -> None:
    channel = await channels_repo.get_channel(session, conv.tenant_id, conv.channel_id)
    tagged = bool(channel is not None and (channel.options or {}).get(HUMAN_AGENT_OPTION))
    if page_messaging(conv.last_inbound_at, human=True, human_agent_tag=tagged) is not None:
        return
    closes = conv.last_inbound_at + (HUMAN_AGENT_WINDOW if tagged else WINDOW) if conv.last_inbound_at else None
    when = f"closed at {closes.isoformat()}" if closes else "is closed: the customer never wrote on this channel"
    advice = ("a person may answer up to 7 days after the customer's last message with Meta's human agent tag, "
              "and that has passed") if tagged else (
        "enable the channel's human agent tag (human_agent_tag) to let a person answer up to 7 days after the "
        "customer's last message")
    raise WindowClosed(f"Meta's messaging window {when}; {advice}",
                       extra={"closed_at": closes.isoformat() if closes else None, "templates": []})
