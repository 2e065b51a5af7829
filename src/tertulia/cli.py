"""The `tertulia` command. Every command exits non-zero with a one-line error on bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tertulia.config import Settings, get_settings
from tertulia.kit.errors import TertuliaError

app = typer.Typer(help="Tertulia: the omnichannel inbox where an AI answers and humans take over.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
channel_app = typer.Typer(help="Channels.", no_args_is_help=True)
webhooks_app = typer.Typer(help="The providers' webhooks, as logged.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(channel_app, name="channel")
app.add_typer(webhooks_app, name="webhooks")

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def run(factory: Callable[[Any], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run one unit of work against the database and turn domain errors into a one-line exit."""
    from tertulia.kit.db import Database

    settings = settings or get_settings()

    async def main() -> T:
        db = Database(settings.resolved_database_url, pool_size=2)
        try:
            async with db.session(cross_tenant="an operator's command") as session:
                return await factory(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except TertuliaError as exc:
        fail(exc.message)
        raise  # unreachable


def do_migrate(settings: Settings | None = None) -> str:
    """Create or upgrade the schema; says what it did (created, upgraded, or nothing to do)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, inspect, make_url, pool

    from tertulia.kit.db import sync_url

    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.resolved_database_url
    engine = create_engine(sync_url(settings.resolved_database_url), poolclass=pool.NullPool)

    def revision() -> tuple[str | None, int]:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return MigrationContext.configure(conn).get_current_revision(), len(tables)

    try:
        before, _ = revision()
        command.upgrade(cfg, "head")
        after, tables = revision()
    finally:
        engine.dispose()
    where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    if before is None:
        return f"created the database schema in {where}: {tables} tables, revision {after}"
    if before == after:
        return f"database is already up to date (revision {after}): nothing to do"
    return f"database upgraded from revision {before} to {after}"


@app.command()
def migrate() -> None:
    """Create the database schema, or bring it up to date."""
    try:
        done = do_migrate()
    except Exception as exc:
        fail(f"migration failed: {exc}")
    typer.echo(done)


@app.command()
def serve(host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port to listen on")] = 8000) -> None:
    """Serve the API, the sockets and the web app."""
    import uvicorn

    from tertulia.app import create_app
    from tertulia.kit.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    # No permessage-deflate on WebSockets: its per-connection zlib state costs ~40 KB per socket
    # (measured in bench/realtime.py), more than everything else an idle socket holds, and our
    # frames are small JSON.
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
                proxy_headers=False, ws_ping_interval=20, ws_ping_timeout=20, ws_per_message_deflate=False)


@app.command()
def worker(concurrency: Annotated[int, typer.Option(help="AI turns run at once", min=1, max=256)] = 8,
           poll: Annotated[float, typer.Option(help="seconds between looks for due work", min=0.05)] = 1.0,
           sends: Annotated[int, typer.Option(help="outbound messages sent at once", min=1, max=1024)] = 32) -> None:
    """Run background jobs (the AI's replies, the delivery of outbound messages, copying customers'
    files, takeovers going back to the AI) in this process; start as many as you like."""
    from tertulia.assistants.tasks import AiWorker
    from tertulia.conversations.media_fetch import MediaWorker
    from tertulia.conversations.takeover import running_takeover_returns
    from tertulia.delivery.tasks import DeliveryConfig, DeliveryWorker
    from tertulia.kit.background import running
    from tertulia.kit.bus import create_bus
    from tertulia.kit.crypto import SecretBox
    from tertulia.kit.db import Database
    from tertulia.kit.logging import configure_logging
    from tertulia.kit.ratelimit import RateLimiter
    from tertulia.kit.storage import create_store
    from tertulia.widget.socket import reply_stream

    settings = get_settings()
    configure_logging(settings.log_level)

    async def main() -> None:
        # Replies, handoffs and delivery statuses emit tenant events; with Redis configured they
        # reach every server. The channels' send rates are counted there too.
        bus = create_bus(settings)
        db = Database(settings.resolved_database_url, pool_size=max(4, concurrency + sends // 4), bus=bus)
        box = SecretBox(settings.resolved_secret_key())
        await bus.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Stop taking work; turns under way are cancelled (their leases run out and another
            # worker finishes them), sends under way get a moment to finish.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            store = create_store(settings)
            delivery = DeliveryWorker(db, box, store, RateLimiter(settings.redis_url,
                                      settings.redis_prefix), settings, DeliveryConfig(concurrency=sends))
            async with (running(AiWorker(db, box, concurrency=concurrency, poll_seconds=poll,
                                             stream=reply_stream(bus)), "ai-worker"),
                        running(delivery, "delivery-worker"),
                        running(MediaWorker(db, box, store, settings, poll_seconds=poll), "media-worker"),
                        running_takeover_returns(db)):
                await stop.wait()
        finally:
            await bus.stop()
            await db.dispose()

    asyncio.run(main())


@app.command()
def demo() -> None:
    """Load (or refresh) the demo tenant `demo`, with its owner, contacts and conversations."""
    from tertulia.demo.tenant import DEMO_EMAIL, DEMO_PASSWORD, demo_web_channel, load_demo
    from tertulia.kit.storage import create_store

    settings = get_settings()
    store = create_store(settings)
    created = run(lambda session: load_demo(session, settings, store))
    typer.echo("demo tenant loaded" if created else "demo tenant already present")
    typer.echo(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    web = run(demo_web_channel)
    if web is not None:
        typer.echo(f"website chat demo: {settings.base_url.rstrip('/')}/widget/demo/{web}")


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8090,
    demo: Annotated[bool, typer.Option("--demo", help="connect the demo tenant's WhatsApp numbers "
                                                       "(Cloud API and YCloud) to this sandbox")] = False,
    tertulia_url: Annotated[str | None, typer.Option(help="where Tertulia's webhooks are (default: "
                                                          "TERTULIA_BASE_URL)")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="register a new WhatsApp Cloud channel posting "
                                                         "here, and print its credentials")] = None,
    auto_status: Annotated[bool, typer.Option(help="report sent and delivered by itself after each send")] = True,
    read_after: Annotated[float | None, typer.Option(help="seconds after delivered until the customer reads "
                                                          "(default: when they press read on the phone)")] = None,
) -> None:
    """Run the provider sandbox: Meta's Graph API and YCloud's API on a local port, and a customer
    phone page at /phone to write as a customer. For trying Tertulia without a provider account
    (tertulia.sandbox; docs/channels.md); nothing uses it unless asked."""
    from tertulia.sandbox.server import main

    settings = get_settings()
    channels: list[dict[str, Any]] = []
    if demo:
        from tertulia.demo.sandbox import connect_demo_to_sandbox
        from tertulia.kit.crypto import SecretBox

        box = SecretBox(settings.resolved_secret_key())
        channels = run(lambda session: connect_demo_to_sandbox(session, box, tertulia_url or settings.base_url),
                       settings)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"the demo's WhatsApp numbers are connected: serve Tertulia with\n"
                   f"  TERTULIA_META_GRAPH_URL=http://{shown}:{port}/v23.0 TERTULIA_YCLOUD_API_URL=http://{shown}:{port}/v2\n"
                   f"and write as a customer on http://{shown}:{port}/phone")
    main(host, port, webhook_url=webhook_url, auto_status=auto_status, auto_read_after=read_after, channels=channels)


@tenant_app.command("create")
def tenant_create(slug: str, name: Annotated[str, typer.Option("--name", help="display name")]) -> None:
    from tertulia.tenancy.service import create_tenant

    async def work(session: Any) -> Any:
        return await create_tenant(session, slug, name)

    tenant = run(work)
    typer.echo(json.dumps({"tenant_id": str(tenant.id), "slug": tenant.slug}))


@user_app.command("create")
def user_create(
    tenant: Annotated[str, typer.Option("--tenant", help="tenant slug")],
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[str, typer.Option("--password")],
    role: Annotated[str, typer.Option("--role", help="owner|admin|agent")] = "agent",
    name: Annotated[str | None, typer.Option("--name", help="display name")] = None,
) -> None:
    """Create a user (or add an existing one) as a member of a tenant."""
    from tertulia.tenancy import repository as repo
    from tertulia.tenancy.service import add_member, check_role, create_user, require_tenant

    async def work(session: Any) -> Any:
        check_role(role)
        t = await require_tenant(session, tenant)
        user = await repo.get_user_by_email(session, email)
        if user is None:
            user = await create_user(session, email, password, name)
        await add_member(session, t, user, role)
        return user

    user = run(work)
    typer.echo(json.dumps({"user_id": str(user.id), "email": user.email, "tenant": tenant, "role": role}))


@token_app.command("create")
def token_create(tenant: Annotated[str, typer.Option("--tenant", help="tenant slug")],
                 name: Annotated[str, typer.Option("--name")]) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    from tertulia.tenancy.service import create_api_token, require_tenant

    async def work(session: Any) -> Any:
        return await create_api_token(session, await require_tenant(session, tenant), name)

    row, token = run(work)
    typer.echo(f"token '{row.name}' created for {tenant}; it is shown only now:")
    typer.echo(token)


@channel_app.command("create")
def channel_create(
    tenant: Annotated[str, typer.Option("--tenant", help="tenant slug")],
    kind: Annotated[str, typer.Option("--kind", help="whatsapp_cloud|ycloud|instagram|facebook|web|api")],
    name: Annotated[str, typer.Option("--name")],
    platform_origin: Annotated[str, typer.Option("--platform-origin")] = "",
    assistant: Annotated[str | None, typer.Option("--assistant", help="name of the assistant that answers there "
                                                                        "(none: only humans answer)")] = None,
) -> None:
    """Create a channel; prints {"channel_id", "inbound_token"} as JSON on the last line."""
    from tertulia.assistants.repository import list_assistants
    from tertulia.channels.service import create_channel
    from tertulia.kit.crypto import SecretBox
    from tertulia.kit.errors import NotFound
    from tertulia.tenancy.service import require_tenant

    settings = get_settings()

    async def work(session: Any) -> Any:
        t = await require_tenant(session, tenant)
        answering = None
        if assistant is not None:
            answering = next((a for a in await list_assistants(session, t.id) if a.name == assistant), None)
            if answering is None:
                raise NotFound(f"no assistant named {assistant!r} in {tenant}", code="assistant_not_found")
        box = SecretBox(settings.resolved_secret_key())
        channel, token = await create_channel(session, box, t.id, kind, name, platform_origin)
        channel.assistant_id = answering.id if answering else None
        return channel, token

    channel, token = run(work, settings)
    typer.echo(json.dumps({"channel_id": str(channel.id), "inbound_token": token}))


@webhooks_app.command("replay")
def webhooks_replay(
    channel: Annotated[str | None, typer.Option("--channel", help="only this channel's (its id)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="only those received since (ISO 8601; UTC if no "
                                                              "offset)")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="only those that failed or never finished")] = False,
) -> None:
    """Process logged webhook events again, oldest first (after a fix, or to apply a change whose
    message arrived later). Idempotent: what was applied before changes nothing. Replayed messages
    are stored; the assistant is not asked to answer them. Prints what came of them."""
    import uuid
    from datetime import UTC, datetime

    from tertulia.channels.intake import WebhookIntake, running_intake
    from tertulia.conversations.inbound import InboundWriter, running_writer
    from tertulia.kit.crypto import SecretBox
    from tertulia.kit.db import Database

    try:
        channel_id = uuid.UUID(channel) if channel else None
    except ValueError:
        fail(f"--channel {channel!r} is not a channel id")
    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since {since!r} is not an ISO 8601 time (2026-05-01 or 2026-05-01T10:00:00+02:00)")
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    settings = get_settings()

    async def main() -> str:
        db = Database(settings.resolved_database_url, pool_size=2)
        try:
            async with (running_writer(InboundWriter(db)) as writer,
                        running_intake(WebhookIntake(db, SecretBox(settings.resolved_secret_key()),
                                                     writer.submit)) as intake):
                counts = await intake.replay(channel_id=channel_id, since=after, unfinished_only=failed)
            return str(counts)
        finally:
            await db.dispose()

    typer.echo(asyncio.run(main()))


def main() -> None:  # pragma: no cover
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
