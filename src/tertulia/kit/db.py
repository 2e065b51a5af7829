"""Database plumbing: engines, the declarative base, the tenant filter and the unit of work.

The same code and migrations run on SQLite and PostgreSQL. Every transaction goes through
`Database.session` (writes) or `Database.read_session` (reads): it commits at the end (writing the
tenant events it recorded, then publishing them), or rolls back on error. On PostgreSQL each
transaction also says whose rows it may see (row-level security, `set_tenant`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar, TypeVarTuple, overload

from sqlalchemy import (
    BigInteger,
    DateTime,
    Delete,
    Integer,
    MetaData,
    String,
    Update,
    cast,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect, Result, ScalarResult, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TypedReturnsRows
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


# --- the tenant filter ------------------------------------------------------------------------
# Every statement on tenant-owned rows starts from one of these three, so the tenant is never
# forgotten. (Inserts take the tenant from the caller's principal.) On PostgreSQL row-level
# security is the second wall behind them: see `set_tenant`.

M = TypeVar("M")
TenantId = uuid.UUID | BindParameter[Any]
T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")


@overload
def tenant_select(model: type[M], tenant_id: TenantId) -> Select[M]: ...
@overload
def tenant_select(model: Any, tenant_id: TenantId, *columns: Any) -> Select[Any]: ...


def tenant_select(model: Any, tenant_id: TenantId, *columns: Any) -> Select[Any]:
    """A SELECT of a tenant-owned model (or of some columns), already filtered to one tenant
    (a `bindparam` instead of the id: a statement built once, given the tenant when run)."""
    stmt = select(*columns) if columns else select(model)
    return stmt.where(model.tenant_id == tenant_id)


def tenant_update(model: Any, tenant_id: uuid.UUID) -> Update:
    """An UPDATE of a tenant-owned model, already filtered to one tenant."""
    return update(model).where(model.tenant_id == tenant_id).execution_options(synchronize_session=False)


def tenant_delete(model: Any, tenant_id: uuid.UUID) -> Delete:
    """A DELETE of a tenant-owned model, already filtered to one tenant."""
    return delete(model).where(model.tenant_id == tenant_id).execution_options(synchronize_session=False)


# --- engines ----------------------------------------------------------------------------------

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


# prepare_threshold None: psycopg never prepares statements on its own. The inbox list's best plan
# depends on values a generic plan does not see (a tenant's size, a tag's frequency), and
# PostgreSQL settles on generic plans for statements prepared a few times (one that sorts a common
# tag's every link was 20x slower). Parallel workers cost more to start than they save on our small
# indexed reads.
PG_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None,
                                   "options": "-c max_parallel_workers_per_gather=0"}


def create_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> AsyncEngine:
    """`read_only` (SQLite): the engine of read sessions (see Database)."""
    aurl = make_url(async_url(url))
    if aurl.get_backend_name() == "sqlite":
        if aurl.database and aurl.database != ":memory:":
            Path(aurl.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        _install_sqlite_recipe(engine, read_only=read_only)
        return engine
    # No pre-ping: it is a round trip per transaction; a dead connection fails its statement and
    # the pool replaces it (pool_recycle retires old ones).
    return create_async_engine(aurl, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800,
                               connect_args=PG_CONNECT_ARGS)


def _install_sqlite_recipe(engine: AsyncEngine, *, read_only: bool) -> None:
    # SQLAlchemy's documented recipe: the driver's own transaction handling is off and we emit
    # BEGIN, so savepoints work. SQLite has one writer at a time: a transaction that will write
    # takes the lock when it begins (BEGIN IMMEDIATE) rather than failing to upgrade a read
    # snapshot later; read sessions begin DEFERRED on their own engine, so reads never wait for
    # writers (WAL), and that engine refuses writes (query_only).
    begin_sql = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)


def dialect_name(session: AsyncSession | ReadSession | AsyncEngine) -> str:
    """"postgresql" or "sqlite": the database a session (or engine) talks to."""
    bind = session.bind if not isinstance(session, AsyncEngine) else session
    return bind.dialect.name if bind is not None else ""


def is_sqlite(session: AsyncSession | ReadSession | AsyncEngine) -> bool:
    return dialect_name(session) == "sqlite"


# --- row-level security ---------------------------------------------------------------------
# On PostgreSQL every tenant-owned table has a policy (migration 0005): a row is visible to the
# role TENANT_ROLE only when its tenant is the transaction's `app.tenant_id`. Each transaction
# starts as that role seeing nothing, and states whose rows it works on (a request once its
# credentials are checked, a job for the tenant it works on: `set_tenant`). Work that must cross
# tenants (a webhook's channel lookup, a job claim, the credential check itself, the demo) says
# why, and runs as the login role, which owns the tables and is not subject to the policies.
# SQLite has no such thing: there the query filters are the only wall.

TENANT_ROLE = "tertulia_tenant"
ALL_TENANTS = "*"
_AS_TENANT = "SELECT set_config('role', :role, true), set_config('app.tenant_id', :tenant, true)"
_AS_TENANT_READ_ONLY = _AS_TENANT + ", set_config('transaction_read_only', 'on', true)"
_STATE = {False: text(_AS_TENANT), True: text(_AS_TENANT_READ_ONLY)}


def _rls_params(tenant: str | None) -> dict[str, str]:
    if tenant == ALL_TENANTS:
        return {"role": "none", "tenant": ""}
    return {"role": TENANT_ROLE, "tenant": tenant or ""}


async def set_tenant(session: AsyncSession | ReadSession, tenant_id: uuid.UUID | str) -> None:
    """Let this transaction see one tenant's rows (or every tenant's with ALL_TENANTS: only for
    work that says why). It lasts until the transaction ends; the session's next transaction
    starts with it again."""
    target = session._session if isinstance(session, ReadSession) else session
    value = str(tenant_id)
    if target.info.get("tenant") == value:
        return
    target.info["tenant"] = value
    if target.bind is not None and target.bind.dialect.name == "postgresql" and target.in_transaction():
        read_only = bool(target.info.get("read_only")) and value != ALL_TENANTS
        await target.execute(_STATE[read_only], _rls_params(value))


def stating_tenant(dialect: str, tenant_column: Any, *, read_only: bool = False) -> tuple[Any, ...]:
    """Columns that make a SELECT across tenants also state, as `set_tenant` would, the tenant of
    the rows it finds, for the rest of the transaction: the lookup that says whose the work is
    and the statement that then limits the transaction to it share one round trip. Evaluated row
    by row, after the row is read; give the rows' tenants to `stated_tenant` (nothing on SQLite).
    `read_only`: for a read session's statement (the transaction turns READ ONLY too)."""
    if dialect != "postgresql":
        return ()
    # A row without a tenant (a login session's lost membership) states one that sees nothing.
    tenant = func.coalesce(cast(tenant_column, String), "")
    columns: tuple[Any, ...] = (func.set_config("role", TENANT_ROLE, True).label("_stated_role"),
                                func.set_config("app.tenant_id", tenant, True).label("_stated_tenant"))
    if read_only:
        columns += (func.set_config("transaction_read_only", "on", True).label("_stated_read_only"),)
    return columns


