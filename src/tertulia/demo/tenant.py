"""The demo tenant (`tertulia demo`): Café Aurora and its assistant Nora, with ~40 conversations.

Loading is one transaction that writes rows directly, in bulk, shaped exactly as the live paths
(`ingest_inbound`, `add_outbound_message`, `send_human_message`) would have left them: the same
authors, statuses, delivery rows and denormalised conversation counters. It records no tenant
events, since nothing happened live; a panel that connects afterwards reads the inbox from the API.

It is idempotent: when the `demo` tenant exists, nothing is written to the database and only missing
attachment files are written again (the file store may have been wiped or replaced by a bucket).
Those files ship in this package (`media/`) and go through the file store, as any attachment does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import AiTrace, Assistant
from tertulia.assistants.orchestrator import Orchestrator, RunState, history_messages
from tertulia.assistants.service import HANDOFF_NOTE
from tertulia.channels.models import Channel
from tertulia.channels.service import create_channel
from tertulia.config import Settings
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.conversations.media import media_key, media_url
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.service import move_counters, preview_of
from tertulia.delivery.models import OutboundDelivery
from tertulia.demo import content
from tertulia.demo.assistant import ensure_demo_assistant
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, utcnow
from tertulia.kit.storage import FileStore, content_type_of
from tertulia.tenancy import repository as tenancy_repo
from tertulia.tenancy.models import User
from tertulia.tenancy.service import add_member, create_tenant, create_user
from tertulia.widget.schemas import WebChannelSettings

DEMO_SLUG = "demo"
DEMO_EMAIL = "ana@cafe-aurora.example"
DEMO_PASSWORD = "nora-demo-2026"  # also the agent's (diego@cafe-aurora.example): a demo, not a secret

# The story: the team last went through the inbox this long before the demo was loaded, so what
# customers wrote since then is unread (unless a human answered it, which marks a chat read).
LAST_READ = timedelta(minutes=90)


async def write_media_files(store: FileStore, tenant_id: uuid.UUID, *,
                            only_missing: bool = False) -> dict[str, dict[str, Any]]:
    """Store the demo's attachment files for the tenant; returns, per media key, the attachment as
    messages carry it (for the files it wrote)."""
    attachments: dict[str, dict[str, Any]] = {}
    for key, spec in content.MEDIA.items():
        name = spec["filename"]
        if only_missing and await store.exists(media_key(tenant_id, name)):
            continue
        size = await store.put(media_key(tenant_id, name), (files(__package__) / "media" / name).read_bytes())
        attachments[key] = {"type": spec["type"], "url": media_url(tenant_id, name), "filename": name,
                            "mime_type": content_type_of(name), "size": size}
    return attachments


def _provider_id(source: str, seed: str) -> str | None:
    """Message ids in each platform's own shape (stable per message, unique per channel)."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    if source == "whatsapp":
        return "wamid.HBgN" + digest[:40].upper()
    if source in ("instagram", "facebook"):
        return "m_" + digest[:43]
    if source == "api":
        return "tienda-" + digest[:16]
    return None  # the web widget's messages are ours; there is no provider id


@dataclass
class _Loaded:
    channels: dict[str, Channel]
    tags: dict[str, Tag]
    users: dict[str, User]
    media: dict[str, dict[str, Any]]
    contacts: dict[str, Contact] = field(default_factory=dict)


async def _user(session: AsyncSession, email: str, name: str) -> User:
    user = await tenancy_repo.get_user_by_email(session, email)
    return user if user is not None else await create_user(session, email, DEMO_PASSWORD, name)


