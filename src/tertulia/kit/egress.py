"""The one way out to addresses a tenant chooses: an assistant's `base_url`, its MCP servers, an
`api` channel's outbound URL.

Left alone, a tenant could point those at 127.0.0.1 (our Redis and PostgreSQL), the private
network or the cloud's metadata service (169.254.169.254) and have the server call them.
`fenced_client()` is an httpx2 client whose connections are checked where they are made: the host
is resolved, every address it resolves to is checked, and the socket is opened to a checked
address (TLS SNI and the Host header keep the name), so a name that resolves elsewhere between a
check and the connection (DNS rebinding) gains nothing. Every redirect hop opens its connection
through the same check. Loopback, private, link-local, shared (CGNAT), multicast, unspecified,
reserved and metadata addresses are refused, also in their IPv6 forms (IPv4-mapped, -compatible,
NAT64, 6to4), unless the operator allows them with `TERTULIA_EGRESS_ALLOW`; with
`TERTULIA_EGRESS_PUBLIC=false` (test runs, closed installations) public addresses are refused too.
Every answer is bounded in time (connect, each read, the whole exchange) and in size (decoded).

`trusted_client()` is the same client without the address check, for URLs the operator configured
(`TERTULIA_*_URL` settings): never give it a URL a tenant can set. `check_url()` tells, when a URL
is saved, why it would be refused (a 422 `url_not_allowed`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

import anyio
import httpcore2
import httpx2
import structlog

from tertulia.kit.errors import Invalid

if TYPE_CHECKING:
    from tertulia.config import Settings

log = structlog.get_logger("tertulia.egress")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
SAVE_CHECK_SECONDS = 5.0  # how long a save waits for DNS before leaving the check to the connection

ALLOW_HINT = "ask the operator to allow it with TERTULIA_EGRESS_ALLOW"
METADATA = "the cloud metadata service"
_METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254",  # AWS, GCP, Azure, OpenStack...; AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))
_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple((ipaddress.ip_network(net), kind) for net, kind in (
    ("127.0.0.0/8", "a loopback address"), ("::1/128", "a loopback address"),
    ("0.0.0.0/8", "an unspecified address"), ("::/128", "an unspecified address"),
    ("10.0.0.0/8", "a private network address"), ("172.16.0.0/12", "a private network address"),
    ("192.168.0.0/16", "a private network address"), ("fc00::/7", "a private network address"),
    ("169.254.0.0/16", "a link-local address"), ("fe80::/10", "a link-local address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("224.0.0.0/4", "a multicast address"), ("ff00::/8", "a multicast address"),
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}"
                        r"[a-z0-9_])?)*\.?$")


# -- what is refused ---------------------------------------------------------------------------------

def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (or names) through a translation mechanism."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_kind(address: IPAddress) -> str | None:
    """What a non-public address is ("a private network address"...), or None for a public one."""
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    for candidate in (inner, ipaddress.ip_address(address.packed)):  # the latter without an IPv6 scope (%eth0)
        if candidate is None:
            continue
        if candidate in _METADATA_ADDRESSES:
            return METADATA
        for network, kind in _RANGES:
            if candidate in network:
                return kind
        if not candidate.is_global:
            return "a reserved address (documentation, benchmarking or future use)"
    return None


@dataclass(frozen=True)
class AllowRule:
    """One entry of TERTULIA_EGRESS_ALLOW: a host name or a network, on any port or on one."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, raw: str) -> AllowRule:
        entry, port = raw.strip().lower(), None
        if entry.startswith("["):  # [IPv6] or [IPv6]:port
            entry, _, rest = entry[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), raw)
        elif entry.count(":") == 1:  # host:port or address:port (a bare IPv6 address has several)
            entry, _, port_text = entry.partition(":")
            port = _port(port_text, raw)
        try:
            return cls(network=ipaddress.ip_network(entry, strict=False), port=port)
        except ValueError:
            pass
        if _HOST_NAME.match(entry) and not entry.replace(".", "").isdigit():
            return cls(host=entry.rstrip("."), port=port)
        raise ValueError(f"'{raw.strip()}' in TERTULIA_EGRESS_ALLOW is not a host name, an address or a network "
                         "(e.g. ollama.lan, 192.168.1.20, 10.0.0.0/8, 127.0.0.1:11434)")

    def admits(self, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        assert self.network is not None
        if address is None:
            return False
        # An IPv4-mapped IPv6 address reaches the IPv4 one: an allowed network allows both forms.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return address in self.network or (mapped is not None and mapped in self.network)


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"'{raw.strip()}' in TERTULIA_EGRESS_ALLOW has no valid port after ':'")
    return int(text)


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses tenant-chosen URLs may reach: public ones (unless `public` is off) and the
    operator's allowlist."""

    allow: tuple[AllowRule, ...] = ()
    public: bool = True

    @classmethod
    def parse(cls, allow: str, *, public: bool = True) -> EgressPolicy:
        return cls(tuple(AllowRule.parse(e) for e in allow.split(",") if e.strip()), public)

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        return cls.parse(settings.egress_allow, public=settings.egress_public)

    def admits_name(self, host: str, port: int) -> bool:
        """An allowlisted host name is trusted whatever it resolves to."""
        return any(rule.admits(host, None, port) for rule in self.allow if rule.host is not None)

    def refusal(self, host: str, address: IPAddress, port: int) -> str | None:
        """Why `host` at `address` may not be reached (a sentence for people), or None."""
        if any(rule.admits(host, address, port) for rule in self.allow):
            return None
        kind = address_kind(address) or (None if self.public else "a public address")
        if kind is None:
            return None
        said = f"{host} is {kind}" if _literal(host) == address else f"{host} points to {kind} ({address})"
        if kind == "a public address":
            return f"{said} and this installation reaches only TERTULIA_EGRESS_ALLOW (TERTULIA_EGRESS_PUBLIC is false)"
        return f"{said}; {ALLOW_HINT}"


