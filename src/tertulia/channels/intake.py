"""The channels' webhooks: `/webhooks/{channel_id}`, where a provider tells Tertulia what happened
on a channel (WhatsApp Cloud API, YCloud; the channel's kind picks the provider's module).

A POST goes through four steps:

1. **Authenticate.** The channel the address names (crossing tenants: the address names the
   channel, the channel says whose it is; an unknown or disabled one is a 404), then the
   provider's signature over the raw body with the channel's secret (401 and nothing written).
2. **Log.** The body goes into `webhook_events` under the channel's tenant, in the same
   transaction, before anything is acted on, keyed for redeliveries (YCloud's event id; the
   body's SHA-256 for Meta, which redelivers the same bytes). A redelivery of a finished event
   is answered at once and changes nothing; one that never finished (the process stopped) is
   processed now.
3. **Act**, as the channel's tenant: the provider's module reads the body into items
   (channels/events.py). Messages and echoes go to the inbound writer (conversations/inbound.py),
   which stores them once each; reactions, edits, revokes (conversations/updates.py), statuses
   (conversations/statuses.py) and template reviews are applied one by one, each in a savepoint.
   An entry for another account than the channel's is set aside (`rejected`), never stored.
4. **Record** what came of it on the event: `processed`, `rejected`, or `failed` with the error
   of each part that failed. A failure does not fail the body's other parts, and the provider
   still gets its 200: retrying a bug for days helps nobody; `tertulia webhooks replay`
   processes logged events again (idempotently) once it is fixed.

Budget per request before the messages reach the writer: one transaction with the channel
look-up and the event's insert (plus, once a minute, the channel's `last_webhook_at`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import repository as repo
from tertulia.channels.events import (
    Account,
    Edit,
    Item,
    Reaction,
    Revoke,
    SetAside,
    Status,
    TemplateReview,
    Unreadable,
    describe_error,
)
from tertulia.channels.repository import WebhookChannel
from tertulia.channels.whatsapp_cloud import webhooks as whatsapp_cloud
from tertulia.channels.ycloud import webhooks as ycloud
from tertulia.conversations import repository as conversations_repo
from tertulia.conversations.inbound import InboundDelivery, WriterStopped
from tertulia.conversations.schemas import InboundMessage, InboundResult
from tertulia.conversations.statuses import record_status
from tertulia.conversations.updates import MessageNotStored, apply_edit, apply_reaction, apply_revoke
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, set_tenant, utcnow
from tertulia.kit.errors import NotAuthenticated, NotFound, TertuliaError

log = structlog.get_logger("tertulia.channels.intake")

WEBHOOK_LOOKUP = "a webhook's address names its channel, and the channel says whose it is"
BODY_LIMIT = 1024 * 1024  # Meta's and YCloud's bodies are a few kilobytes; anything this big is not theirs
TOUCH_EVERY = timedelta(minutes=1)  # `channels.last_webhook_at` is a sign of life, not a log
ERROR_LIMIT = 4000

EVENTS = Counter("tertulia_webhook_events", "Webhook bodies processed, by channel kind and outcome",
                 ["kind", "outcome"])


@dataclass(frozen=True, slots=True)
class WebhookProvider:
    """A provider's webhook module, as the intake uses it."""

    secret: str  # the credential that signs its webhooks
    check_signature: Callable[[str, bytes, Mapping[str, str], float], None]
    dedupe_key: Callable[[bytes, Any], str]
    read: Callable[[Any, Account], list[Item]]
    check_subscription: Callable[[Mapping[str, str], str | None], str] | None = None


PROVIDERS: dict[str, WebhookProvider] = {
    "whatsapp_cloud": WebhookProvider("app_secret", whatsapp_cloud.check_signature, whatsapp_cloud.dedupe_key,
                                      whatsapp_cloud.read, whatsapp_cloud.check_subscription),
    "ycloud": WebhookProvider("signing_secret", ycloud.check_signature, ycloud.dedupe_key, ycloud.read),
}

Submit = Callable[[InboundDelivery], Awaitable[InboundResult]]
_NOT_JSON = object()  # a body that does not parse (stored all the same, and failed)


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str  # processed | rejected | failed
    error: str | None


@dataclass
class ReplayCounts:
    events: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"processed": 0, "rejected": 0, "failed": 0})

    def __str__(self) -> str:
        said = ", ".join(f"{n} {outcome}" for outcome, n in self.outcomes.items())
        return f"replayed {self.events} webhook event{'s' if self.events != 1 else ''}: {said}"