async def load_demo(session: AsyncSession, settings: Settings, store: FileStore) -> bool:
    """Create the demo tenant; False (and only missing files stored again) when it already exists."""
    existing = await tenancy_repo.get_tenant_by_slug(session, DEMO_SLUG)
    if existing is not None:
        await write_media_files(store, existing.id, only_missing=True)
        return False

    now = utcnow()
    tenant = await create_tenant(session, DEMO_SLUG, content.BUSINESS_NAME)
    owner = await _user(session, DEMO_EMAIL, content.OWNER_NAME)
    agent = await _user(session, content.AGENT_EMAIL, content.AGENT_NAME)
    await add_member(session, tenant, owner, "owner")
    await add_member(session, tenant, agent, "agent")

    box = SecretBox(settings.resolved_secret_key())
    channels: dict[str, Channel] = {}
    for source, (kind, name, origin) in content.CHANNELS.items():
        web = WebChannelSettings.model_validate(content.WIDGET) if kind == "web" else None
        channels[source], _ = await create_channel(session, box, tenant.id, kind, name, origin, web=web)

    tags = {name: Tag(id=uuid.uuid4(), tenant_id=tenant.id, name=name, name_key=name.casefold(), color=color,
                      created_at=now - timedelta(days=30))
            for name, color in content.TAGS.items()}
    session.add_all(tags.values())

    loaded = _Loaded(channels=channels, tags=tags, users={"owner": owner, "agent": agent},
                     media=await write_media_files(store, tenant.id))
    # Nora (offline, with her knowledge of the café) answers on every channel.
    nora = await ensure_demo_assistant(session, tenant.id)
    plans = [_plan(loaded, tenant.id, script, index, now) for index, script in enumerate(content.SCRIPTS)]
    runs = [run for plan in plans for run in await _run_nora(session, box, nora, plan)]

    session.add_all(loaded.contacts.values())
    await session.flush()
    session.add_all([p.identity for p in plans])
    session.add_all([link for p in plans for link in p.tag_links])
    session.add_all([p.conversation for p in plans])
    await session.flush()
    # Inserted in time order, so message ids grow with time as they do live.
    messages = sorted((m for p in plans for m in p.messages), key=lambda m: m.created_at)
    session.add_all(messages)
    await session.flush()
    deliveries = []
    for plan in plans:
        _count(plan, now)
        for msg in plan.messages:
            if msg.direction == "outbound" and msg.author != "system":  # a note for the team is never sent
                failed = msg.status == "failed"
                deliveries.append(OutboundDelivery(
                    tenant_id=tenant.id, message_id=msg.id, channel_id=msg.channel_id,
                    state="failed" if failed else "done", attempts=1, next_attempt_at=msg.created_at,
                    last_error=msg.error, created_at=msg.created_at, updated_at=msg.updated_at))
    session.add_all(deliveries)
    # Every reply of Nora's is her own run's, with the trace a live run leaves ("why did the AI say
    # this?"): the knowledge she searched, what she found, her answer or her handoff.
    session.add_all([_run_trace(nora, run) for run in runs])
    await session.flush()
    return True


