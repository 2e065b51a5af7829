"""Wires the sandbox into one ASGI app and runs it: in a thread of the calling process (tests, the
demo) or as a process of its own (`tertulia sandbox`, `python -m tertulia.sandbox`).

One app serves everything, as separate hosts would in production:
- `/v2/...`: YCloud's API v2;
- `/vNN.N/...` (any version): Meta's Graph API; `/whatsapp_business/attachments/`: its media URLs;
- `/_cdn/...`: Messenger/Instagram attachment and profile-picture URLs;
- `/_sandbox/...`: the control API; `/phone`: the customer phone page.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tertulia.sandbox import control, phone
from tertulia.sandbox.meta import GraphApi
from tertulia.sandbox.state import SandboxError, SandboxState
from tertulia.sandbox.templates import default_templates
from tertulia.sandbox.traffic import SandboxConfig, Traffic
from tertulia.sandbox.webhooks import RetryPolicy
from tertulia.sandbox.wire import QuietDrops
from tertulia.sandbox.ycloud import YCloudApi

log = logging.getLogger("tertulia.sandbox")


class Sandbox:
    """The state, the webhook traffic and the app that serves both providers' APIs."""

    def __init__(self, config: SandboxConfig | None = None, state: SandboxState | None = None) -> None:
        self.config = config or SandboxConfig()
        self.state = state or SandboxState()
        self.traffic = Traffic(self.state, self.config)
        self.graph = GraphApi(self.state, self.traffic)
        self.ycloud = YCloudApi(self.state, self.traffic)
        self.app = self._build_app()

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            yield
            await self.traffic.close()

        app = FastAPI(title="Tertulia provider sandbox", lifespan=lifespan, docs_url="/_sandbox/docs",
                      redoc_url=None, openapi_url="/_sandbox/openapi.json")
        app.add_exception_handler(SandboxError, control.sandbox_error_handler)
        app.include_router(control.build_router(self.state, self.traffic))
        app.include_router(control.cdn_routes(self.state))
        app.include_router(phone.build_router())

        @app.get("/", include_in_schema=False)
        async def root() -> Response:
            return RedirectResponse("/phone")

        @app.get("/whatsapp_business/attachments/", include_in_schema=False)
        async def media_download(request: Request) -> Response:
            return await self.graph.download(request)

        @app.api_route("/v2/{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
        async def ycloud(request: Request) -> Response:
            return await self.ycloud.handle(request)

        @app.api_route("/{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
        async def graph(request: Request) -> Response:
            return await self.graph.handle(request)

        return app


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _quiet_logs() -> None:
    logging.getLogger("uvicorn.error").addFilter(QuietDrops())


class SandboxServer:
    """The sandbox on 127.0.0.1 (a free port unless given) in a thread of its own, so that it keeps
    answering whatever the caller's event loop is doing, like the remote APIs it stands in for.

        server = SandboxServer(SandboxConfig(auto_status=False)).start()
        server.graph_url  # give to TERTULIA_META_GRAPH_URL
        server.ycloud_url  # give to TERTULIA_YCLOUD_API_URL
        ...
        server.stop()
    """

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = Sandbox(config)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/{self.sandbox.config.graph_version}"

    @property
    def ycloud_url(self) -> str:
        return f"{self.url}/v2"

    def start(self, within: float = 10.0) -> SandboxServer:
        sock = _bind(self.host, self.port)  # bound here: the port is known before the server runs
        self.port = sock.getsockname()[1]
        self.sandbox.traffic.base_url = self.url
        _quiet_logs()
        config = uvicorn.Config(self.sandbox.app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        self._wait_ready(within)
        return self

    def _wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        assert self._server is not None and self._thread is not None
        while True:
            if self._server.started:
                try:
                    if httpx2.get(f"{self.url}/_sandbox/health", timeout=1).status_code == 200:
                        return
                except httpx2.HTTPError:
                    pass
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the provider sandbox did not start")
            time.sleep(0.01)

    def wait_idle(self, within: float = 10.0) -> None:
        """Wait until no webhook delivery or scheduled status is under way (e.g. between tests)."""
        deadline = time.monotonic() + within
        while self.sandbox.traffic.pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.sandbox.traffic.pending} sandbox deliveries still under way")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(host: str = "127.0.0.1", port: int = 8090, *, public_url: str | None = None,
         webhook_url: str | None = None, auto_status: bool = True, auto_read_after: float | None = None,
         enforce_window: bool = True, retry_attempts: int = 5, channels: Sequence[dict[str, Any]] = ()) -> None:
    """Run the sandbox in this process until interrupted (the body of `tertulia sandbox`).

    With `webhook_url`, a WhatsApp Cloud channel is registered at start whose webhooks go there; its
    ids and secrets are printed so that the same channel can be created in Tertulia. `channels`:
    registrations (`POST /_sandbox/channels` bodies) of channels Tertulia already has, such as the
    demo's (`tertulia sandbox --demo`).
    """
    config = SandboxConfig(auto_status=auto_status, auto_read_after=auto_read_after, enforce_window=enforce_window,
                           retry=RetryPolicy(attempts=retry_attempts))
    sandbox = Sandbox(config)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    sandbox.traffic.base_url = (public_url or f"http://{shown}:{bound}").rstrip("/")
    if webhook_url:
        channel, credentials = control.build_channel(control.ChannelIn(kind="whatsapp_cloud", webhook_url=webhook_url),
                                                     config.app_id)
        sandbox.state.add_channel(channel)
        sandbox.state.templates[channel.waba_id or ""] = default_templates()
        print("WhatsApp Cloud channel:", credentials, flush=True)
    for registration in channels:
        channel, _ = control.build_channel(control.ChannelIn(**registration), config.app_id)
        sandbox.state.add_channel(channel)
        if channel.waba_id:
            sandbox.state.templates.setdefault(channel.waba_id, default_templates())
        print(f"{channel.kind} channel {channel.key}: webhooks to {channel.webhook_url}", flush=True)
    base = sandbox.traffic.base_url
    print(f"provider sandbox on {base}", flush=True)
    print(f"  Graph API:  {base}/{config.graph_version}   (TERTULIA_META_GRAPH_URL)", flush=True)
    print(f"  YCloud API: {base}/v2      (TERTULIA_YCLOUD_API_URL)", flush=True)
    print(f"  customer phone: {base}/phone   control API: {base}/_sandbox/docs", flush=True)
    _quiet_logs()
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="info", timeout_graceful_shutdown=2))
    asyncio.run(server.serve(sockets=[sock]))
