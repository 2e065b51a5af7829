"""Inbox list speed: `GET /admin/chats/summary` on a large tenant, next to its raw SQL.

Loads one tenant with 100,000 conversations and 1,000,000 messages beside 10 smaller tenants
(contacts, channels of every source, tags of very different frequency, a share under human
control, statuses, the denormalised counters the app keeps), then times the endpoint through a
real uvicorn server on loopback, authenticated with an API token, for the first page, every
filter and a deep keyset page, each next to the same SQL (the statements
`conversations.repository.list_inbox` builds) executed directly. Prints p50/p95/mean in milliseconds.

    .venv/bin/python bench/inbox_list.py                      # fresh PostgreSQL database, dropped after
    .venv/bin/python bench/inbox_list.py --keep               # keep (and next time reuse) bench database
    .venv/bin/python bench/inbox_list.py --database-url sqlite:///var/bench.db
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
import psycopg
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PG_ADMIN_URL,
    Stats,
    cpu_ticks,
    pg_create_database,
    pg_database_exists,
    pg_drop_database,
    running_server,
    stolen_pct,
)

from tertulia.cli import do_migrate
from tertulia.config import Settings
from tertulia.conversations.repository import InboxFilters, inbox_statement
from tertulia.kit.crypto import hash_token, new_token
from tertulia.kit.db import PG_CONNECT_ARGS, TENANT_ROLE, sync_url
from tertulia.kit.pagination import decode_cursor
from tertulia.models import ApiToken, Channel, Conversation, Message, Tag, Tenant, TenantSequence

MAIN_SLUG = "bench-main"
KEEP_DB_NAME = "tertulia_bench_inbox"
SECRET = "bench-inbox-secret"

# (kind, name, platform_origin, share of the tenant's conversations)
CHANNELS = [
    ("whatsapp_cloud", "WhatsApp ventas", "+34 600 100 200", 0.30),
    ("whatsapp_cloud", "WhatsApp soporte", "+34 600 100 300", 0.15),
    ("ycloud", "WhatsApp (YCloud)", "+34 600 100 400", 0.10),
    ("instagram", "Instagram", "@tienda.luna", 0.18),
    ("facebook", "Facebook", "Tienda Luna", 0.12),
    ("web", "Chat web", "https://tiendaluna.example", 0.10),
    ("api", "API", "crm-interno", 0.05),
]
SOURCE = {"whatsapp_cloud": "whatsapp", "ycloud": "whatsapp", "instagram": "instagram", "facebook": "facebook",
          "web": "web", "api": "api"}

# (name, colour, share of contacts carrying it): one very common tag down to a rare one.
TAGS = [
    ("cliente", "#16a34a", 0.30),
    ("newsletter", "#0ea5e9", 0.20),
    ("interesado", "#f59e0b", 0.12),
    ("pendiente-pago", "#ef4444", 0.06),
    ("reclamación", "#b91c1c", 0.04),
    ("VIP", "#a855f7", 0.02),
    ("mayorista", "#64748b", 0.005),
    ("fraude", "#111827", 0.0005),
]
COMMON_TAG, RARE_TAG = "cliente", "fraude"

STATUSES = [("open", 0.55), ("resolved", 0.40), ("snoozed", 0.05)]
HUMAN_SHARE = 0.12

FIRST_NAMES = (
    "María Carmen Josefa Isabel Ana Laura Lucía Marta Paula Elena Sara Cristina Raquel Pilar Rosa Sofía Alba "
    "Julia Irene Nuria Beatriz Silvia Patricia Andrea Claudia Noelia Lorena Inés Teresa Eva Antonio José "
    "Manuel Francisco David Juan Javier Daniel Carlos Jesús Alejandro Miguel Rafael Pablo Pedro Ángel Sergio "
    "Fernando Jorge Luis Alberto Álvaro Adrián Diego Raúl Iván Rubén Óscar Andrés Hugo Mario Enrique Víctor"
).split()
SURNAMES = (
    "García González Rodríguez Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández "
    "Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez "
    "Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina "
    "Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León Herrera "
    "Márquez Peña Flores Cabrera Campos Vega Fuentes Carrasco Diez Caballero Reyes Nieto Aguilar Pascual"
).split()
RARE_SURNAME, RARE_SHARE = "Zubizarreta", 0.0003  # for a `q` that matches a few dozen contacts
COMMON_Q, RARE_Q = "martín", "zubiza"
# Message text for `q`: a common pair of words (one inbound text in twelve) and a rare word.
COMMON_TEXT_Q, RARE_TEXT_Q = "envio sevilla", "reembolso"
RARE_TEXT, RARE_TEXT_EVERY = "Quiero el reembolso del pedido, no la talla nueva", 20011

INBOUND_TEXTS = [
    "Hola, ¿tenéis esta camiseta en talla M?", "¿Cuánto tarda el envío a Sevilla?", "Buenas, quería saber el "
    "estado de mi pedido", "¿Hacéis devoluciones si no me queda bien?", "Gracias, todo perfecto", "¿A qué hora "
    "abrís el sábado?", "Me ha llegado el paquete roto", "¿Puedo pagar con Bizum?", "Vale, lo compro",
    "¿Tenéis tienda física en Madrid?", "No me ha llegado el código de descuento", "Perfecto, muchas gracias",
]
OUTBOUND_TEXTS = [
    "¡Hola! Sí, nos queda en talla M en azul y negro.", "El envío a península tarda 24-48 h laborables.",
    "Tu pedido salió ayer; te paso el número de seguimiento.", "Tienes 30 días para devolverlo sin coste.",
    "¡Gracias a ti! Cualquier cosa, aquí estamos.", "El sábado abrimos de 10:00 a 14:00.",
    "Lo siento mucho; te enviamos otro hoy mismo sin coste.", "Sí, aceptamos Bizum, tarjeta y PayPal.",
    "Te paso con una compañera que lo revisa ahora mismo.", "Estamos en la calle Fuencarral 45, Madrid.",
]


# ---------------------------------------------------------------------------------------------------
# Loading


@dataclass
class TenantPlan:
    slug: str
    conversations: int
    messages: int
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class BulkWriter:
    """Streams rows into a table: COPY on PostgreSQL, batched executemany on SQLite."""

    def __init__(self, engine: Engine, progress: tqdm) -> None:
        self.engine = engine
        self.progress = progress
        self.is_pg = engine.dialect.name == "postgresql"

    def write(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
        if self.is_pg:
            self._copy(table, columns, rows)
        else:
            self._executemany(table, columns, rows)

    def _copy(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
        url = make_url(self.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for n, row in enumerate(rows, 1):
                    copy.write_row(row)
                    if n % 5000 == 0:
                        self.progress.update(5000)
                self.progress.update(n % 5000)

    def _executemany(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
        # Through SQLAlchemy Core so the column types convert values the way the app stores them.
        from tertulia.kit.db import Base

        target = Base.metadata.tables[table]
        iterator = iter(rows)
        with self.engine.begin() as conn:
            while batch := list(islice(iterator, 5000)):
                conn.execute(insert(target), [dict(zip(columns, row, strict=True)) for row in batch])
                self.progress.update(len(batch))


def _weighted(rng: random.Random, choices: list[tuple[Any, float]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def load(engine: Engine, plans: list[TenantPlan], seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    total = sum(p.conversations * 5 + p.messages for p in plans)  # contacts+identities+convs+tags ~ 5/conv
    started = time.monotonic()
    with tqdm(total=total, unit="row", unit_scale=True, desc="loading", smoothing=0.05) as progress:
        writer = BulkWriter(engine, progress)
        next_message_id = 1
        for plan in plans:
            next_message_id = _load_tenant(engine, writer, plan, rng, now, next_message_id)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'id'), :v)"),
                         {"v": next_message_id})
    analyze(engine)
    print(f"loaded {len(plans)} tenants in {time.monotonic() - started:.0f}s", file=sys.stderr)


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _load_tenant(engine: Engine, writer: BulkWriter, plan: TenantPlan, rng: random.Random, now: datetime,
                 first_message_id: int) -> int:
    tid = plan.id
    created = now - timedelta(days=400)
    channels = [(uuid.uuid4(), kind, name, origin, share) for kind, name, origin, share in CHANNELS]
    tags = [(uuid.uuid4(), name, colour, share) for name, colour, share in TAGS]
    with engine.begin() as conn:
        conn.execute(insert(Tenant), [{"id": tid, "slug": plan.slug, "name": f"Tienda {plan.slug}",
                                       "created_at": created}])
        conn.execute(insert(TenantSequence), [{"tenant_id": tid, "last_event_seq": 0}])
        conn.execute(insert(Channel), [
            {"id": cid, "tenant_id": tid, "kind": kind, "name": name, "platform_origin": origin,
             "enabled": True, "created_at": created} for cid, kind, name, origin, _ in channels])
        conn.execute(insert(Tag), [
            {"id": tag_id, "tenant_id": tid, "name": name, "name_key": name.casefold(), "color": colour,
             "created_at": created} for tag_id, name, colour, _ in tags])
    writer.progress.update(len(channels) + len(tags) + 2)

    # One contact per conversation; each conversation's plan decides its messages, so the
    # denormalised columns (preview, times, unread, last inbound) match the rows written later.
    n = plan.conversations
    extra = max(plan.messages - n, 0)
    weights = [rng.expovariate(1.0) for _ in range(n)]
    scale = extra / sum(weights) if weights else 0
    counts = [1 + int(w * scale) for w in weights]
    for i in rng.choices(range(n), k=plan.messages - sum(counts)) if plan.messages > sum(counts) else []:
        counts[i] += 1
    channel_choices = [((cid, kind), share) for cid, kind, _, _, share in channels]
    convs: list[tuple[Any, ...]] = []
    contacts: list[tuple[Any, ...]] = []
    identities: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    message_plans: list[tuple[uuid.UUID, uuid.UUID, int, int, datetime, float, bool]] = []
    next_id = first_message_id
    phone_offset = rng.randrange(10**8)
    for i in range(n):
        conv_id, contact_id = uuid.uuid4(), uuid.uuid4()
        channel_id, kind = _weighted(rng, channel_choices)
        source = SOURCE[kind]
        count = counts[i]
        last_at = now - timedelta(seconds=(rng.random() ** 2) * 180 * 86400 + rng.random())
        step = rng.uniform(20, 3600)
        first_at = last_at - timedelta(seconds=step * (count - 1))
        human = rng.random() < HUMAN_SHARE
        last_k = count - 1
        last_inbound_k = last_k if last_k % 2 == 0 else last_k - 1  # the contact writes first
        last_inbound_id = next_id + last_inbound_k
        preview = _content(next_id + last_k, last_k)
        unread = rng.randint(1, 4) if last_k % 2 == 0 and rng.random() < 0.6 else 0
        status = _weighted(rng, STATUSES)
        convs.append((conv_id, tid, contact_id, channel_id, source, status,
                      "human_override" if human else "ai_active", None, unread, last_at, preview[:280],
                      last_at - timedelta(seconds=step * (last_k - last_inbound_k)), last_inbound_id,
                      first_at, last_at))
        message_plans.append((conv_id, channel_id, next_id, count, last_at, step, human))
        next_id += count

        surname = RARE_SURNAME if rng.random() < RARE_SHARE else rng.choice(SURNAMES)
        name = f"{rng.choice(FIRST_NAMES)} {surname}"
        # Distinct per tenant (an identity is unique per channel), spread over the number space.
        phone = (f"+346{(i * 7919 + phone_offset) % 10**8:08d}"
                 if source == "whatsapp" or rng.random() < 0.3 else None)
        contacts.append((contact_id, tid, name, phone, "", "{}", last_at, first_at, last_at))
        identities.append((uuid.uuid4(), tid, contact_id, channel_id, phone or f"{source}-{i}", first_at))
        for tag_id, _, _, share in tags:
            if rng.random() < share:
                links.append((tid, contact_id, tag_id, first_at + (last_at - first_at) * rng.random()))

    writer.write("contacts", ("id", "tenant_id", "display_name", "phone", "notes", "custom_attributes",
                              "last_seen_at", "created_at", "updated_at"), contacts)
    writer.write("contact_identities", ("id", "tenant_id", "contact_id", "channel_id", "external_id",
                                        "created_at"), identities)
    writer.write("contact_tags", ("tenant_id", "contact_id", "tag_id", "applied_at"), links)
    writer.write("conversations", (
        "id", "tenant_id", "contact_id", "channel_id", "channel_source", "status", "ai_state", "assignee_id",
        "unread_count", "last_message_at", "last_message_preview", "last_inbound_at", "last_inbound_message_id",
        "created_at", "updated_at"), convs)
    writer.progress.update(n * 5 - len(contacts) - len(identities) - len(links) - len(convs))
    writer.write("messages", (
        "id", "tenant_id", "conversation_id", "channel_id", "direction", "author", "author_user_id", "content",
        "attachments", "status", "error", "provider_message_id", "correlation_id", "is_echo", "created_at",
        "updated_at"), _messages(tid, message_plans))
    return next_id


def _content(message_id: int, k: int) -> str:
    if message_id % RARE_TEXT_EVERY == 0:
        return RARE_TEXT
    texts = INBOUND_TEXTS if k % 2 == 0 else OUTBOUND_TEXTS
    return texts[message_id % len(texts)]


def _messages(tid: uuid.UUID, plans: list[tuple[uuid.UUID, uuid.UUID, int, int, datetime, float, bool]],
              ) -> Iterator[tuple[Any, ...]]:
    for conv_id, channel_id, first_id, count, last_at, step, human in plans:
        for k in range(count):
            mid = first_id + k
            at = last_at - timedelta(seconds=step * (count - 1 - k))
            if k % 2 == 0:
                yield (mid, tid, conv_id, channel_id, "inbound", "contact", None, _content(mid, k), "[]",
                       "received", None, f"in.{mid}", None, False, at, at)
            else:
                author = "human" if human and k >= count - 4 else "ai"
                yield (mid, tid, conv_id, channel_id, "outbound", author, None, _content(mid, k), "[]",
                       "read", None, f"out.{mid}", None, False, at, at)


# ---------------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Case:
    label: str
    params: dict[str, str]  # query string of the endpoint
    filters: dict[str, Any]  # the same, as inbox_query's arguments
    rows: int = 0
    api: Stats | None = None
    sql: Stats | None = None
    driver: Stats | None = None  # the same SQL text, precompiled, on a bare psycopg connection
    db_plan_ms: float | None = None
    db_exec_ms: float | None = None


def build_cases(engine: Engine, tenant_id: uuid.UUID, base_url: str, headers: dict[str, str],
                deep_pages: int) -> list[Case]:
    with engine.connect() as conn:
        tag_ids = dict(conn.execute(select(Tag.name, Tag.id).where(Tag.tenant_id == tenant_id)).all())
    cases = [
        Case("first page", {}, {}),
        Case("human_only", {"human_filter": "human_only"}, {"ai_state": "human_override"}),
        Case("bot_only", {"human_filter": "bot_only"}, {"ai_state": "ai_active"}),
        Case("channel=whatsapp", {"channel": "whatsapp"}, {"channel_source": "whatsapp"}),
        Case("channel=api", {"channel": "api"}, {"channel_source": "api"}),
        Case(f"tag={COMMON_TAG} (30%)", {"tag": COMMON_TAG}, {"tag_id": tag_ids[COMMON_TAG]}),
        Case(f"tag={RARE_TAG} (0.05%)", {"tag": RARE_TAG}, {"tag_id": tag_ids[RARE_TAG]}),
        Case("tag=mayorista (0.5%)", {"tag": "mayorista"}, {"tag_id": tag_ids["mayorista"]}),
        Case("tag=VIP (2%)", {"tag": "VIP"}, {"tag_id": tag_ids["VIP"]}),
        Case("status=snoozed", {"status": "snoozed"}, {"status": "snoozed"}),
        Case(f"q={COMMON_Q}", {"q": COMMON_Q}, {"q": COMMON_Q}),
        Case(f"q={RARE_Q} (rare)", {"q": RARE_Q}, {"q": RARE_Q}),
        Case("q=phone digits", {"q": "+34612"}, {"q": "+34612"}),
        Case(f"q={COMMON_TEXT_Q} (text)", {"q": COMMON_TEXT_Q}, {"q": COMMON_TEXT_Q}),
        Case(f"q={RARE_TEXT_Q} (rare text)", {"q": RARE_TEXT_Q}, {"q": RARE_TEXT_Q}),
        Case("human_only+whatsapp+open", {"human_filter": "human_only", "channel": "whatsapp", "status": "open"},
             {"ai_state": "human_override", "channel_source": "whatsapp", "status": "open"}),
        Case(f"human_only+tag={COMMON_TAG}", {"human_filter": "human_only", "tag": COMMON_TAG},
             {"ai_state": "human_override", "tag_id": tag_ids[COMMON_TAG]}),
    ]
    # A deep keyset page: follow X-Next-Cursor like a client scrolling down.
    with httpx2.Client(base_url=base_url, headers=headers, timeout=30) as client:
        cursor = None
        for _ in range(deep_pages):
            resp = client.get("/admin/chats/summary", params={"cursor": cursor} if cursor else {})
            resp.raise_for_status()
            cursor = resp.headers["X-Next-Cursor"]
    assert cursor is not None
    ts, cid = decode_cursor(cursor, 2)
    cases.append(Case(f"keyset page {deep_pages + 1}", {"cursor": cursor},
                      {"after": (datetime.fromisoformat(ts), uuid.UUID(cid))}))
    return cases


def sql_statement(dialect: str, tenant_id: uuid.UUID, filters: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The statement `conversations.repository.list_inbox` runs for these filters, and its values."""
    return inbox_statement(tenant_id, InboxFilters(**filters), dialect)