# The installed policy (the app's, from its settings) or, outside an app, the environment's.
_installed: EgressPolicy | None = None


@cache
def _environment_policy() -> EgressPolicy:
    from tertulia.config import get_settings

    return EgressPolicy.from_settings(get_settings())


def current_policy() -> EgressPolicy:
    return _installed if _installed is not None else _environment_policy()


@asynccontextmanager
async def egress_lifespan(app: Any) -> AsyncIterator[None]:
    """Lifespan hook: the app's settings decide what tenant-chosen URLs may reach."""
    global _installed
    before, _installed = _installed, EgressPolicy.from_settings(app.state.settings)
    try:
        yield
    finally:
        _installed = before  # another app of this process (a test's) keeps its own


# -- errors ------------------------------------------------------------------------------------------

class EgressError(httpx2.TransportError):
    """A request the fence stopped. A transport error, so that code handling network failures
    handles it too; never worth retrying."""

    code = "egress_refused"


class EgressRefused(EgressError):
    code = "url_not_allowed"


class ResponseTooLarge(EgressError):
    code = "response_too_large"


class UrlNotAllowed(Invalid):
    code = "url_not_allowed"


def find_egress_error(exc: BaseException | None) -> EgressError | None:
    """The fence's error behind `exc`, however an SDK wrapped it (causes, exception groups)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, EgressError):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend((current.__cause__, current.__context__))
    return None


# -- resolution and the check ------------------------------------------------------------------------

async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order (tests replace this function)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _refusal_of(policy: EgressPolicy, host: str, addresses: Iterable[IPAddress], port: int) -> str | None:
    if policy.admits_name(host, port):
        return None
    for address in addresses:
        reason = policy.refusal(host, address, port)
        if reason is not None:
            return reason
    return None


class _CheckedBackend(httpcore2.AsyncNetworkBackend):
    """Opens every connection to an address the policy admits, after checking all of the host's."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's API)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        name = host.lower().rstrip(".")
        deadline = anyio.current_time() + (timeout if timeout is not None else 30.0)
        literal = _literal(name)
        if literal is not None:
            addresses = [literal]
        else:
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                try:
                    addresses = await resolve(name, port)
                except OSError as exc:
                    raise httpcore2.ConnectError(f"could not resolve {name}: {exc}") from exc
            if scope.cancelled_caught:
                raise httpcore2.ConnectTimeout(f"could not resolve {name} in time")
        reason = _refusal_of(self._policy, name, addresses, port)
        if reason is not None:
            log.warning("egress_refused", action="egress_refused", host=name, port=port,
                        addresses=[str(a) for a in addresses], reason=reason)
            raise EgressRefused(reason)
        last: Exception = httpcore2.ConnectError(f"{name} resolved to no address")
        for address in addresses:
            try:
                left = max(0.0, deadline - anyio.current_time())
                return await self._inner.connect_tcp(str(address), port, timeout=left, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore2.AsyncNetworkStream:
        raise EgressRefused("a Unix socket is not a place tenant-chosen URLs may reach")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def check_url(url: str, *, what: str = "the URL", policy: EgressPolicy | None = None) -> None:
    """UrlNotAllowed (422) when `url` is not http(s) with a host, or its host is (or resolves to) an
    address the policy refuses. A name that does not resolve now passes: every connection is
    checked again when it is made."""
    try:
        parts = check_url_form(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlNotAllowed(f"{what} is not allowed: {exc}") from exc
    chosen = policy or current_policy()
    host = (parts.hostname or "").rstrip(".")
    literal = _literal(host)
    addresses: list[IPAddress] = []
    if literal is not None:
        addresses = [literal]
    elif not chosen.admits_name(host, port):
        try:
            async with asyncio.timeout(SAVE_CHECK_SECONDS):
                addresses = await resolve(host, port)
        except (OSError, TimeoutError):
            return
    reason = _refusal_of(chosen, host, addresses, port)
    if reason is not None:
        raise UrlNotAllowed(f"{what} is not allowed: {reason}")


def check_url_form(url: str) -> SplitResult:
    """The URL's parts when it is http(s) with a host and no user:password; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("use an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and traces; the key and headers fields are encrypted.
        raise ValueError("put credentials in the API key or headers, not in the URL")
    try:
        parts.port  # noqa: B018 -- parsed on access
    except ValueError as exc:
        raise ValueError("the port must be a number from 1 to 65535") from exc
    return parts


# -- the transport -----------------------------------------------------------------------------------

class _BoundedStream(httpx2.AsyncByteStream):
    """The response body, decoded here (gzip/deflate) so the size limit counts what the caller
    gets, and cut off at the overall deadline."""

    def __init__(self, inner: httpx2.AsyncByteStream, request: httpx2.Request, decoder: Any, limit: int,
                 deadline: float, total: float) -> None:
        self._inner, self._request, self._decoder = inner, request, decoder
        self._limit, self._deadline, self._total = limit, deadline, total

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        chunks = self._inner.__aiter__()
        while True:
            with anyio.move_on_after(self._deadline - anyio.current_time()) as scope:
                try:
                    raw = await chunks.__anext__()
                except StopAsyncIteration:
                    raw = None
            if scope.cancelled_caught:
                raise httpx2.ReadTimeout(f"the answer did not complete within {self._total:g} s",
                                         request=self._request)
            if raw is None:
                break
            chunk = self._decode(raw, seen)
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(f"the answer is larger than {self._limit:,} bytes", request=self._request)
            yield chunk
        if self._decoder is not None:
            tail = self._decoder.flush()
            if seen + len(tail) > self._limit:
                raise ResponseTooLarge(f"the answer is larger than {self._limit:,} bytes", request=self._request)
            if tail:
                yield tail

    def _decode(self, raw: bytes, seen: int) -> bytes:
        if self._decoder is None:
            return raw
        try:
            # Never inflate more than one byte past the limit: a small gzip bomb stays small.
            decoded: bytes = self._decoder.decompress(raw, max(1, self._limit - seen + 1))
            return decoded
        except zlib.error as exc:
            raise httpx2.DecodingError(f"the answer's compression is broken: {exc}", request=self._request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


@cache
def _ssl_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # Loading the CA bundle takes ~17 ms: done once per process (and per SSL_CERT_FILE/DIR, which
    # httpx2 reads), not for every client.
    return httpx2.create_ssl_context()


class _EgressTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, policy: EgressPolicy | None, *, max_response_bytes: int, total_timeout: float) -> None:
        context = _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        super().__init__(verify=context)
        if policy is not None:
            # httpx2 takes no network backend of its own; its connection pool is built again with
            # ours, the same way AsyncHTTPTransport builds it.
            self._pool = httpcore2.AsyncConnectionPool(
                ssl_context=context, max_connections=100,
                max_keepalive_connections=20, keepalive_expiry=5.0, network_backend=_CheckedBackend(policy))
        self._limit = max_response_bytes
        self._total = total_timeout

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme not in ("http", "https"):
            raise EgressRefused(f"{request.url.scheme}:// is not a scheme tenant-chosen URLs may use", request=request)
        # Only encodings this transport decodes (and so can bound) are offered.
        request.headers["accept-encoding"] = "gzip, deflate"
        deadline = anyio.current_time() + self._total
        response: httpx2.Response | None = None
        with anyio.move_on_after(self._total):
            response = await super().handle_async_request(request)
        if response is None:
            raise httpx2.ReadTimeout(f"no answer within {self._total:g} s", request=request)
        headers = response.headers.copy()
        encoding = headers.get("content-encoding", "identity").strip().lower()
        decoder = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, told apart by zlib
            del headers["content-encoding"]
            headers.pop("content-length", None)
        elif encoding != "identity":
            await response.aclose()
            raise httpx2.DecodingError(f"the answer is encoded as '{encoding}', which was not asked for",
                                       request=request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        stream = _BoundedStream(response.stream, request, decoder, self._limit, deadline, self._total)
        return httpx2.Response(response.status_code, headers=headers, stream=stream, extensions=response.extensions)


def _client(policy: EgressPolicy | None, *, headers: dict[str, str] | None, timeout: float, connect_timeout: float,
            total_timeout: float, max_response_bytes: int) -> httpx2.AsyncClient:
    transport = _EgressTransport(policy, max_response_bytes=max_response_bytes, total_timeout=total_timeout)
    # trust_env off: no proxy or netrc from the environment (a proxy would be the one connection
    # checked, not the host behind it).
    return httpx2.AsyncClient(transport=transport, headers=headers, trust_env=False, follow_redirects=True,
                              max_redirects=5, timeout=httpx2.Timeout(timeout, connect=connect_timeout))


def fenced_client(*, headers: dict[str, str] | None = None, timeout: float = 30.0, connect_timeout: float = 10.0,
                  total_timeout: float = 300.0, max_response_bytes: int = MAX_RESPONSE_BYTES,
                  policy: EgressPolicy | None = None) -> httpx2.AsyncClient:
    """An httpx2 client for URLs a tenant chose. `timeout` bounds each read and write,
    `total_timeout` the whole exchange (a streamed body included). Use it as a context manager."""
    return _client(policy or current_policy(), headers=headers, timeout=timeout, connect_timeout=connect_timeout,
                   total_timeout=total_timeout, max_response_bytes=max_response_bytes)


def trusted_client(*, headers: dict[str, str] | None = None, timeout: float = 30.0, connect_timeout: float = 10.0,
                   total_timeout: float = 300.0, max_response_bytes: int = MAX_RESPONSE_BYTES) -> httpx2.AsyncClient:
    """An httpx2 client for URLs the operator configured (`TERTULIA_*_URL` settings), which may be
    on a private network. The same bounds as `fenced_client`, without the address check: never use
    it for a URL a tenant can set."""
    return _client(None, headers=headers, timeout=timeout, connect_timeout=connect_timeout,
                   total_timeout=total_timeout, max_response_bytes=max_response_bytes)