def committed_unflushed(dialect: str) -> tuple[Any, ...]:
    """A column that lets the transaction of the write returning it commit without waiting for
    PostgreSQL to put its WAL on disk (`synchronous_commit` off for that transaction; evaluated
    when a row is returned, so a write that found nothing changes nothing). Only for writes that
    a crash of the database may lose because they are done again anyway, like a claim under a
    lease. Others see the write at commit as usual, and the next ordinary commit puts it on disk
    with its own. Nothing on SQLite."""
    if dialect != "postgresql":
        return ()
    return (func.set_config("synchronous_commit", "off", True).label("_committed_unflushed"),)


def stated_tenant(session: AsyncSession | ReadSession, tenants: Iterable[uuid.UUID | None]) -> None:
    """After a statement with `stating_tenant`'s columns, the tenants of the rows it returned: one
    tenant is now the transaction's (a later `set_tenant` to it costs nothing); rows of several
    left the last one evaluated, so the next `set_tenant` states its tenant again."""
    found = {"" if t is None else str(t) for t in tenants}
    if found and dialect_name(session) == "postgresql":
        session.info["tenant"] = found.pop() if len(found) == 1 else ""


def state_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """`set_tenant` for code that runs inside a flush or commit (synchronous)."""
    value = str(tenant_id)
    if session.info.get("tenant") == value:
        return
    session.info["tenant"] = value
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.connection().execute(_STATE[False], _rls_params(value))


@event.listens_for(Session, "after_begin")
def _state_tenant(session: Session, transaction: Any, connection: Any) -> None:
    # Each transaction starts by stating whose rows it sees (and, for read sessions, that it only
    # reads: PostgreSQL then refuses a write). One statement, on the transaction's first use.
    if connection.dialect.name != "postgresql":
        return
    tenant = session.info.get("tenant")
    if tenant == ALL_TENANTS:
        return  # the login role, as connected (a read session that crosses tenants is not made READ ONLY)
    connection.execute(_STATE[bool(session.info.get("read_only"))], _rls_params(tenant))


