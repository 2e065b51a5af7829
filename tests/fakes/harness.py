"""What the fake vendor servers share: a real uvicorn server on 127.0.0.1 (a free port) running in a
thread of its own, a queue of scripted responses, a record of every request, and gates that hold a
response until the test releases them.

The server runs in its own thread and event loop so that it keeps answering whatever the test's
loop is doing (a test may hold the database, or wait on a condition), exactly like a remote API.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

POLL = 0.005  # how often a held response looks at its gate


class Gate:
    """Holds a scripted response at a chosen point until the test calls `release()`.

    `await gate.wait_reached()` returns once the server is actually holding, so a test can act
    "while the stream is under way" without guessing with sleeps.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self._reached = threading.Event()

    def release(self) -> None:
        self._open.set()

    @property
    def released(self) -> bool:
        return self._open.is_set()

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    async def wait_reached(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not self._reached.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake server never reached this gate")
            await asyncio.sleep(POLL)

    async def hold(self, request: Request | None = None) -> None:
        """Server side: wait until released (or the client went away)."""
        self._reached.set()
        while not self._open.is_set():
            if request is not None and await _disconnected(request):
                return
            await asyncio.sleep(POLL)


async def _disconnected(request: Request) -> bool:
    try:
        return await request.is_disconnected()
    except Exception:  # the connection is already gone
        return True


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), f"request body is not a JSON object: {self.body!r}"
        return self.body


@dataclass
class Failing:
    """An error answer (the vendor's own error body) instead of a stream."""

    status: int
    message: str = ""
    retry_after: float | None = None
    hold: Gate | None = None  # wait on this gate before answering


@dataclass
class ScriptCommon:
    chunk_delay: float = 0.0  # seconds between streamed events
    hold: Gate | None = None  # stall at `hold_after` until released
    hold_after: int = 0  # content chunks sent before holding; 0 = before anything, even headers
    drop_after: int | None = None  # cut the connection after this many content chunks
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def split_text(text: str | list[str]) -> list[str]:
    """A string streams word by word (keeping spaces), a list streams as given."""
    if isinstance(text, list):
        return [t for t in text if t]
    pieces: list[str] = []
    word = ""
    for ch in text:
        word += ch
        if ch == " ":
            pieces.append(word)
            word = ""
    if word:
        pieces.append(word)
    return pieces


class StreamAborted(Exception):
    """Raised inside a streaming body to make uvicorn cut the connection mid-response."""


class ThreadedUvicorn:
    """Any ASGI app served by uvicorn on 127.0.0.1 (a free port) from a thread of its own; `options`
    go to uvicorn.Config (e.g. ssl_certfile and ssl_keyfile for HTTPS)."""

    def __init__(self, app: Any, *, name: str = "server", lifespan: str = "off", **options: Any) -> None:
        self.app = app
        self.name = name
        self.lifespan = lifespan
        self.options = options
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Bind the socket ourselves: the port is known before the server runs and nobody can take
        # it in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan=self.lifespan, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2, **self.options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


class FakeVendorServer:
    """Base of the OpenAI and Anthropic fakes. Subclasses build the routes and the wire format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Any] = deque()
        self._requests: list[RecordedRequest] = []
        self._gates: list[Gate] = []
        self.api_key: str | None = None  # when set, requests without it get a 401
        self._http: ThreadedUvicorn | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def start(self) -> None:
        self._http = ThreadedUvicorn(Starlette(routes=self.routes()), name=type(self).__name__)
        self._http.start()
        self.port = self._http.port

    def stop(self) -> None:
        self.release_all()
        if self._http is not None:
            self._http.stop()

    def reset(self) -> None:
        """Forget scripts, requests and the API key (between tests sharing one server)."""
        self.release_all()
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._gates.clear()
        self.api_key = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------------------------
    def gate(self) -> Gate:
        """A gate released automatically when the test ends (so the server never hangs)."""
        g = Gate()
        with self._lock:
            self._gates.append(g)
        return g

    def release_all(self) -> None:
        with self._lock:
            gates = list(self._gates)
        for g in gates:
            g.release()

    def enqueue(self, script: Any) -> Any:
        with self._lock:
            self._queue.append(script)
        if getattr(script, "hold", None) is not None:
            with self._lock:
                self._gates.append(script.hold)
        return script

    def fail(self, status: int, times: int = 1, *, message: str = "", retry_after: float | None = None,
             hold: Gate | None = None) -> None:
        """The next `times` requests get an error with this status and the vendor's error body."""
        for _ in range(times):
            self.enqueue(Failing(status, message, retry_after, hold))

    @property
    def pending(self) -> int:
        """Scripted responses not yet consumed."""
        with self._lock:
            return len(self._queue)

    def _next(self) -> Any | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    # -- recording -----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        reqs = self.requests
        assert reqs, "the fake server received no request"
        return reqs[-1]

    async def wait_for_requests(self, n: int = 1, within: float = 10.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + within
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} request(s), the fake server got {len(self.requests)}")
            await asyncio.sleep(POLL)
        return self.requests

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        rec = RecordedRequest(request.method, request.url.path, {k.lower(): v for k, v in request.headers.items()},
                              body)
        with self._lock:
            self._requests.append(rec)
        return rec

    # -- streaming helpers ---------------------------------------------------------------------
    async def stream_events(self, request: Request, script: ScriptCommon,
                            events: list[tuple[str, bool]],
                            headers: dict[str, str] | None = None) -> Response:
        """Send pre-encoded SSE events; the bool marks content chunks (the ones `hold_after` and
        `drop_after` count)."""
        if script.hold is not None and script.hold_after == 0:
            await script.hold.hold(request)

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            for i, (event, is_content) in enumerate(events):
                if is_content:
                    if script.drop_after is not None and sent >= script.drop_after:
                        raise StreamAborted("scripted connection drop")
                    if script.hold is not None and script.hold_after and sent == script.hold_after:
                        await script.hold.hold()
                    sent += 1
                if i and script.chunk_delay:
                    await asyncio.sleep(script.chunk_delay)
                yield event.encode()

        return StreamingResponse(body(), status_code=script.status, media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", **(headers or {}), **script.headers})

    async def answer_failure(self, request: Request, failing: Failing,
                             body: Callable[[int, str], dict[str, Any]]) -> Response:
        if failing.hold is not None:
            await failing.hold.hold(request)
        headers = {}
        if failing.retry_after is not None:
            headers["retry-after"] = f"{failing.retry_after:g}"
        return JSONResponse(body(failing.status, failing.message), status_code=failing.status, headers=headers)