class WebhookIntake:
    """The process's webhook intake (`app.state.webhook_intake`); `submit` stores a message (the
    inbound writer's)."""

    def __init__(self, db: Database, box: SecretBox, submit: Submit) -> None:
        self.db = db
        self.box = box
        self.submit = submit

    # --- Meta's verification -------------------------------------------------------------------
    async def check_subscription(self, channel_id: uuid.UUID, params: Mapping[str, str]) -> str:
        async with self.db.read_session(cross_tenant=WEBHOOK_LOOKUP) as session:
            channel = (await repo.webhook_channels(session, [channel_id])).get(channel_id)
        check = _provider_of(channel).check_subscription
        if check is None or channel is None:
            raise NotFound("no such webhook", code="channel_not_found")
        return check(params, channel.verify_token)

    # --- a delivery ----------------------------------------------------------------------------
    async def receive(self, channel_id: uuid.UUID, body: bytes, headers: Mapping[str, str]) -> None:
        """Authenticate, log and process one webhook body (steps 1-4 above)."""
        now = utcnow()
        async with self.db.session(cross_tenant=WEBHOOK_LOOKUP) as session:
            channel = (await repo.webhook_channels(session, [channel_id])).get(channel_id)
            provider = _provider_of(channel)
            assert channel is not None
            credentials = self.box.decrypt(channel.credentials_encrypted)
            secret = credentials.get(provider.secret)
            if not secret:
                raise NotAuthenticated("the channel has no secret to check webhooks with", code="invalid_signature")
            provider.check_signature(str(secret), body, headers, now.timestamp())
            payload = _parse(body)
            key = provider.dedupe_key(body, None if payload is _NOT_JSON else payload)
            await set_tenant(session, channel.tenant_id)
            event_id = await repo.insert_webhook_event(session, {
                "tenant_id": channel.tenant_id, "channel_id": channel.id, "dedupe_key": key, "received_at": now,
                "body": body.decode("utf-8", "replace").replace("\x00", "\ufffd"), "outcome": "pending",
                "attempts": 0})
            if event_id is None:  # a redelivery: act only if the first delivery never finished
                logged = await repo.logged_webhook_event(session, channel.tenant_id, channel.id, key)
                event_id = logged[0] if logged is not None and logged[1] == "pending" else None
            if channel.last_webhook_at is None or now - channel.last_webhook_at >= TOUCH_EVERY:
                await repo.touch_channel(session, channel.tenant_id, channel.id, now)
        if event_id is not None:
            await self.process(channel, _account(channel, credentials), event_id, payload)

    async def process(self, channel: WebhookChannel, account: Account, event_id: int, payload: Any) -> Outcome:
        """Act on a logged body and record the outcome. Raises only when this process cannot
        store messages now (it is stopping): the event stays pending for a redelivery or a replay."""
        items = _read(channel, account, payload)
        problems = [i.error for i in items if isinstance(i, Unreadable)]
        notes = [i.reason for i in items if isinstance(i, SetAside)]
        messages = [i for i in items if isinstance(i, InboundMessage)]
        if messages:
            results = await asyncio.gather(*(self.submit(InboundDelivery(channel.id, m)) for m in messages),
                                           return_exceptions=True)
            if any(isinstance(r, WriterStopped) for r in results):
                raise WriterStopped("this process is stopping; deliver the webhook again", code="shutting_down")
            problems += [f"message {m.external_message_id}: {_said(r)}"
                         for m, r in zip(messages, results, strict=True) if isinstance(r, BaseException)]
        async with self.db.session(channel.tenant_id) as session:
            for item in items:
                if isinstance(item, Reaction | Edit | Revoke | Status | TemplateReview):
                    try:
                        async with session.begin_nested():
                            note = await self._apply(session, channel, item)
                    except Exception as exc:  # a bug or a bad field: this part fails, the others go on
                        problems.append(_said(exc))
                    else:
                        notes += [note] if note else []
            outcome = Outcome("failed" if problems else "rejected" if any(
                isinstance(i, SetAside) and i.rejected for i in items) else "processed",
                "; ".join(problems + notes)[:ERROR_LIMIT] or None)
            await repo.record_webhook_outcome(session, channel.tenant_id, event_id, outcome.outcome, outcome.error,
                                              utcnow())
        EVENTS.labels(channel.kind, outcome.outcome).inc()
        if outcome.outcome != "processed":
            log.warning("webhook_" + outcome.outcome, action="webhook", channel_id=str(channel.id), event_id=event_id,
                        error=outcome.error)
        return outcome

    async def _apply(self, session: AsyncSession, channel: WebhookChannel, item: Item) -> str | None:
        """Apply one change; a note for the event's record when something was left for later."""
        tenant_id = channel.tenant_id
        if isinstance(item, Status):
            await _record_status(session, channel, item)
        elif isinstance(item, Reaction):
            await apply_reaction(session, tenant_id, channel.id, item.target, emoji=item.emoji, by=item.by, at=item.at)
        elif isinstance(item, Edit):
            await apply_edit(session, tenant_id, channel.id, item.target, content=item.content, at=item.at)
        elif isinstance(item, Revoke):
            await apply_revoke(session, tenant_id, channel.id, item.target, at=item.at)
        elif isinstance(item, TemplateReview):
            changed = await repo.update_template_status(
                session, tenant_id, channel.id, name=item.name, language=item.language,
                provider_template_id=item.provider_template_id, status=item.status, reason=item.reason, at=utcnow())
            if not changed:
                return f"template {item.name} ({item.language or 'any language'}) is not synced yet: " \
                       f"its status ({item.status}) comes with the next sync"
        return None

    # --- replay --------------------------------------------------------------------------------
    async def replay(self, *, channel_id: uuid.UUID | None = None, since: datetime | None = None,
                     unfinished_only: bool = False, page: int = 200) -> ReplayCounts:
        """Process logged events again, oldest first (`unfinished_only`: those that failed or
        never finished). Idempotent: what was applied before changes nothing."""
        counts, after = ReplayCounts(), 0
        while True:
            async with self.db.read_session(cross_tenant="an operator replays logged webhooks") as session:
                events = await repo.webhook_events_to_replay(session, after_id=after, limit=page, channel_id=channel_id,
                                                             since=since, unfinished_only=unfinished_only)
                channels = await repo.webhook_channels(session, [e.channel_id for e in events])
            if not events:
                return counts
            for event in events:
                after = event.id
                channel = channels[event.channel_id]
                if channel.kind not in PROVIDERS:
                    continue
                counts.events += 1
                account = _account(channel, self.box.decrypt(channel.credentials_encrypted))
                outcome = await self.process(channel, account, event.id, _parse(event.body.encode()))
                counts.outcomes[outcome.outcome] += 1


