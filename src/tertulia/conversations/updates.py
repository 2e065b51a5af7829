"""Changes to a message after it was stored, as a channel reports them: reactions, edits and
deletions (revokes). Each applies to the message the provider names, locked, and emits
`message.updated` so the panel replaces it. Applying the same report twice changes nothing (a
replayed webhook).

- A reaction is shown on the message (`reactions: [{emoji, by, at}]`), not as a message of its own;
  each side has at most one (a new one replaces it, an empty emoji removes it).
- An edit replaces the content and sets `edited_at`; the first text is kept in `extra.original`, so
  the team sees what the customer wrote before.
- A revoke sets `deleted_at`; the text stays for the team (the customer's phone shows it deleted).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversations.models import Message
from tertulia.conversations.service import emit_message_updated
from tertulia.kit.db import tenant_select, utcnow


class MessageNotStored(LookupError):
    """The message a change applies to is not stored (yet): the webhook stays `failed` and a replay
    applies it once the message is there."""


async def _lock(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, provider_id: str) -> Message:
    stmt = (tenant_select(Message, tenant_id)
            .where(Message.channel_id == channel_id, Message.provider_message_id == provider_id)
            .with_for_update())
    message = (await session.execute(stmt)).scalar_one_or_none()
    if message is None:
        raise MessageNotStored(f"the message {provider_id} is not stored (yet)")
    return message


async def apply_reaction(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, provider_id: str, *,
                         emoji: str, by: Literal["contact", "business"], at: datetime) -> Message:
    message = await _lock(session, tenant_id, channel_id, provider_id)
    current = list(message.reactions or [])
    mine = next((r for r in current if r.get("by") == by), None)
    if mine is not None and datetime.fromisoformat(mine["at"]) > at:
        return message  # a newer reaction of the same side is already shown
    wanted = [r for r in current if r.get("by") != by] + ([{"emoji": emoji, "by": by, "at": at.isoformat()}]
                                                          if emoji else [])
    if wanted != current:
        message.reactions = wanted
        message.updated_at = utcnow()
        await emit_message_updated(session, message)
    return message


async def apply_edit(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, provider_id: str, *,
                     content: str, at: datetime) -> Message:
    message = await _lock(session, tenant_id, channel_id, provider_id)
    if message.edited_at is not None and message.edited_at >= at:
        return message  # this edit, or a later one, is already applied
    extra = dict(message.extra or {})
    extra.setdefault("original", message.content)
    message.extra, message.content, message.edited_at = extra, content, at
    message.updated_at = utcnow()
    await emit_message_updated(session, message)
    return message


async def apply_revoke(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, provider_id: str, *,
                       at: datetime) -> Message:
    message = await _lock(session, tenant_id, channel_id, provider_id)
    if message.deleted_at is None:
        message.deleted_at = at
        message.updated_at = utcnow()
        await emit_message_updated(session, message)
    return message
