"""Database plumbing: engines for SQLite and PostgreSQL, the declarative base, the unit of work.

The same code and migrations run on both databases. On SQLite we take the transaction control
away from the driver (SQLAlchemy's documented recipe) so that BEGIN, savepoints and
`BEGIN IMMEDIATE` for writers behave as they should.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar, overload

from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, select
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY autoincrements on SQLite


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset; we store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class TenantOwned:
    """Mixin for every row that belongs to one tenant."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=False)


M = TypeVar("M")


@overload
def tenant_select(model: type[M], tenant_id: uuid.UUID) -> Select[M]: ...
@overload
def tenant_select(model: Any, tenant_id: uuid.UUID, *columns: Any) -> Select[Any]: ...


def tenant_select(model: Any, tenant_id: uuid.UUID, *columns: Any) -> Select[Any]:
    """The one way to read tenant data: a SELECT already filtered to the caller's tenant."""
    stmt = select(*columns) if columns else select(model)
    return stmt.where(model.tenant_id == tenant_id)


def async_url(url: str) -> str:
    """Accept plain `sqlite:///` / `postgresql://` URLs and pick the async drivers ourselves."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(drivername="sqlite"))
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


# timezone=UTC: timestamps come back from the driver already in UTC (fetch_rows relies on it).
# prepare_threshold: never prepare a statement on our behalf (see create_engine), only when asked
# (fetch_rows(prepare=True)); psycopg's None would refuse even those.
PG_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": 2**31 - 1,
                                   "options": "-c max_parallel_workers_per_gather=0 -c timezone=UTC"}


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None, sqlite_immediate: bool = True,
                  autocommit: bool = False) -> AsyncEngine:
    """`autocommit` (PostgreSQL): every statement commits on its own, no BEGIN."""
    aurl = make_url(async_url(url))
    if aurl.get_backend_name() == "sqlite":
        if aurl.database and aurl.database != ":memory:":
            Path(aurl.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        _install_sqlite_recipe(engine, immediate=sqlite_immediate)
        return engine
    # No server-side prepared statements unless asked for: the inbox list's best plan depends on
    # values a generic plan does not see (the tenant's size, a tag's frequency), and PostgreSQL
    # settles on generic plans for statements prepared a few times (one that sorts a common tag's
    # every link is 20x slower). The inbound path's statements, whose plan is the same for any
    # values, are prepared (fetch_rows(prepare=True)): planning them cost more than running them.
    # Parallel workers cost more to start than they save on our small indexed reads.
    # No pre-ping either: it is a round trip per request; a dead connection fails its statement
    # and is replaced by the pool (pool_recycle retires old ones).
    return create_async_engine(
        aurl, pool_size=pool_size, max_overflow=pool_size * 2 if max_overflow is None else max_overflow,
        pool_recycle=1800, connect_args=PG_CONNECT_ARGS, **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )


def _install_sqlite_recipe(engine: AsyncEngine, *, immediate: bool) -> None:
    # SQLite has one writer at a time. A transaction that will write takes the lock when it
    # begins (BEGIN IMMEDIATE) rather than failing to upgrade a read snapshot later; the reading
    # engine keeps DEFERRED transactions so reads never wait for writers (WAL).
    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)


def is_sqlite(session_or_engine: AsyncSession | AsyncEngine) -> bool:
    bind = session_or_engine.bind if isinstance(session_or_engine, AsyncSession) else session_or_engine
    return bind is not None and bind.dialect.name == "sqlite"


class Database:
    """Owns the engine and the session factory of one process."""

    def __init__(self, url: str, *, pool_size: int = 10, bus: Any = None) -> None:
        self.url = url
        # Where this database's sessions publish their events after commit. Kept per Database (each
        # session finds it in `session.info["db"]`) so two apps in one process never share a bus.
        self.bus = bus
        self.engine = create_engine(url, pool_size=pool_size)
        info = {"db": self}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False, info=info)
        self.autocommit_engine: AsyncEngine | None = None
        if self.engine.dialect.name == "sqlite":
            self.read_engine = create_engine(url, sqlite_immediate=False)
            self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False,
                                                        info=info)
            self.request_read_sessionmaker = self.read_sessionmaker
        else:
            self.read_engine = self.engine
            self.read_sessionmaker = self.sessionmaker
            # For reads that need no snapshot across their statements (GET requests, the AI
            # turn's context): autocommit spares the BEGIN and COMMIT round trips (half of an
            # inbox list's four; ~25% of its time under load). A pool of its own, whose
            # connections stay in autocommit: switching a shared one there and back on every
            # checkout cost ~85 us of CPU per request (7 % of an inbox list's). Its overflow is
            # smaller: reads are short.
            self.autocommit_engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                                   autocommit=True)
            self.request_read_sessionmaker = async_sessionmaker(self.autocommit_engine, expire_on_commit=False,
                                                                autoflush=False, info=info)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit at the end (publishing its events), roll back on error."""
        maker = self.sessionmaker if write else self.read_sessionmaker
        async with maker() as session:
            try:
                yield session
                await commit(session)
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self.autocommit_engine is not None:
            await self.autocommit_engine.dispose()


