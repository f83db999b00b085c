"""Where a server may send requests on its callers' behalf, checked again at connect time.

The local fine-tuning API calls the URLs its callers name — a job's tool ``server_url``, an
``endpoint`` grader's ``url`` — with the headers they give. Without a policy that makes it a
request forger for anyone who can reach it: cloud metadata, an internal admin port, the tool
service with its token. :class:`OutboundPolicy` says what may be called:

- never: link-local addresses (``169.254.0.0/16`` with the cloud metadata address
  ``169.254.169.254``, ``fe80::/10``), the other providers' metadata addresses, unspecified,
  multicast and reserved ones; and only ``http``/``https``;
- with ``private_allowed=False`` (a server started with ``--allow-remote``), also loopback and
  private networks (RFC 1918, ``fc00::/7``, ``100.64.0.0/10``) — except the origins listed in
  ``allowed_origins`` (``--allow-url``). A loopback-only server for rehearsal may call loopback
  tools: the course's tool service runs there.

Odd spellings (``127.0.0.2``, ``0x7f.1``, ``[::ffff:127.0.0.1]``, a name that resolves to
loopback) are judged by what the resolver makes of them, IPv4-mapped IPv6 as its IPv4 address.
:meth:`OutboundPolicy.check_url` judges a URL up front, so a request can be refused with a 400
naming its field. The transport of :func:`async_client` judges again when it connects: it resolves
the name once, checks every address and connects to the checked one, so a name that resolves
differently between the check and the request (DNS rebinding) is refused too. Clients never
follow redirects (a public URL answering 302 to the metadata address), never use environment
proxies, and a refusal raises before any byte is sent.

The policy of the current context (:func:`applying`) reaches every client built with
:func:`async_client` in it, including those of rollouts and graders a job runs in its thread.
Readiness checks and the hosted backend's preflight can judge a URL with the same
:meth:`OutboundPolicy.check_url`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from rftkit.errors import RFTKitError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
"""Cloud metadata services: AWS/GCP/Azure, AWS over IPv6, Alibaba, ECS task metadata."""
SHARED = ipaddress.ip_network("100.64.0.0/10")
"""Carrier-grade NAT space: not ``is_private`` in Python, internal all the same."""
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(httpcore.ConnectError, RFTKitError):
    """A URL or address the policy refuses. A connect error to httpx, so clients that retry
    connection failures stop here too, without a byte sent."""


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def never_allowed(address: IPAddress) -> bool:
    address = _plain(address)
    return (
        address in METADATA
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def is_internal(address: IPAddress) -> bool:
    """Loopback or a private network: this machine or its LAN."""
    address = _plain(address)
    return address.is_loopback or address.is_private or address in SHARED


@dataclass(frozen=True)
class OutboundPolicy:
    """What a server may call; see the module docstring."""

    private_allowed: bool = True
    allowed_origins: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    """``(host, port)`` pairs callable whatever they resolve to (bar the never-allowed)."""

    @classmethod
    def for_server(cls, allow_remote: bool, allow_urls: Iterable[str] = ()) -> OutboundPolicy:
        """A loopback server may call internal addresses; one exposed with ``--allow-remote``
        only the origins of ``allow_urls``."""
        return cls(not allow_remote, frozenset(origin(url) for url in allow_urls))

    def refusal(self, host: str, port: int, addresses: Iterable[IPAddress]) -> str | None:
        """Why ``host:port``, resolved to ``addresses``, may not be called (None: it may)."""
        addresses = list(addresses)
        if not addresses:
            return f"{host} resolves to no address"
        allowed = (host.strip("[]").lower(), port) in self.allowed_origins
        for address in addresses:
            plain = _plain(address)
            if never_allowed(plain):
                return f"{host} is {plain}, a link-local, metadata or reserved address"
            if is_internal(plain) and not (self.private_allowed or allowed):
                return (
                    f"{host} is {plain}, a loopback or private address; this server calls "
                    "those only when they are allowed explicitly (--allow-url)"
                )
        return None

    def check_url(self, url: str) -> None:
        """Raise :class:`OutboundRefused` unless ``url`` may be called now (resolves its host;
        blocking)."""
        host, port = _host_port(url)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundRefused(f"{host} does not resolve") from None
        reason = self.refusal(host, port, _addresses(infos))
        if reason:
            raise OutboundRefused(reason)

    def transport(self, **options: Any) -> httpx.AsyncHTTPTransport:
        """An httpx transport whose every connection is checked by this policy."""
        transport = httpx.AsyncHTTPTransport(**options)
        pool = transport._pool  # httpx has no public hook for the network backend
        pool._network_backend = _CheckedBackend(self, pool._network_backend)
        return transport


def origin(url: str) -> tuple[str, int]:
    """``(host, port)`` of an http(s) URL, the way the policy matches allowed origins."""
    return _host_port(url)


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"not a valid URL ({exc})") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise OutboundRefused("only http:// and https:// URLs with a host are called")
    return parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[IPAddress]:
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to the checked one."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise OutboundRefused(f"{host} does not resolve") from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        addresses = _addresses(infos)
        reason = self._policy.refusal(host, port, addresses)
        if reason:
            raise OutboundRefused(reason)
        return await self._inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise OutboundRefused("unix sockets are not called")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_current: ContextVar[OutboundPolicy | None] = ContextVar("rftkit_outbound", default=None)


@contextmanager
def applying(policy: OutboundPolicy | None) -> Iterator[None]:
    """Clients built with :func:`async_client` in this context (and its tasks and threads
    started from it with a copied context) follow ``policy``."""
    token = _current.set(policy)
    try:
        yield
    finally:
        _current.reset(token)


def current_policy() -> OutboundPolicy | None:
    return _current.get()


def async_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` under the current policy (none: plain httpx), never following
    redirects. ``limits`` go to the checked transport."""
    policy = _current.get()
    options["follow_redirects"] = False
    if policy is None:
        return httpx.AsyncClient(**options)
    limits = options.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    return httpx.AsyncClient(transport=policy.transport(limits=limits), **options)


def refusal_in(error: BaseException) -> str | None:
    """The policy's reason if ``error`` (or what caused it) is a refusal."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OutboundRefused):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None
