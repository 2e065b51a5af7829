"""SQL for channels."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants.models import Assistant
from tertulia.channels.models import SOURCE_OF_KIND, Channel, MessageTemplate, WebhookEvent
from tertulia.kit.db import Reader, dialect_name, stated_tenant, stating_tenant, tenant_select, tenant_update


async def get_channel(session: Reader, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel | None:
    stmt = tenant_select(Channel, tenant_id).where(Channel.id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_channels(session: Reader, tenant_id: uuid.UUID) -> list[Channel]:
    stmt = tenant_select(Channel, tenant_id).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class InboundChannel:
    """What the inbound path needs of the channel a message arrives on. `answered_by`: the id
    and debounce (seconds) of the channel's assistant while it is enabled, else None."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    platform_origin: str
    enabled: bool
    inbound_token_hash: str | None
    answered_by: tuple[uuid.UUID, float] | None

    @property
    def source(self) -> str:
        return SOURCE_OF_KIND[self.kind]


_c = Channel.__table__.c


# Built once per database, on first use (when every foreign key's type is known): on the inbound
# path (a lookup per batch) building the statement and its cache key on every call was a
# measured part of the CPU per message (bench/README.md).
# The channel's enabled assistant comes with it: the inbound path's after-store hook schedules
# the reply from it, a round trip less per batch than reading it there.
@functools.cache
def _channels_by_id_statement(dialect: str) -> Any:
    return (select(_c.id, _c.tenant_id, _c.kind, _c.platform_origin, _c.enabled, _c.inbound_token_hash,
                   Assistant.id.label("assistant_id"), Assistant.debounce_seconds,
                   *stating_tenant(dialect, _c.tenant_id))
            .select_from(Channel)
            .outerjoin(Assistant, and_(Assistant.tenant_id == _c.tenant_id, Assistant.id == _c.assistant_id,
                                       Assistant.enabled.is_(True)))
            .where(_c.id.in_(bindparam("ids", expanding=True))))


async def channels_by_id(session: AsyncSession, channel_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, InboundChannel]:
    """The channels deliveries are addressed to, whatever their tenant: the address (a webhook's
    URL, the inbound API's path) names the channel, and the channel says whose it is. Crosses
    tenants: run it in a session that says so. The same round trip then limits the transaction
    to the channels' tenant (`stating_tenant`): the inbound path's next step works as that tenant."""
    if not channel_ids:
        return {}
    dialect = dialect_name(session)
    rows = await session.execute(_channels_by_id_statement(dialect), {"ids": list(set(channel_ids))})
    channels = {row.id: InboundChannel(row.id, row.tenant_id, row.kind, row.platform_origin, row.enabled,
                                       row.inbound_token_hash, None if row.assistant_id is None else
                                       (row.assistant_id, row.debounce_seconds)) for row in rows}
    stated_tenant(session, (c.tenant_id for c in channels.values()))
    return channels


# --- webhooks (channels/intake.py) ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """What the webhook intake needs of the channel a webhook's address names."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    enabled: bool
    credentials_encrypted: str | None
    account_id: str | None
    verify_token: str | None
    last_webhook_at: datetime | None


async def webhook_channels(session: Reader, channel_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookChannel]:
    """The channels webhooks are addressed to, whatever their tenant (the address names the
    channel, the channel says whose it is). Crosses tenants: run it in a session that says so."""
    if not channel_ids:
        return {}
    stmt = select(_c.id, _c.tenant_id, _c.kind, _c.enabled, _c.credentials_encrypted, _c.account_id,
                  _c.verify_token, _c.last_webhook_at).where(_c.id.in_(list(set(channel_ids))))
    return {row.id: WebhookChannel(*row) for row in await session.execute(stmt)}


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT DO NOTHING on this session's database."""
    dialect = postgresql if dialect_name(session) == "postgresql" else sqlite
    return dialect.insert(table)


_e = WebhookEvent.__table__.c


async def insert_webhook_events(session: AsyncSession, rows: Sequence[dict[str, Any]]
                                 ) -> dict[tuple[uuid.UUID, str], int]:
    """Log webhook bodies of one tenant: {(channel id, dedupe key): new event id} for those logged;
    one the channel already has under its dedupe key (a redelivery) is missing from the answer."""
    if not rows:
        return {}
    stmt = (_insert(session, WebhookEvent.__table__)
            .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "dedupe_key"])
            .returning(_e.id, _e.channel_id, _e.dedupe_key))
    return {(r.channel_id, r.dedupe_key): r.id for r in await session.execute(stmt, list(rows))}