_PG_SQL: dict[Any, tuple[str, dict[str, Any]]] = {}


async def fetch_rows(session: AsyncSession, stmt: Any, params: dict[str, Any], *,
                     prepare: bool = False, by_position: bool = False) -> Sequence[Any]:
    """The rows of a Core statement built once and kept (the hottest paths: the inbox list, the
    credential checks, the inbound message's lock and write), each readable by position and by
    column label.

    On PostgreSQL it runs straight on the session's psycopg connection (same transaction), with
    its SQL compiled once: SQLAlchemy's per-statement work (result objects, type processing,
    the async bridge) cost more CPU than the driver itself for these reads. psycopg already
    returns UUIDs and timezone-aware UTC datetimes (PG_CONNECT_ARGS), as the column types would.
    Elsewhere it is a plain execute. SELECTs only (one whose WITH writes, like the inbound
    path's, when it binds every value itself): an INSERT's Python-side column defaults and the
    column types' bind processing (JSON) would not run this way.

    `prepare`: keep the statement prepared on the connection, so PostgreSQL plans it once, not on
    every run. Only for statements whose best plan does not depend on the values (lookups by
    unique keys, the inbound path's batches): see PG_CONNECT_ARGS for why the rest are not.
    `by_position`: plain tuples on PostgreSQL, for a caller that unpacks them (the inbox list's
    40-odd rows): a named tuple costs ~1 us more per row."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return (await (await session.connection()).execute(stmt, params)).all()
    compiled = _PG_SQL.get(stmt)
    if compiled is None:
        sql = stmt.compile(dialect=session.bind.dialect)
        compiled = _PG_SQL[stmt] = (sql.string, dict(sql.params))
    driver = await pg_driver(session)
    # (No pipeline to send a transaction's BEGIN with its first statement: measured under load,
    # psycopg's pipeline mode costs more time than the round trip it saves.)
    async with driver.cursor(row_factory=tuple_row if by_position else namedtuple_row) as cursor:
        await cursor.execute(compiled[0], {**compiled[1], **params}, prepare=prepare or None)
        rows: Sequence[Any] = await cursor.fetchall()
        return rows


async def pg_driver(session: AsyncSession) -> Any:
    """The psycopg connection under the session's current transaction (kept on the session until
    the transaction ends: getting it through SQLAlchemy's async bridge costs two greenlet
    switches, each a fresh Python stack)."""
    driver = session.info.get("pg_driver")
    if driver is None:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        session.info["pg_driver"] = driver
    return driver


@event.listens_for(AsyncSession.sync_session_class, "after_transaction_end")
def _forget_driver(session: Any, transaction: Any) -> None:
    session.info.pop("pg_driver", None)


async def commit(session: AsyncSession) -> None:
    """Commit, then run what was deferred until after commit (event fan-out, job wake-ups)."""
    committer = session.info.pop("commit_with", None)
    if committer is not None:
        await committer(session)
    await session.commit()
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


def after_commit(session: AsyncSession, callback: Any) -> None:
    """Register an async callable to run once this session's transaction has committed."""
    session.info.setdefault("after_commit", []).append(callback)


def commit_with(session: AsyncSession, committer: Any) -> None:
    """Let an async callable send this session's COMMIT itself, together with the rows it writes
    last (the tenant event log does: see realtime.events). `commit()` calls it first; the
    session's own COMMIT then finds nothing left to commit. Sessions committed without `commit()`
    do not call it, so what it writes must also be written in `before_commit`."""
    session.info["commit_with"] = committer


@event.listens_for(AsyncSession.sync_session_class, "after_rollback")
def _drop_deferred(session: Any) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("commit_with", None)
    session.info.pop("pending_events", None)
    session.info.pop("committed_events", None)
