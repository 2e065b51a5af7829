"""The egress fence (kit/egress.py) with real HTTP on 127.0.0.1: what it refuses, what the
operator's allowlist lets through, redirects, size and time bounds, DNS rebinding and TLS by name.

Refused requests never leave the machine: the fence stops them before a socket is opened, and the
local servers' request logs show it."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import structlog
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tertulia.kit import egress
from tertulia.kit.egress import EgressPolicy, EgressRefused, ResponseTooLarge, UrlNotAllowed, fenced_client
from tests.fakes.harness import Gate, ThreadedUvicorn

NOTHING_ALLOWED = EgressPolicy()


class Origin:
    """A small HTTP server that records who reached it."""

    def __init__(self, **options: Any) -> None:
        self.seen: list[tuple[str, str]] = []  # (path, Host header)
        self.gate = Gate()
        app = Starlette(routes=[Route(path, handler) for path, handler in (
            ("/ok", self.ok), ("/redirect", self.redirect), ("/big", self.big), ("/bomb", self.bomb),
            ("/slow", self.slow), ("/trickle", self.trickle))])
        self.server = ThreadedUvicorn(app, name="egress-origin", **options)

    def start(self) -> Origin:
        self.server.start()
        return self

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, path: str = "/ok", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def _record(self, request: Request) -> None:
        self.seen.append((request.url.path, request.headers.get("host", "")))

    async def ok(self, request: Request) -> Response:
        self._record(request)
        return PlainTextResponse("hola")

    async def redirect(self, request: Request) -> Response:
        self._record(request)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def big(self, request: Request) -> Response:
        self._record(request)
        size = int(request.query_params["n"])

        async def body() -> AsyncIterator[bytes]:
            for start in range(0, size, 64 * 1024):
                yield b"x" * min(64 * 1024, size - start)

        return StreamingResponse(body(), media_type="application/octet-stream")

    async def bomb(self, request: Request) -> Response:
        self._record(request)
        size = int(request.query_params["n"])
        return Response(gzip.compress(b"\0" * size), headers={"content-encoding": "gzip"},
                        media_type="application/octet-stream")

    async def slow(self, request: Request) -> Response:
        self._record(request)
        await self.gate.hold(request)  # until the test ends, or the client gives up
        return PlainTextResponse("tarde")

    async def trickle(self, request: Request) -> Response:
        self._record(request)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(400):  # 20 s at most, a byte every 50 ms
                if self.gate.released:
                    return
                yield b"."
                await asyncio.sleep(0.05)

        return StreamingResponse(body(), media_type="text/plain")

    def stop(self) -> None:
        self.gate.release()
        self.server.stop()


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other_origin() -> Iterator[Origin]:
    server = Origin().start()
    yield server
    server.stop()


def only(port: int) -> EgressPolicy:
    return EgressPolicy.parse(f"127.0.0.1:{port}", public=False)


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.2", "is a loopback address"),
    ("10.0.0.5", "is a private network address"),
    ("172.16.3.4", "is a private network address"),
    ("192.168.1.20", "is a private network address"),
    ("169.254.169.254", "is the cloud metadata service"),
    ("169.254.1.1", "is a link-local address"),
    ("100.64.0.1", "is a shared (carrier-grade NAT) address"),
    ("0.0.0.0", "is an unspecified address"),
    ("224.0.0.1", "is a multicast address"),
    ("198.18.0.1", "is a reserved address"),
    ("[::1]", "is a loopback address"),
    ("[::]", "is an unspecified address"),
    ("[fc00::1]", "is a private network address"),
    ("[fe80::1]", "is a link-local address"),
    ("[fd00:ec2::254]", "is the cloud metadata service"),
    ("[::ffff:127.0.0.1]", "is a loopback address"),
    ("[::ffff:169.254.169.254]", "is the cloud metadata service"),
    ("[::127.0.0.1]", "is a loopback address"),  # IPv4-compatible
    ("[64:ff9b::a9fe:a9fe]", "is the cloud metadata service"),  # NAT64 of 169.254.169.254
    ("[2002:a00:5::1]", "is a private network address"),  # 6to4 of 10.0.0.5
])
async def test_non_public_addresses_are_refused_before_connecting(host: str, kind: str) -> None:
    url = f"http://{host}:8080/v1"
    with pytest.raises(UrlNotAllowed) as saved:
        await egress.check_url(url, what="base_url", policy=NOTHING_ALLOWED)
    assert saved.value.code == "url_not_allowed" and saved.value.status_code == 422
    assert kind in saved.value.message and "TERTULIA_EGRESS_ALLOW" in saved.value.message

    with structlog.testing.capture_logs() as logs:
        async with fenced_client(policy=NOTHING_ALLOWED, connect_timeout=2) as http:
            with pytest.raises(EgressRefused) as used:
                await http.get(url)
    assert kind in str(used.value)
    assert [e for e in logs if e.get("action") == "egress_refused" and kind in e["reason"]]


async def test_the_server_itself_and_names_for_it_are_refused(origin: Origin) -> None:
    async with fenced_client(policy=NOTHING_ALLOWED) as http:
        for url in (origin.url(), origin.url(host="localhost"), origin.url(host="2130706433")):
            with pytest.raises(EgressRefused, match=r"loopback address.*TERTULIA_EGRESS_ALLOW"):
                await http.get(url)
    with pytest.raises(UrlNotAllowed, match=r"localhost points to a loopback address \(127\.0\.0\.1\)"):
        await egress.check_url(origin.url(host="localhost"), policy=NOTHING_ALLOWED)
    assert origin.seen == []


async def test_the_allowlist_lets_chosen_hosts_through(origin: Origin, other_origin: Origin) -> None:
    async with fenced_client(policy=only(origin.port)) as http:
        r = await http.get(origin.url())
        assert (r.status_code, r.text) == (200, "hola")
        # The rule names a port: the same address on another port (our Redis, say) stays closed.
        with pytest.raises(EgressRefused, match="loopback"):
            await http.get(other_origin.url())
    async with fenced_client(policy=EgressPolicy.parse("localhost", public=False)) as http:
        r = await http.get(origin.url(host="localhost"))
        assert r.status_code == 200
    await egress.check_url(origin.url(), policy=only(origin.port))
    assert origin.seen[-2:] == [("/ok", f"127.0.0.1:{origin.port}"), ("/ok", f"localhost:{origin.port}")]
    assert other_origin.seen == []


async def test_public_addresses_are_refused_when_the_operator_says_so(fake_dns: dict[str, list[list[str]]]) -> None:
    fake_dns["api.vendor.test"] = [["8.8.8.8"]]
    closed = EgressPolicy.parse("127.0.0.1", public=False)
    with pytest.raises(UrlNotAllowed, match=r"public address \(8\.8\.8\.8\).*TERTULIA_EGRESS_PUBLIC is false"):
        await egress.check_url("https://api.vendor.test/v1", policy=closed)
    async with fenced_client(policy=closed) as http:
        with pytest.raises(EgressRefused, match="public address"):
            await http.get("https://api.vendor.test/v1/models")
        with pytest.raises(EgressRefused, match=r"1\.1\.1\.1 is a public address"):
            await http.get("http://1.1.1.1/")


async def test_every_redirect_hop_is_checked(origin: Origin, other_origin: Origin) -> None:
    async with fenced_client(policy=only(origin.port)) as http:
        r = await http.get(origin.url(f"/redirect?to={origin.url()}"))
        assert (r.status_code, r.text) == (200, "hola")
        for target in (other_origin.url(), "http://169.254.169.254/latest/meta-data/", "http://[::1]:6379/"):
            with pytest.raises(EgressRefused):
                await http.get(origin.url(f"/redirect?to={target}"))
    assert other_origin.seen == []


async def test_answers_are_bounded_in_size_also_when_compressed(origin: Origin) -> None:
    limit = 1024 * 1024
    async with fenced_client(policy=only(origin.port), max_response_bytes=limit) as http:
        r = await http.get(origin.url(f"/big?n={limit}"))
        assert len(r.content) == limit
        with pytest.raises(ResponseTooLarge, match="larger than 1,048,576 bytes"):
            await http.get(origin.url(f"/big?n={limit + 1}"))
        small = await http.get(origin.url("/bomb?n=1000"))
        assert small.content == b"\0" * 1000 and "content-encoding" not in small.headers
        # 50 MB of zeros is ~50 KB of gzip: it is the decoded size that counts.
        with pytest.raises(ResponseTooLarge):
            await http.get(origin.url(f"/bomb?n={50 * 1024 * 1024}"))


async def test_a_slow_server_runs_out_of_time(origin: Origin) -> None:
    async with fenced_client(policy=only(origin.port), timeout=10, total_timeout=0.5) as http:
        for path in ("/slow", "/trickle"):  # no answer at all; an answer that never ends
            started = time.monotonic()
            with pytest.raises(httpx2.TimeoutException, match=r"within 0\.5 s"):
                await http.get(origin.url(path))
            assert time.monotonic() - started < 5


async def test_dns_rebinding_is_refused_where_the_connection_is_made(origin: Origin,
                                                                     fake_dns: dict[str, list[list[str]]]) -> None:
    policy = EgressPolicy.parse("127.0.0.1", public=False)
    fake_dns["model.rebind.test"] = [["127.0.0.1"], ["127.0.0.1"], ["10.0.0.5"]]
    url = origin.url(host="model.rebind.test")
    await egress.check_url(url, policy=policy)  # saved while it resolves to an allowed address
    async with fenced_client(policy=policy) as http:
        r = await http.get(url)  # connected to the checked address, with the name in Host
        assert r.status_code == 200 and origin.seen[-1] == ("/ok", f"model.rebind.test:{origin.port}")
    async with fenced_client(policy=policy) as http:
        with pytest.raises(EgressRefused, match=r"model\.rebind\.test points to a private network address"):
            await http.get(url)
    # One bad address among good ones is enough to refuse: the connection could go to any of them.
    fake_dns["mixed.rebind.test"] = [["127.0.0.1", "169.254.169.254"]]
    with pytest.raises(UrlNotAllowed, match="cloud metadata"):
        await egress.check_url(origin.url(host="mixed.rebind.test"), policy=policy)


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Origin, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("vendor.test")
    folder = tmp_path_factory.mktemp("tls")
    key_file, cert_file, ca_file = folder / "key.pem", folder / "cert.pem", folder / "ca.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    ca.cert_pem.write_to_path(str(ca_file))
    server = Origin(ssl_keyfile=str(key_file), ssl_certfile=str(cert_file)).start()
    yield server, ca_file
    server.stop()


async def test_tls_is_verified_for_the_name_while_connecting_to_the_checked_address(
        tls_origin: tuple[Origin, Path], fake_dns: dict[str, list[list[str]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, ca_file = tls_origin
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # trust the test CA (read when a client is built)
    fake_dns["vendor.test"] = [["127.0.0.1"]]
    async with fenced_client(policy=EgressPolicy.parse("127.0.0.1", public=False)) as http:
        r = await http.get(server.url(host="vendor.test", scheme="https"))
        assert (r.status_code, r.text) == (200, "hola")
        assert server.seen[-1] == ("/ok", f"vendor.test:{server.port}")
        # The certificate names vendor.test: the bare address does not match it.
        with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(server.url(scheme="https"))


async def test_only_http_and_https_urls_without_credentials_can_be_saved() -> None:
    for url, why in (("ftp://files.example.test/x", "http:// or https://"), ("http:///v1", "no host"),
                     ("https://user:secret@api.example.test/v1", "credentials"),
                     ("http://api.example.test:99999/", "port")):
        with pytest.raises(UrlNotAllowed, match=why):
            await egress.check_url(url, policy=NOTHING_ALLOWED)


def test_the_allowlist_is_read_strictly() -> None:
    policy = EgressPolicy.parse(" ollama.lan, 10.0.0.0/8 ,192.168.1.20, [::1]:11434, 127.0.0.1:8001 ")
    assert [(r.host, str(r.network) if r.network else None, r.port) for r in policy.allow] == [
        ("ollama.lan", None, None), (None, "10.0.0.0/8", None), (None, "192.168.1.20/32", None),
        (None, "::1/128", 11434), (None, "127.0.0.1/32", 8001)]
    for bad in ("ollama lan", "10.0.0.0/8:0", "127.0.0.1:http"):
        with pytest.raises(ValueError, match="TERTULIA_EGRESS_ALLOW"):
            EgressPolicy.parse(bad)


async def test_operator_configured_urls_use_the_trusted_client(origin: Origin) -> None:
    # What the operator configured (TERTULIA_*_URL) may be on a private network: no address check,
    # the same bounds.
    async with egress.trusted_client(max_response_bytes=10) as http:
        assert (await http.get(origin.url())).text == "hola"
        with pytest.raises(ResponseTooLarge):
            await http.get(origin.url("/big?n=11"))
