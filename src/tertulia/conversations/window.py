"""WhatsApp's 24-hour window: a business may write freely to a customer only within 24 hours of the
customer's last message (by the provider's timestamp of when they wrote, `last_inbound_at`), and
after that only with an approved template. Our own messages, templates and echoes do not reopen it.

Free-form sends to a closed window are refused before they are queued (a person's: 409
`window_closed` naming the templates that can go instead; the AI's: the turn is skipped), so that
nobody learns of it from a failed message minutes later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tertulia.channels import template_repository as templates_repo
from tertulia.conversations.models import Conversation
from tertulia.kit.db import Reader, utcnow
from tertulia.kit.errors import Conflict

WINDOW = timedelta(hours=24)


def window_open_until(channel_source: str, last_inbound_at: datetime | None) -> datetime | None:
    """When the window closes (WhatsApp conversations the customer wrote in); None elsewhere."""
    if channel_source != "whatsapp" or last_inbound_at is None:
        return None
    return last_inbound_at + WINDOW


def window_is_closed(channel_source: str, last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """True for a WhatsApp conversation whose customer never wrote or wrote more than 24 h ago."""
    if channel_source != "whatsapp":
        return False
    closes = window_open_until(channel_source, last_inbound_at)
    return closes is None or closes <= (now or utcnow())


class WindowClosed(Conflict):
    code = "window_closed"


async def require_open_window(session: Reader, conv: Conversation) -> None:
    """Refuse a free-form message to a closed window, naming the templates that may go instead."""
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