def run_sql(conn: Any, tenant_id: uuid.UUID, filters: dict[str, Any]) -> list[Any]:
    """What `conversations.repository.list_inbox` runs, on a plain synchronous connection (Core
    rows: one per conversation and tag, the conversation's id first)."""
    stmt, params = sql_statement(conn.dialect.name, tenant_id, filters)
    return list(conn.execute(stmt, params).all())


def measure(engine: Engine, tenant_id: uuid.UUID, base_url: str, headers: dict[str, str], cases: list[Case],
            requests: int, explain: bool) -> Stats:
    """Time every case through the API, through SQLAlchemy (the repository's statement run as the
    app does) and on PostgreSQL as bare SQL on psycopg, in rounds (every case through every side
    once per round) so that load from other processes on the machine falls on all cases alike."""
    api_samples: dict[str, list[float]] = {c.label: [] for c in cases}
    sql_samples: dict[str, list[float]] = {c.label: [] for c in cases}
    driver_samples: dict[str, list[float]] = {c.label: [] for c in cases}
    floor_samples: list[float] = []
    is_pg = engine.dialect.name == "postgresql"
    # The timed client is the standard library's lean HTTP/1.1 connection (keep-alive): a richer
    # client adds ~0.7 ms of its own per request on this machine, which is not the server's.
    with _http_connection(base_url) as http, engine.connect() as conn, _driver_connection(engine) as raw:
        if is_pg:  # as the app's transactions are: the tenant role, under row-level security
            as_tenant = {"role": TENANT_ROLE, "tenant": str(tenant_id)}
            conn.execute(text("SELECT set_config('role', :role, false), set_config('app.tenant_id', :tenant, false)"),
                         as_tenant)
            conn.commit()
            raw.execute("SELECT set_config('role', %(role)s, false), set_config('app.tenant_id', %(tenant)s, false)",
                        as_tenant)
            raw.commit()
        def get(path: str) -> bytes:
            http.request("GET", path, headers=headers)
            resp = http.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise AssertionError(f"GET {path}: {resp.status} {body[:200]!r}")
            return body

        paths = {c.label: "/admin/chats/summary" + (f"?{urlencode(c.params)}" if c.params else "") for c in cases}

        def api_call(case: Case) -> int:
            return len(json.loads(get(paths[case.label])))

        compiled: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for case in cases:
            case.rows = api_call(case)
            sql_rows = len({row[0] for row in run_sql(conn, tenant_id, case.filters)})
            if sql_rows != case.rows:
                raise AssertionError(f"{case.label}: the endpoint returned {case.rows} rows, the SQL {sql_rows}")
            if is_pg:
                stmt, params = sql_statement(conn.dialect.name, tenant_id, case.filters)
                sql = stmt.compile(dialect=conn.dialect)
                compiled[case.label] = [(sql.string, {**sql.params, **params})]

        def driver_call(case: Case) -> None:
            with raw.cursor() as cur:
                for sql, params in compiled[case.label]:
                    cur.execute(sql, params)
                    cur.fetchall()

        for _ in range(5):  # warm caches and every side's prepared statements
            for case in cases:
                api_call(case)
                run_sql(conn, tenant_id, case.filters)
                if is_pg:
                    driver_call(case)
        clock = time.perf_counter
        # Each round times every case through each side in turn: all API requests, then all
        # SQLAlchemy runs, then all bare-driver runs, each block after one untimed call that wakes
        # its side down to the database (the API's is a list request: /healthz alone left the
        # server's database connection asleep, and the first case paid ~0.7 ms for it). (One case
        # at a time through all three sides made every API request the first after an idle spell
        # of the server, which costs ~1 ms on this machine to wake, while the database side stayed
        # warm: an unequal comparison.)
        for _ in tqdm(range(requests), desc="measuring", unit="round", leave=False):
            get("/healthz")
            start = clock()
            get("/healthz")
            floor_samples.append(clock() - start)
            api_call(cases[-1])
            for case in cases:
                start = clock()
                api_call(case)
                api_samples[case.label].append(clock() - start)
            conn.exec_driver_sql("SELECT 1").all()
            for case in cases:
                start = clock()
                run_sql(conn, tenant_id, case.filters)
                sql_samples[case.label].append(clock() - start)
            if is_pg:
                raw.execute("SELECT 1").fetchall()
                for case in cases:
                    start = clock()
                    driver_call(case)
                    driver_samples[case.label].append(clock() - start)
        for case in cases:
            case.api = Stats.of(api_samples[case.label])
            case.sql = Stats.of(sql_samples[case.label])
            if is_pg:
                case.driver = Stats.of(driver_samples[case.label])
                case.db_plan_ms, case.db_exec_ms = _server_ms(conn, tenant_id, case, explain)
        conn.rollback()
    return Stats.of(floor_samples)


