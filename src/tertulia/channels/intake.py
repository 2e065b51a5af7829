"""The channels' webhooks: `/webhooks/{channel_id}`, where a provider tells Tertulia what happened
on a channel (WhatsApp Cloud API, YCloud; the channel's kind picks the provider's module).

A POST goes through four steps:

1. **Authenticate.** The channel the address names (crossing tenants: the address names the
   channel, the channel says whose it is; an unknown or disabled one is a 404), then the
   provider's signature over the raw body with the channel's secret (401 and nothing written).
2. **Log.** The body goes into `webhook_events` under the channel's tenant before anything is
   acted on, keyed for redeliveries (YCloud's event id; the body's SHA-256 for Meta, which
   redelivers the same bytes). A redelivery of a finished event is answered at once and changes
   nothing; one that never finished (the process stopped) is processed now.
3. **Act**, as the channel's tenant: the provider's module reads the body into items
   (channels/events.py). Messages and echoes go to the inbound writer (conversations/inbound.py),
   which stores them once each; reactions, edits, revokes (conversations/updates.py), statuses
   (conversations/statuses.py) and template reviews are applied one by one, each in a savepoint.
   An entry for another account than the channel's is set aside (`rejected`), never stored.
4. **Record** what came of it on the event: `processed`, `rejected`, or `failed` with the error
   of each part that failed. A failure does not fail the body's other parts, and the provider
   still gets its 200: retrying a bug for days helps nobody; `tertulia webhooks replay`
   processes logged events again (idempotently) once it is fixed.

Steps 1 and 2 (and 4) are the event log's (`EventLog`): one transaction for every webhook that
arrived while the last was written, with one channel look-up and one insert per tenant (plus, once
a minute, a channel's `last_webhook_at`), the outcomes of the bodies processed meanwhile riding
along. That is each request's whole cost before its messages reach the inbound writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx2
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
    ReadUpTo,
    Revoke,
    SetAside,
    Status,
    TemplateReview,
    Unreadable,
    describe_error,
)
from tertulia.channels.providers import PROVIDERS, Webhooks
from tertulia.channels.repository import WebhookChannel
from tertulia.channels.sending import ProviderFailure
from tertulia.config import Settings
from tertulia.contacts import repository as contacts_repo
from tertulia.conversations import repository as conversations_repo
from tertulia.conversations.inbound import InboundDelivery, WriterStopped
from tertulia.conversations.schemas import InboundMessage, InboundResult
from tertulia.conversations.statuses import record_status, record_watermark
from tertulia.conversations.updates import MessageNotStored, apply_edit, apply_reaction, apply_revoke
from tertulia.kit.crypto import SecretBox
from tertulia.kit.db import Database, set_tenant, utcnow
from tertulia.kit.egress import trusted_client
from tertulia.kit.errors import NotAuthenticated, NotFound, TertuliaError

log = structlog.get_logger("tertulia.channels.intake")

WEBHOOK_LOOKUP = "a webhook's address names its channel, and the channel says whose it is"
BODY_LIMIT = 1024 * 1024  # Meta's and YCloud's bodies are a few kilobytes; anything this big is not theirs
TOUCH_EVERY = timedelta(minutes=1)  # `channels.last_webhook_at` is a sign of life, not a log
ERROR_LIMIT = 4000
PROFILE_LOOKUPS = 5  # senders' profiles looked up per body, at most

EVENTS = Counter("tertulia_webhook_events", "Webhook bodies processed, by channel kind and outcome",
                 ["kind", "outcome"])


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


@dataclass(frozen=True, slots=True)
class Logged:
    """A webhook body, authenticated and logged. `event_id` None: a redelivery of an event already
    finished (nothing to do)."""

    channel: WebhookChannel
    account: Account
    payload: Any
    event_id: int | None


@dataclass(slots=True)
class _Delivery:
    channel_id: uuid.UUID
    body: bytes
    headers: Mapping[str, str]
    received_at: datetime
    future: asyncio.Future[Logged]


@dataclass(frozen=True, slots=True)
class _Record:
    tenant_id: uuid.UUID
    event_id: int
    outcome: Outcome


class EventLog:
    """The writer of `webhook_events`: logs bodies (the request waits: it acts only on a logged
    body) and records what came of them (nobody waits), everything that arrived while it was busy
    in one transaction with one statement per step, as the inbound writer does. Per request, one
    transaction each would cost two commits (each a flush to disk) besides the messages' own: at a
    few hundred webhooks a second the commits alone filled the disk's time."""

    def __init__(self, db: Database, box: SecretBox, *, writers: int = 1, max_batch: int = 200,
                 queue_size: int = 10_000) -> None:
        self.db = db
        self.box = box
        self.writers = writers
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Delivery | _Record] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    async def log(self, channel_id: uuid.UUID, body: bytes, headers: Mapping[str, str]) -> Logged:
        """Authenticate a body and log it; raises the request's answer when it is refused."""
        if not self._tasks:
            raise WriterStopped("this process is not taking webhooks now; deliver it again", code="shutting_down")
        delivery = _Delivery(channel_id, body, headers, utcnow(), asyncio.get_running_loop().create_future())
        await self._queue.put(delivery)
        return await delivery.future

    async def record(self, tenant_id: uuid.UUID, event_id: int, outcome: Outcome) -> None:
        """Record what came of an event (written with the next batch). Lost if the process stops
        first: the event stays `pending`, and a redelivery or a replay processes it again."""
        await self._queue.put(_Record(tenant_id, event_id, outcome))

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"webhook-event-log-{n}") for n in range(self.writers)]

    async def stop(self, within: float = 10.0) -> None:
        """Write what is queued (the outcomes of work already done), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), within)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _Delivery) and not item.future.done():
                item.future.set_exception(WriterStopped("this process stopped; deliver it again",
                                                        code="shutting_down"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Delivery | _Record]) -> None:
        try:
            answers = await self._write_batch(batch)
        except Exception as exc:
            if len(batch) > 1:  # one at a time: only the one at fault fails
                log.warning("webhook_log_batch_failed", action="webhook", size=len(batch),
                            error=f"{type(exc).__name__}: {exc}")
                for item in batch:
                    await self._write([item])
                return
            if isinstance(batch[0], _Delivery) and not batch[0].future.done():
                batch[0].future.set_exception(exc)
            else:
                log.error("webhook_outcome_lost", action="webhook", error=f"{type(exc).__name__}: {exc}")
            return
        for delivery, answer in answers:  # committed
            if delivery.future.done():
                continue
            if isinstance(answer, Logged):
                delivery.future.set_result(answer)
            else:
                delivery.future.set_exception(answer)

    async def _write_batch(self, batch: list[_Delivery | _Record]) -> list[tuple[_Delivery, Logged | Exception]]:
        deliveries = [i for i in batch if isinstance(i, _Delivery)]
        records = [i for i in batch if isinstance(i, _Record)]
        answers: list[tuple[_Delivery, Logged | Exception]] = []
        async with self.db.session(cross_tenant=WEBHOOK_LOOKUP) as session:
            channels = await repo.webhook_channels(session, [d.channel_id for d in deliveries])
            credentials: dict[uuid.UUID, dict[str, Any]] = {}  # decrypted once per channel and batch
            checked: dict[uuid.UUID, list[tuple[_Delivery, Logged, str]]] = {}
            for delivery in deliveries:
                try:
                    logged, key = self._check(channels.get(delivery.channel_id), delivery, credentials)
                except TertuliaError as exc:
                    answers.append((delivery, exc))
                    continue
                checked.setdefault(logged.channel.tenant_id, []).append((delivery, logged, key))
            for tenant_id in sorted(set(checked) | {r.tenant_id for r in records}, key=str):
                await set_tenant(session, tenant_id)
                answers += await self._log(session, tenant_id, checked.get(tenant_id, []))
                await repo.record_webhook_outcomes(session, tenant_id, [
                    {"b_id": r.event_id, "b_outcome": r.outcome.outcome, "b_error": r.outcome.error}
                    for r in records if r.tenant_id == tenant_id], utcnow())
        return answers

    def _check(self, channel: WebhookChannel | None, delivery: _Delivery,
               decrypted: dict[uuid.UUID, dict[str, Any]]) -> tuple[Logged, str]:
        """Step 1: the channel takes webhooks, and the body is signed with its secret."""
        provider = _provider_of(channel)
        assert channel is not None
        if channel.id not in decrypted:
            decrypted[channel.id] = self.box.decrypt(channel.credentials_encrypted)
        credentials = decrypted[channel.id]
        secret = credentials.get(provider.secret)
        if not secret:
            raise NotAuthenticated("the channel has no secret to check webhooks with", code="invalid_signature")
        provider.check_signature(str(secret), delivery.body, delivery.headers, delivery.received_at.timestamp())
        payload = _parse(delivery.body)
        key = provider.dedupe_key(delivery.body, None if payload is _NOT_JSON else payload)
        return Logged(channel, _account(channel, credentials), payload, None), key

    async def _log(self, session: AsyncSession, tenant_id: uuid.UUID,
                   checked: list[tuple[_Delivery, Logged, str]]) -> list[tuple[_Delivery, Logged | Exception]]:
        """Step 2, for one tenant's bodies: logged once each (a body twice in the batch, or logged
        before, is a redelivery, processed again only if its first delivery never finished)."""
        if not checked:
            return []
        rows = {(logged.channel.id, key): {
            "tenant_id": tenant_id, "channel_id": logged.channel.id, "dedupe_key": key,
            "received_at": delivery.received_at, "outcome": "pending", "attempts": 0,
            "body": delivery.body.decode("utf-8", "replace").replace("\x00", "\ufffd")}
            for delivery, logged, key in reversed(checked)}  # the first of copies wins
        inserted = await repo.insert_webhook_events(session, list(rows.values()))
        earlier = await repo.logged_webhook_events(session, tenant_id, [k for k in rows if k not in inserted])
        unfinished = {k: event_id for k, (event_id, outcome) in earlier.items() if outcome == "pending"}
        answers: list[tuple[_Delivery, Logged | Exception]] = []
        for delivery, logged, key in checked:
            event_id = inserted.pop((logged.channel.id, key), None) or unfinished.pop((logged.channel.id, key), None)
            answers.append((delivery, replace(logged, event_id=event_id)))
        now = utcnow()
        await repo.touch_channels(session, tenant_id, list({
            logged.channel.id for _, logged, _ in checked
            if logged.channel.last_webhook_at is None or now - logged.channel.last_webhook_at >= TOUCH_EVERY}), now)
        return answers


class WebhookIntake:
    """The process's webhook intake (`app.state.webhook_intake`); `submit` stores a message (the
    inbound writer's). Runs its event log's writer between `start()` and `stop()`."""

    def __init__(self, db: Database, box: SecretBox, submit: Submit, *, writers: int = 1,
                 settings: Settings | None = None) -> None:
        self.db = db
        self.box = box
        self.submit = submit
        self.log = EventLog(db, box, writers=writers)
        self.settings = settings  # the providers' URLs, for the senders' profiles (none: not looked up)
        self._client: httpx2.AsyncClient | None = None

    async def start(self) -> None:
        await self.log.start()

    async def stop(self) -> None:
        await self.log.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _with_names(self, channel: WebhookChannel, messages: list[InboundMessage]) -> list[InboundMessage]:
        """Messenger and Instagram give no name with a message: a sender whose contact has none yet
        is looked up in the provider's profile API (a few at most per body; a refusal leaves the
        name unset, to be tried with their next message)."""
        lookup = PROVIDERS[channel.kind].sender_name
        model = PROVIDERS[channel.kind].credentials
        unnamed = sorted({m.contact.external_id for m in messages if not m.echo and not m.contact.name})
        if lookup is None or model is None or self.settings is None or not unnamed:
            return messages
        async with self.db.read_session(channel.tenant_id) as session:
            known = await contacts_repo.named_identities(session, channel.tenant_id, channel.id, unnamed)
        wanted = [i for i in unnamed if i not in known][:PROFILE_LOOKUPS]
        if not wanted:
            return messages
        if self._client is None:
            self._client = trusted_client(timeout=5, total_timeout=8)  # the operator's TERTULIA_META_GRAPH_URL
        try:
            credentials = model.model_validate(self.box.decrypt(channel.credentials_encrypted))
        except ValueError:
            return messages
        names: dict[str, str] = {}
        for external_id in wanted:
            try:
                name = await lookup(self._client, self.settings, credentials, external_id)
            except ProviderFailure as failure:
                log.info("profile_lookup_failed", channel_id=str(channel.id), code=failure.code)
                continue
            if name:
                names[external_id] = name[:200]
        return [m.model_copy(update={"contact": m.contact.model_copy(update={"name": names[m.contact.external_id]})})
                if m.contact.external_id in names and not m.echo else m for m in messages]

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
        logged = await self.log.log(channel_id, body, headers)
        if logged.event_id is not None:
            await self.process(logged.channel, logged.account, logged.event_id, logged.payload)

    async def process(self, channel: WebhookChannel, account: Account, event_id: int, payload: Any) -> Outcome:
        """Act on a logged body and record the outcome. Raises only when this process cannot
        store messages now (it is stopping): the event stays pending for a redelivery or a replay."""
        items = _read(channel, account, payload)
        problems = [i.error for i in items if isinstance(i, Unreadable)]
        notes = [i.reason for i in items if isinstance(i, SetAside)]
        messages = [i for i in items if isinstance(i, InboundMessage)]
        if messages:
            messages = await self._with_names(channel, messages)
            results = await asyncio.gather(*(self.submit(InboundDelivery(channel.id, m)) for m in messages),
                                           return_exceptions=True)
            if any(isinstance(r, WriterStopped) for r in results):
                raise WriterStopped("this process is stopping; deliver the webhook again", code="shutting_down")
            problems += [f"message {m.external_message_id}: {_said(r)}"
                         for m, r in zip(messages, results, strict=True) if isinstance(r, BaseException)]
        changes = [i for i in items if isinstance(i, Reaction | Edit | Revoke | Status | ReadUpTo | TemplateReview)]
        if changes:
            async with self.db.session(channel.tenant_id) as session:
                for item in changes:
                    try:
                        async with session.begin_nested():
                            note = await self._apply(session, channel, item)
                    except Exception as exc:  # a bug or a bad field: this part fails, the others go on
                        problems.append(_said(exc))
                    else:
                        notes += [note] if note else []
        rejected = any(isinstance(i, SetAside) and i.rejected for i in items)
        outcome = Outcome("failed" if problems else "rejected" if rejected else "processed",
                          "; ".join(problems + notes)[:ERROR_LIMIT] or None)
        await self.log.record(channel.tenant_id, event_id, outcome)
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
        elif isinstance(item, ReadUpTo):
            await record_watermark(session, tenant_id, channel.id, item.customer, item.status, item.at, mid=item.mid)
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
                if PROVIDERS[channel.kind].webhooks is None:
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


@asynccontextmanager
async def running_intake(intake: WebhookIntake) -> AsyncIterator[WebhookIntake]:
    await intake.start()
    try:
        yield intake
    finally:
        await intake.stop()


def _account(channel: WebhookChannel, credentials: dict[str, Any]) -> Account:
    waba_id, app_id = credentials.get("waba_id"), credentials.get("app_id")
    return Account(channel.account_id or "", str(waba_id) if waba_id else None, str(app_id) if app_id else None)


def _read(channel: WebhookChannel, account: Account, payload: Any) -> list[Item]:
    if payload is _NOT_JSON:
        return [Unreadable("the body is not JSON")]
    try:
        return _provider_of(channel).read(payload, account)
    except Exception as exc:  # a bug in a reader must not lose the body: it stays logged as failed
        return [Unreadable(f"the body could not be read: {describe_error(exc)}")]


def _provider_of(channel: WebhookChannel | None) -> Webhooks:
    """The webhooks of a channel that takes them; the same 404 for an unknown channel, a disabled
    one, and one of a kind without webhooks (nothing more is revealed)."""
    provider = PROVIDERS[channel.kind].webhooks if channel is not None and channel.enabled else None
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


@router.get("/webhooks/{channel_id}", response_class=PlainTextResponse, openapi_extra={"security": []})
async def verify_webhook(channel_id: str, request: Request) -> PlainTextResponse:
    """Meta's subscription check: `hub.mode=subscribe` with the channel's `hub.verify_token` is
    answered with the raw `hub.challenge`; anything else with 403."""
    intake: WebhookIntake = request.app.state.webhook_intake
    return PlainTextResponse(await intake.check_subscription(_channel_id(channel_id), request.query_params))


@router.post("/webhooks/{channel_id}", openapi_extra={"security": [{"webhookSignature": []}]})
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