class _InTransaction:
    """The loading transaction's session, as the orchestrator's database: its tool calls (the
    knowledge search) read what this transaction wrote, and hold no second SQLite writer."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @asynccontextmanager
    async def session(self, tenant_id: uuid.UUID | None = None, **_: Any) -> AsyncIterator[AsyncSession]:
        yield self._session

    read_session = session


@dataclass
class _Run:
    plan: _Plan
    reply: Message  # Nora's reply, or her handoff message to the customer
    state: RunState
    sources: list[dict[str, Any]]


async def _run_nora(session: AsyncSession, box: SecretBox, nora: Assistant, plan: _Plan) -> list[_Run]:
    """Nora's turns of a conversation (`NORA()` in the script), each the offline assistant run
    through the real orchestrator on the conversation so far: her reply becomes the message; a
    handoff becomes her handoff message, the note for the team, and the conversation is the team's
    (a later turn of hers is not run: she no longer answers there)."""
    if not any(t.who == "ai" for t in plan.script.turns):
        return []
    orchestrator = Orchestrator(cast(Database, _InTransaction(session)), box)
    contact = plan.contact
    contact_line = f"Customer: {contact.display_name}" + (f" ({contact.phone})" if contact.phone else "")
    runs: list[_Run] = []
    handed_off = False
    for turn, msg in zip(plan.script.turns, list(plan.messages), strict=True):
        if turn.who != "ai":
            continue
        if handed_off:
            plan.messages.remove(msg)
            continue
        before = [m for m in plan.messages if m.created_at < msg.created_at]
        state, ctx = await orchestrator.preview(nora, history_messages(before), contact_line=contact_line,
                                                conversation_id=plan.conversation.id)
        msg.correlation_id = state.correlation_id
        if state.handoff_reason is None:
            msg.content = state.output
        else:
            handed_off = True
            msg.content = nora.handoff_message
            at = msg.created_at + timedelta(seconds=1)
            note = Message(tenant_id=msg.tenant_id, conversation_id=msg.conversation_id, channel_id=msg.channel_id,
                           direction="outbound", author="system", status="sent", correlation_id=state.correlation_id,
                           content=HANDOFF_NOTE["es"].format(reason=state.handoff_reason), created_at=at,
                           updated_at=at)
            plan.messages.insert(plan.messages.index(msg) + 1, note)
            plan.conversation.ai_state = "human_override"
        runs.append(_Run(plan, msg, state, list(ctx.sources)))
    return runs


def _run_trace(nora: Assistant, run: _Run) -> AiTrace:
    """The trace of a run of Nora's at loading, as the live engine writes it."""
    state, reply = run.state, run.reply
    before = [m for m in run.plan.messages if m.created_at < reply.created_at]
    turn = next((m for m in reversed(before) if m.author == "contact"), None)
    outcome = "handoff" if state.handoff_reason else "sent"
    return AiTrace(
        tenant_id=reply.tenant_id, correlation_id=state.correlation_id, conversation_id=reply.conversation_id,
        assistant_id=nora.id, turn_message_id=turn.id if turn else None,
        answered_message_id=turn.id if turn and outcome == "sent" else None,
        reply_message_id=reply.id if outcome == "sent" else None, provider=state.provider, model=state.model,
        input_messages=state.input_messages, sources=run.sources, steps=list(state.steps),
        output=state.output if outcome == "sent" else "", tokens_in=state.tokens_in, tokens_out=state.tokens_out,
        ttft_ms=state.elapsed_ms(state.first_token_at) if state.first_token_at is not None else None,
        latency_ms=state.elapsed_ms(), outcome=outcome, error=state.handoff_reason, created_at=reply.created_at,
    )


@dataclass
class _Plan:
    contact: Contact
    conversation: Conversation
    identity: ContactIdentity
    messages: list[Message]
    tag_links: list[ContactTag]
    script: content.Script


def _count(plan: _Plan, now: datetime) -> None:
    """The conversation's counters, moved by its messages as the live paths move them (once the
    messages have their ids): the team last read the inbox LAST_READ ago, a human who answers has
    read the chat, and the story may say otherwise."""
    conv, script = plan.conversation, plan.script
    conv.last_message_at, conv.last_message_preview, conv.unread_count = plan.messages[0].created_at, "", 0
    read_at: datetime | None = now - LAST_READ
    for msg in plan.messages:
        if read_at is not None and msg.created_at > read_at:
            conv.unread_count, read_at = 0, None
        move_counters(conv, msg.created_at, preview_of(msg.content, msg.attachments), msg.created_at,
                      inbound_message_id=msg.id if msg.direction == "inbound" else None)
        if msg.author == "human":
            conv.unread_count = 0
    conv.status = script.status  # resolved or snoozed later, when the story says so
    if script.unread is not None:
        conv.unread_count = script.unread