@contextmanager
def _http_connection(base_url: str) -> Iterator[http.client.HTTPConnection]:
    parsed = urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _driver_connection(engine: Engine) -> Iterator[Any]:
    if engine.dialect.name != "postgresql":
        yield None
        return
    url = make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, **PG_CONNECT_ARGS) as raw:
        yield raw
        raw.rollback()


def _server_ms(conn: Any, tenant_id: uuid.UUID, case: Case, show_plan: bool) -> tuple[float, float]:
    """Server-side planning and execution times (EXPLAIN ANALYZE) of the case's statement, each
    the median of five runs."""
    stmt, params = sql_statement(conn.dialect.name, tenant_id, case.filters)
    # psycopg adapts the parameters' Python values (UUIDs, aware datetimes) as the app sends them.
    compiled = stmt.compile(dialect=conn.dialect)
    planning, execution = [], []
    plan = ""
    for _ in range(5):
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, {**compiled.params, **params}).all())
        planned = re.search(r"Planning Time: ([\d.]+) ms", plan)
        executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
        assert planned is not None and executed is not None
        planning.append(float(planned.group(1)))
        execution.append(float(executed.group(1)))
    if show_plan:
        print(f"\n-- {case.label}\n{compiled.string}\n{plan}", file=sys.stderr)
    return sorted(planning)[2], sorted(execution)[2]