# --- sessions ---------------------------------------------------------------------------------

class ReadSession:
    """A transaction that only reads: GET requests, an AI turn's context, socket replays.

    It offers the reading half of a session and nothing that writes (no add, flush or delete), so
    a function that writes — it takes an AsyncSession — cannot be given one: mypy refuses. The
    database refuses writes too: on PostgreSQL the transaction turns READ ONLY with the statement
    that states its tenant (a request's credential check reads first, across tenants); on SQLite
    read sessions run on their own `query_only` engine and never wait for the writer."""

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def bind(self) -> Any:
        return self._session.bind

    @property
    def info(self) -> dict[str, Any]:
        return self._session.info

    @overload
    async def execute(self, statement: TypedReturnsRows[*_Ts],
                      params: Mapping[str, Any] | None = None) -> Result[*_Ts]: ...
    @overload
    async def execute(self, statement: Executable,
                      params: Mapping[str, Any] | None = None) -> Result[*tuple[Any, ...]]: ...

    async def execute(self, statement: Executable,
                      params: Mapping[str, Any] | None = None) -> Result[*tuple[Any, ...]]:
        return await self._session.execute(statement, params)

    @overload
    async def scalar(self, statement: TypedReturnsRows[T], params: Mapping[str, Any] | None = None) -> T | None: ...
    @overload
    async def scalar(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Any: ...

    async def scalar(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Any:
        return await self._session.scalar(statement, params)

    @overload
    async def scalars(self, statement: TypedReturnsRows[T],
                      params: Mapping[str, Any] | None = None) -> ScalarResult[T]: ...
    @overload
    async def scalars(self, statement: Executable, params: Mapping[str, Any] | None = None) -> ScalarResult[Any]: ...

    async def scalars(self, statement: Executable, params: Mapping[str, Any] | None = None) -> ScalarResult[Any]:
        return await self._session.scalars(statement, params)

    async def get(self, entity: type[M], ident: Any) -> M | None:
        return await self._session.get(entity, ident)


# Functions that only read take either kind of session.
Reader = AsyncSession | ReadSession


class Database:
    """The engines and sessions of one process."""

    def __init__(self, url: str, *, pool_size: int = 10, bus: Any = None) -> None:
        self.url = url
        # Where this database's sessions publish their events after commit. Kept per Database so
        # two apps in one process (as in tests) never share a bus.
        self.bus = bus
        self.engine = create_engine(url, pool_size=pool_size)
        info = {"db": self}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False, info=info)
        read_engine = create_engine(url, read_only=True) if self.engine.dialect.name == "sqlite" else self.engine
        self.read_engine = read_engine
        self.read_sessionmaker = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False, info=info)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self, tenant_id: uuid.UUID | None = None, *,
                      cross_tenant: str | None = None) -> AsyncIterator[AsyncSession]:
        """One unit of work that may write: committed at the end (with the tenant events it
        recorded, then published), rolled back on error. `tenant_id`: whose rows it sees (a
        request states it later, once its credentials are checked). `cross_tenant`: why this work
        may see every tenant's rows (the channel lookup of a webhook, a job claim, the demo)."""
        async with self.sessionmaker() as session:
            _start(session, tenant_id, cross_tenant)
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await _run_after_commit(session)

    @asynccontextmanager
    async def read_session(self, tenant_id: uuid.UUID | None = None, *,
                           cross_tenant: str | None = None) -> AsyncIterator[ReadSession]:
        """A unit of work that only reads (see ReadSession); otherwise as `session`."""
        async with self.read_sessionmaker() as session:
            session.info["read_only"] = True
            _start(session, tenant_id, cross_tenant)
            try:
                yield ReadSession(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _start(session: AsyncSession, tenant_id: uuid.UUID | None, cross_tenant: str | None) -> None:
    if tenant_id is not None and cross_tenant is not None:
        raise ValueError("a session sees one tenant or, for a stated reason, all of them")
    if tenant_id is not None:
        session.info["tenant"] = str(tenant_id)
    elif cross_tenant:
        session.info["tenant"] = ALL_TENANTS


# --- after commit -----------------------------------------------------------------------------

def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run an async callable once this session's transaction has committed (event fan-out, job
    wake-ups); dropped if it rolls back."""
    session.info.setdefault("after_commit", []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks: Sequence[Callable[[], Awaitable[None]]] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


@event.listens_for(Session, "after_rollback")
def _drop_deferred(session: Session) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("pending_events", None)
    session.info.pop("committed_events", None)