def _plan(loaded: _Loaded, tenant_id: uuid.UUID, script: content.Script, index: int, now: datetime) -> _Plan:
    channel = loaded.channels[script.channel]
    source = channel.source
    # Turn times, counted back from the last message.
    times: list[datetime] = [now - timedelta(minutes=script.ago)]
    for turn in reversed(script.turns[1:]):
        times.append(times[-1] - timedelta(seconds=turn.gap))
    times.reverse()

    key = script.contact_key or f"contact-{index}"
    contact = loaded.contacts.get(key)
    if contact is None:
        contact = Contact(id=uuid.uuid4(), tenant_id=tenant_id, display_name=script.name, phone=script.phone,
                          notes=script.notes, custom_attributes=dict(script.attributes), created_at=times[0],
                          updated_at=times[0])
        loaded.contacts[key] = contact
    contact.created_at = min(contact.created_at, times[0])
    inbound_times = [t for t, turn in zip(times, script.turns, strict=True) if turn.who == "c"]
    if inbound_times:
        seen = inbound_times[-1]
        if script.online:  # still on the chat a moment ago
            seen = max(seen, now - timedelta(seconds=40 + 50 * (index % 4)))
        contact.last_seen_at = max(contact.last_seen_at or seen, seen)

    conv = Conversation(
        id=uuid.uuid4(), tenant_id=tenant_id, contact_id=contact.id, channel_id=channel.id, channel_source=source,
        status=script.status, created_at=times[0], updated_at=times[-1],
    )
    messages: list[Message] = []
    for n, (turn, at) in enumerate(zip(script.turns, times, strict=True)):
        attachments = [dict(loaded.media[turn.media])] if turn.media else []
        seed = f"{tenant_id}:{index}:{n}"
        if turn.who == "c":
            messages.append(Message(
                tenant_id=tenant_id, conversation_id=conv.id, channel_id=channel.id, direction="inbound",
                author="contact", content=turn.text, attachments=attachments, status="received",
                provider_message_id=_provider_id(source, seed) or f"web-{uuid.uuid4().hex}",
                created_at=at, updated_at=at))
            continue
        later_reply = any(t.who == "c" for t in script.turns[n + 1:])
        status = turn.status or ("read" if later_reply else "sent" if now - at < timedelta(minutes=1)
                                 else "delivered")
        human = turn.who in ("owner", "agent")
        messages.append(Message(
            tenant_id=tenant_id, conversation_id=conv.id, channel_id=channel.id, direction="outbound",
            author="human" if human else "ai", author_user_id=loaded.users[turn.who].id if human else None,
            content=turn.text, attachments=attachments, status=status, error=turn.error,
            provider_message_id=None if status == "failed" else _provider_id(source, seed),
            correlation_id=None if human else str(uuid.uuid4()), created_at=at, updated_at=at))

    wrote = any(t.who in ("owner", "agent") for t in script.turns)
    conv.ai_state = "human_override" if (script.locked if script.locked is not None else wrote) else "ai_active"

    identity = ContactIdentity(tenant_id=tenant_id, contact_id=contact.id, channel_id=channel.id,
                               external_id=script.external_id, created_at=times[0])
    # The first tag listed is the most recently applied (the contact's "active" tag in the list).
    links = [ContactTag(tenant_id=tenant_id, contact_id=contact.id, tag_id=loaded.tags[name].id,
                        applied_at=min(now, times[0] + timedelta(minutes=5 * (len(script.tags) - i))))
             for i, name in enumerate(script.tags)]
    return _Plan(contact=contact, conversation=conv, identity=identity, messages=messages, tag_links=links,
                 script=script)


async def demo_web_channel(session: AsyncSession) -> uuid.UUID | None:
    """The demo tenant's website chat channel (its widget's sample page is printed by `tertulia demo`)."""
    tenant = await tenancy_repo.get_tenant_by_slug(session, DEMO_SLUG)
    if tenant is None:
        return None
    return await session.scalar(select(Channel.id).where(Channel.tenant_id == tenant.id, Channel.kind == "web"))