def print_table(cases: list[Case], floor: Stats, requests: int, dialect: str, load_before: float,
                stolen: float) -> None:
    pg = dialect == "postgresql"
    head = (f"{'case':<26} {'rows':>4}  {'API p50':>7} {'p95':>6} {'mean':>6}  "
            f"{'SQLA p50':>8} {'p95':>6}")
    if pg:
        head += f"  {'psycopg p50':>11} {'p95':>5}  {'db plan':>7} {'exec':>5}"
    head += f"  {'API/SQLA p95':>12}"
    if pg:
        head += f" {'API/psycopg p95':>15}"
    print(f"\nGET /admin/chats/summary on {dialect}: {requests} requests per case (in rounds), "
          f"times in ms; {os.cpu_count()} cores, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; {stolen:.1f}% of the CPUs' time stolen by the host while measuring")
    print(head)
    print("-" * len(head))
    for c in cases:
        assert c.api and c.sql
        line = (f"{c.label:<26} {c.rows:>4}  {c.api.p50_ms:>7.2f} {c.api.p95_ms:>6.2f} {c.api.mean_ms:>6.2f}  "
                f"{c.sql.p50_ms:>8.2f} {c.sql.p95_ms:>6.2f}")
        if pg:
            assert c.driver and c.db_plan_ms is not None and c.db_exec_ms is not None
            line += (f"  {c.driver.p50_ms:>11.2f} {c.driver.p95_ms:>5.2f}  {c.db_plan_ms:>7.2f} "
                     f"{c.db_exec_ms:>5.2f}")
        line += f"  {c.api.p95_ms / c.sql.p95_ms:>11.1f}x"
        if pg:
            assert c.driver
            line += f" {c.api.p95_ms / c.driver.p95_ms:>14.1f}x"
        print(line)
    print(f"{'GET /healthz (HTTP floor)':<26} {'':>4}  {floor.p50_ms:>7.2f} {floor.p95_ms:>6.2f} "
          f"{floor.mean_ms:>6.2f}")
    worst = max(cases, key=lambda c: c.api.p95_ms if c.api else 0)
    assert worst.api
    print(f"\nslowest API p95: {worst.label} at {worst.api.p95_ms:.2f} ms (target < 10 ms on PostgreSQL)")


# ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="postgresql://... or sqlite:///...; default: a fresh PostgreSQL "
                        "database on 127.0.0.1:5432, dropped at the end unless --keep")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--other-tenants", type=int, default=10)
    parser.add_argument("--other-conversations", type=int, default=10_000,
                        help="conversations of each other tenant (3 messages each)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--deep-pages", type=int, default=50, help="pages followed for the deep keyset case")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database (and reuse an already loaded one)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) per case")
    args = parser.parse_args()

    url = args.database_url or (PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + (
        KEEP_DB_NAME if args.keep else f"tertulia_bench_{uuid.uuid4().hex[:8]}"))
    is_pg = make_url(url).get_backend_name() == "postgresql"
    created = False
    if is_pg and not pg_database_exists(url):
        pg_create_database(url)
        created = True
    if not is_pg:
        if not args.keep and Path(make_url(url).database or "").exists():
            parser.error("the SQLite file exists; pass --keep to reuse it or remove it first")
        created = not Path(make_url(url).database or "").exists()
    tmp = tempfile.TemporaryDirectory(prefix="tertulia-bench-")
    # The app's connection settings, so the SQL side is planned and run as the app's is.
    engine = create_engine(sync_url(url), connect_args=PG_CONNECT_ARGS if url.startswith("postgres") else {})
    loaded_ok = True
    try:
        settings = Settings(database_url=url, data_dir=Path(tmp.name), secret_key=SECRET)
        do_migrate(settings)
        with engine.connect() as conn:
            tenant_id = conn.execute(select(Tenant.id).where(Tenant.slug == MAIN_SLUG)).scalar_one_or_none()
        if tenant_id is None:
            plans = [TenantPlan(MAIN_SLUG, args.conversations, args.messages)] + [
                TenantPlan(f"bench-other-{i:02d}", args.other_conversations, args.other_conversations * 3)
                for i in range(1, args.other_tenants + 1)]
            try:
                load(engine, plans)
            except BaseException:
                loaded_ok = False  # a half-loaded database must not be reused by a later --keep run
                raise
            tenant_id = plans[0].id
        else:
            print(f"reusing the loaded tenant {MAIN_SLUG} in {make_url(url).database}", file=sys.stderr)
        with engine.connect() as conn:
            n_conv = conn.execute(select(func.count()).select_from(Conversation)
                                  .where(Conversation.tenant_id == tenant_id)).scalar_one()
            n_msg = conn.execute(select(func.count()).select_from(Message)
                                 .where(Message.tenant_id == tenant_id)).scalar_one()
        if (n_conv, n_msg) != (args.conversations, args.messages):
            parser.error(f"{make_url(url).database} holds {n_conv} conversations and {n_msg} messages for "
                         f"{MAIN_SLUG}, not the {args.conversations}/{args.messages} asked for; drop it first")
        token = new_token("trt")
        with engine.begin() as conn:
            conn.execute(insert(ApiToken), [{"id": uuid.uuid4(), "tenant_id": tenant_id, "name": "bench",
                                             "token_hash": hash_token(token), "prefix": token[:8],
                                             "created_at": datetime.now(UTC)}])
        headers = {"Authorization": f"Bearer {token}"}
        print(f"tenant {MAIN_SLUG}: {n_conv} conversations", file=sys.stderr)
        load_before = os.getloadavg()[0]
        ticks_before = cpu_ticks()
        with running_server(url, Path(tmp.name), secret_key=SECRET) as base_url:
            cases = build_cases(engine, tenant_id, base_url, headers, args.deep_pages)
            floor = measure(engine, tenant_id, base_url, headers, cases, args.requests, args.explain)
        print_table(cases, floor, args.requests, engine.dialect.name, load_before,
                    stolen_pct(ticks_before, cpu_ticks()))
        print(json.dumps({"dialect": engine.dialect.name, "cases": {
            c.label: {"api_p95_ms": round(c.api.p95_ms, 2), "sql_p95_ms": round(c.sql.p95_ms, 2)}
            for c in cases if c.api and c.sql}}), file=sys.stderr)
    finally:
        engine.dispose()
        tmp.cleanup()
        if is_pg and created and (not args.keep or not loaded_ok):
            pg_drop_database(url)
        elif not is_pg and created and (not args.keep or not loaded_ok):
            for suffix in ("", "-wal", "-shm"):
                Path((make_url(url).database or "") + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