async def _record_status(session: AsyncSession, channel: WebhookChannel, item: Status) -> None:
    """A status of one of our messages. A provider that names a message in two ways (YCloud: the
    wamid and its own id) is matched on whichever the send stored; when neither is stored yet, the
    status waits under both."""
    report = item.report
    if not item.aliases:
        await record_status(session, channel.tenant_id, channel.id, report)
        return
    ids = [report.provider_message_id, *item.aliases]
    stored = await conversations_repo.find_provider_messages(session, channel.tenant_id, [(channel.id, i) for i in ids])
    known = [i for i in ids if (channel.id, i) in stored]
    for provider_id in known[:1] or ids:
        await record_status(session, channel.tenant_id, channel.id, replace(report, provider_message_id=provider_id))


def _account(channel: WebhookChannel, credentials: dict[str, Any]) -> Account:
    waba_id = credentials.get("waba_id")
    return Account(channel.account_id or "", str(waba_id) if waba_id else None)


def _read(channel: WebhookChannel, account: Account, payload: Any) -> list[Item]:
    if payload is _NOT_JSON:
        return [Unreadable("the body is not JSON")]
    try:
        return PROVIDERS[channel.kind].read(payload, account)
    except Exception as exc:  # a bug in a reader must not lose the body: it stays logged as failed
        return [Unreadable(f"the body could not be read: {describe_error(exc)}")]


def _provider_of(channel: WebhookChannel | None) -> WebhookProvider:
    """The webhook module of a channel that takes webhooks; the same 404 for an unknown channel, a
    disabled one, and one of a kind without webhooks (nothing more is revealed)."""
    provider = PROVIDERS.get(channel.kind) if channel is not None and channel.enabled else None
    if provider is None:
        raise NotFound("no such webhook", code="channel_not_found")
    return provider


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _said(exc: BaseException) -> str:
    if isinstance(exc, TertuliaError):
        return exc.message
    if isinstance(exc, MessageNotStored):
        return f"{exc}: a replay applies it once the message is stored"
    return f"{type(exc).__name__}: {exc}"[:500]


# --- the endpoints --------------------------------------------------------------------------------

router = APIRouter(tags=["webhooks"])


def _channel_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such webhook", code="channel_not_found") from None


@router.get("/webhooks/{channel_id}", response_class=PlainTextResponse)
async def verify_webhook(channel_id: str, request: Request) -> PlainTextResponse:
    """Meta's subscription check: `hub.mode=subscribe` with the channel's `hub.verify_token` is
    answered with the raw `hub.challenge`; anything else with 403."""
    intake: WebhookIntake = request.app.state.webhook_intake
    return PlainTextResponse(await intake.check_subscription(_channel_id(channel_id), request.query_params))


@router.post("/webhooks/{channel_id}")
async def receive_webhook(channel_id: str, request: Request) -> Response:
    """A provider's webhook for the channel (`webhook_url` of `GET /admin/channels/{id}`), signed
    with the channel's secret: 200 once logged and processed; 401 for a missing or bad signature
    (nothing is written); 404 for an unknown or disabled channel."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise TertuliaError("the webhook body is too large", code="payload_too_large", status_code=413)
    body = await request.body()
    if len(body) > BODY_LIMIT:
        raise TertuliaError("the webhook body is too large", code="payload_too_large", status_code=413)
    intake: WebhookIntake = request.app.state.webhook_intake
    await intake.receive(_channel_id(channel_id), body, request.headers)
    return Response(status_code=200)