async def logged_webhook_events(session: Reader, tenant_id: uuid.UUID, keys: Sequence[tuple[uuid.UUID, str]]
                                ) -> dict[tuple[uuid.UUID, str], tuple[int, str]]:
    """{(channel id, dedupe key): (event id, outcome)} of events a tenant's channels logged."""
    if not keys:
        return {}
    stmt = (tenant_select(WebhookEvent, tenant_id, _e.id, _e.channel_id, _e.dedupe_key, _e.outcome)
            .where(tuple_(_e.channel_id, _e.dedupe_key).in_(list(keys))))
    return {(r.channel_id, r.dedupe_key): (r.id, r.outcome) for r in await session.execute(stmt)}


async def record_webhook_outcomes(session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[dict[str, Any]],
                                  at: datetime) -> None:
    """What came of events of one tenant: one dict per event (`b_id`, `b_outcome`, `b_error`). The
    usual one, processed with nothing to say, is one statement for all of them; the others one
    statement with a row each."""
    plain = [r["b_id"] for r in rows if r["b_outcome"] == "processed" and r["b_error"] is None]
    if plain:
        await session.execute(tenant_update(WebhookEvent, tenant_id).where(_e.id.in_(plain)).values(
            outcome="processed", error=None, processed_at=at, attempts=_e.attempts + 1))
    others = [r for r in rows if r["b_outcome"] != "processed" or r["b_error"] is not None]
    if others:
        stmt = (tenant_update(WebhookEvent, tenant_id).where(_e.id == bindparam("b_id"))
                .values(outcome=bindparam("b_outcome"), error=bindparam("b_error"), processed_at=at,
                        attempts=_e.attempts + 1)
                .execution_options(dml_strategy="core_only"))  # many rows, each by its own id
        await session.execute(stmt, others)


async def touch_channels(session: AsyncSession, tenant_id: uuid.UUID, channel_ids: Sequence[uuid.UUID],
                         at: datetime) -> None:
    if channel_ids:
        await session.execute(tenant_update(Channel, tenant_id).where(_c.id.in_(list(channel_ids)))
                              .values(last_webhook_at=at))


@dataclass(frozen=True, slots=True)
class Failures:
    """How many things failed for a channel since a moment, and why the newest did."""

    count: int
    last_error: str | None
    last_at: datetime | None


async def failed_webhooks(session: Reader, tenant_id: uuid.UUID, since: datetime,
                          channel_id: uuid.UUID | None = None) -> dict[uuid.UUID, Failures]:
    """{channel id: its webhook bodies that failed since `since`}, of every channel of the tenant or one."""
    newest = func.row_number().over(partition_by=_e.channel_id, order_by=_e.received_at.desc()).label("n")
    count = func.count().over(partition_by=_e.channel_id).label("failures")
    inner = (tenant_select(WebhookEvent, tenant_id, _e.channel_id, _e.error, _e.received_at, newest, count)
             .where(_e.outcome == "failed", _e.received_at >= since))
    if channel_id is not None:
        inner = inner.where(_e.channel_id == channel_id)
    rows = inner.subquery()
    stmt = select(rows.c.channel_id, rows.c.failures, rows.c.error, rows.c.received_at).where(rows.c.n == 1)
    return {r.channel_id: Failures(r.failures, r.error, r.received_at) for r in await session.execute(stmt)}


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    id: int
    tenant_id: uuid.UUID
    channel_id: uuid.UUID
    body: str


async def webhook_events_to_replay(session: Reader, *, after_id: int, limit: int, channel_id: uuid.UUID | None,
                                   since: datetime | None, unfinished_only: bool) -> list[LoggedEvent]:
    """A page of logged webhook events, oldest first, of every tenant (an operator's replay: run it
    in a session that says so). `unfinished_only`: those that failed or never finished."""
    stmt = select(_e.id, _e.tenant_id, _e.channel_id, _e.body).where(_e.id > after_id).order_by(_e.id).limit(limit)
    if channel_id is not None:
        stmt = stmt.where(_e.channel_id == channel_id)
    if since is not None:
        stmt = stmt.where(_e.received_at >= since)
    if unfinished_only:
        stmt = stmt.where(_e.outcome.in_(("failed", "pending")))
    return [LoggedEvent(*row) for row in await session.execute(stmt)]


async def update_template_status(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID, *,
                                 name: str, language: str | None, provider_template_id: str | None, status: str,
                                 reason: str | None, at: datetime) -> int:
    """A template's new review status (by the provider's id, or by name and language); how many
    templates of the channel it changed."""
    t = MessageTemplate.__table__.c
    by_name = t.name == name if language is None else (t.name == name) & (t.language == language)
    which = or_(t.provider_template_id == provider_template_id, by_name) if provider_template_id else by_name
    result = await session.execute(tenant_update(MessageTemplate, tenant_id).where(t.channel_id == channel_id, which)
                                   .values(status=status, rejected_reason=reason, updated_at=at))
    return int(getattr(result, "rowcount", 0) or 0)
