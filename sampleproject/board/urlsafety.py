"""Server-side request forgery (SSRF) protection for the URLs the board checks.

Users register the URLs of services; the server then requests them. Without a
policy, anyone who can register a service can make the server request its own
admin ports, the database on the private network or the cloud metadata service
(``http://169.254.169.254/``, which hands out credentials). This module refuses
such URLs twice: when the form is validated and again when each request is made.

Policy
======

* Only ``http`` and ``https``; no credentials (``user:pass@``) in the URL; a host
  must be present; the port, when given, is 1-65535.
* The host is resolved with ``getaddrinfo`` and the URL is refused if **any**
  address is loopback, private (RFC 1918, ``fc00::/7``), link-local
  (``169.254.0.0/16``, ``fe80::/10``), unspecified (``0.0.0.0/8``, ``::``),
  multicast, carrier-grade NAT (``100.64.0.0/10``), reserved or special-purpose
  (documentation and benchmarking ranges, ``240.0.0.0/4``, IPv6 outside
  ``2000::/3``...), or a cloud metadata address (``169.254.169.254``,
  ``fd00:ec2::254`` and their ECS/EKS neighbours). IPv6 forms that embed an IPv4
  address (``::ffff:127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are
  judged by the IPv4 address they embed. Literal IPs are resolved too, which
  normalises odd notations: ``http://2130706433/``, ``http://0x7f000001/`` and
  ``http://017700000001/`` all resolve to ``127.0.0.1``.
* The setting ``BOARD_ALLOWED_TARGETS`` (an iterable of category names, default
  empty) allows ``"loopback"``, ``"private"`` and ``"link-local"`` targets, for
  example loopback in development for the fake upstream. Metadata addresses and
  the other categories can never be allowed; naming them is a configuration
  error.

API
===

* :class:`UnsafeURL` (a :class:`ValueError`): ``str(exc)`` is a message for
  people, ``exc.reason`` a code: ``scheme``, ``credentials``, ``no-host``,
  ``port``, ``invalid``, ``unresolvable``, or the address category
  (``loopback``, ``private``, ``link-local``, ``metadata``, ``unspecified``,
  ``multicast``, ``cgnat``, ``reserved``). ``exc.address`` is the offending
  address, when there is one.
* :func:`check_url_syntax` (no DNS), :func:`check_address` (one address),
  :func:`resolve_and_check` (sync) and :func:`aresolve_and_check` (async, with
  ``loop.getaddrinfo``, which does not block the event loop).
* :func:`validate_service_url`, a Django validator for the form or model field,
  and :func:`validate_url_syntax`, its DNS-free twin for forms validated in
  async views. :func:`check_url_offline` and :func:`validate_url_offline` add
  the address check for hosts written as IP literals, still without DNS: the
  model's URL field uses it, so every way in refuses ``http://10.0.0.1/``.
* :class:`GuardedTransport` and :class:`GuardedSyncTransport`, httpx transports
  that re-check every request, redirects included, before it is sent.

Errors at request time
======================

A guarded transport raises :class:`UnsafeRequest` for a refused URL. It is both
an :class:`UnsafeURL` and an :class:`httpx.RequestError`: code that already
handles network errors with ``except httpx.RequestError`` records a failed check
instead of crashing, and code that wants to tell a policy refusal apart catches
``UnsafeURL`` first::

    try:
        response = await client.get(service.url)
    except UnsafeURL as exc:  # before httpx.RequestError: it is one too
        error = Check.Error.REFUSED
    except httpx.TimeoutException:
        error = Check.Error.TIMEOUT
    except httpx.RequestError:
        error = Check.Error.CONNECT

A name that does not resolve at request time is a network failure, not a policy
refusal: the transports raise :class:`httpx.ConnectError` for it, as httpx
itself would (:func:`resolve_and_check` raises ``UnsafeURL`` with reason
``unresolvable``, which the form shows).

DNS rebinding and the time-of-check/time-of-use gap
====================================================

Checking at form time is not enough: the owner of a name can change its DNS
answer after the form was saved, so each request is checked again. Even then, if
httpx resolved the name again to connect, a name with a zero TTL could answer a
public address to the check and a private one to the connection a millisecond
later. The guarded transports close that gap when they wrap an
:class:`httpx.AsyncHTTPTransport` (or :class:`httpx.HTTPTransport`) that talks
to the network directly, which is what they build when given no transport: they
install :class:`GuardedAsyncBackend` (or :class:`GuardedSyncBackend`) as the
connection pool's network backend, which connects to a checked address, never
to the name. The async transport hands the addresses its request check found
to the backend (a context variable, so only within the task sending that
request, for the same host, port and allowed categories): a new connection
goes to exactly the addresses checked, with one lookup per request. Otherwise
the backend resolves the name itself and checks every address. TLS is unchanged:
httpcore starts TLS with the URL's host name for SNI and certificate checks, the
``Host`` header is the URL's, and pooled connections stay keyed by host name.
``transport.pins_connections`` tells whether this is in force.

What remains:

* The backend is installed through a private attribute of httpcore's pool
  (``_pool._network_backend``); a future httpx that changes it makes
  ``pins_connections`` false (the test suite asserts it is true), leaving the
  per-request check only.
* With a proxy the proxy resolves and connects, so there is nothing to pin: the
  request is checked, but the proxy's own resolution is not. Transports other
  than httpx's are checked per request, not pinned.
* The sync path cannot put a time limit on ``socket.getaddrinfo``.

The complete fix sits below the application: an egress firewall or network
policy that denies the checker's host every private, link-local and metadata
range, or an egress proxy that enforces the same rules (such as Stripe's
Smokescreen). This module is the application's half of that defence.

Faking resolution in tests
==========================

Every lookup goes through ``socket.getaddrinfo``, looked up when called: the
sync path calls it directly and ``loop.getaddrinfo`` runs it in the default
executor. Monkeypatching ``socket.getaddrinfo`` therefore fakes both paths; the
loop's ``getaddrinfo`` can also be patched on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
import urllib.parse
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

__all__ = [
    "ALLOWABLE_CATEGORIES",
    "GuardedAsyncBackend",
    "GuardedSyncBackend",
    "GuardedSyncTransport",
    "GuardedTransport",
    "UnsafeRequest",
    "UnsafeURL",
    "aresolve_and_check",
    "check_address",
    "check_url_offline",
    "check_url_syntax",
    "resolve_and_check",
    "validate_service_url",
    "validate_url_offline",
    "validate_url_syntax",
]

SETTING = "BOARD_ALLOWED_TARGETS"
ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

#: The categories ``BOARD_ALLOWED_TARGETS`` may name. All others stay refused.
ALLOWABLE_CATEGORIES = frozenset({"loopback", "private", "link-local"})

#: Instance metadata services (AWS, GCP, Azure, Oracle; AWS ECS and EKS Pod
#: Identity agents). Refused even when link-local or private targets are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)


def _networks(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Checked in order; the first match names the category. Explicit tables rather
# than ipaddress's is_private and friends, whose meaning changed between Python
# releases.
_CATEGORIES = (
    ("unspecified", _networks("0.0.0.0/8", "::/128")),
    ("loopback", _networks("127.0.0.0/8", "::1/128")),
    ("private", _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("link-local", _networks("169.254.0.0/16", "fe80::/10")),
    ("cgnat", _networks("100.64.0.0/10")),
    ("multicast", _networks("224.0.0.0/4", "ff00::/8")),
    (
        "reserved",
        _networks(
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation (TEST-NET-1)
            "192.88.99.0/24",  # deprecated 6to4 relay anycast
            "198.18.0.0/15",  # benchmarking
            "198.51.100.0/24",  # documentation (TEST-NET-2)
            "203.0.113.0/24",  # documentation (TEST-NET-3)
            "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
            "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
            "2001:db8::/32",  # documentation
            "3fff::/20",  # documentation
        ),
    ),
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Category: (singular with article, plural).
_NAMES = {
    "loopback": ("a loopback address", "loopback addresses"),
    "private": ("a private address", "private addresses"),
    "link-local": ("a link-local address", "link-local addresses"),
    "metadata": ("a cloud metadata address", "cloud metadata addresses"),
    "unspecified": ("an unspecified address", "unspecified addresses"),
    "multicast": ("a multicast address", "multicast addresses"),
    "cgnat": ("a carrier-grade NAT (shared) address", "carrier-grade NAT addresses"),
    "reserved": (
        "a reserved or special-purpose address",
        "reserved or special-purpose addresses",
    ),
}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """A URL the policy refuses. ``str(exc)`` is for people, ``reason`` for code."""

    def __init__(self, message: str, *, reason: str, address: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.address = address


class UnsafeRequest(UnsafeURL, httpx.RequestError):
    """Raised by the guarded transports: both an UnsafeURL and an httpx error.

    Catch :class:`UnsafeURL` before :class:`httpx.RequestError` to tell a policy
    refusal apart from a network failure. ``exc.request`` is the refused request.
    """

    def __init__(self, unsafe: UnsafeURL, request: httpx.Request | None = None):
        httpx.RequestError.__init__(self, unsafe.message, request=request)
        self.message = unsafe.message
        self.reason = unsafe.reason
        self.address = unsafe.address


# --- Syntax ------------------------------------------------------------------


def check_url_syntax(url: str) -> urllib.parse.SplitResult:
    """Apply the scheme, credentials, host and port rules; no DNS.

    Return the split URL, or raise :class:`UnsafeURL`.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}", reason="invalid") from exc
    if parts.scheme not in ALLOWED_SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "a URL without a scheme"
        raise UnsafeURL(
            f"only http and https URLs can be checked, not {shown}",
            reason="scheme",
        )
    if "@" in parts.netloc:
        raise UnsafeURL(
            "URLs with credentials (user:password@) are not allowed",
            reason="credentials",
        )
    if not parts.hostname:
        raise UnsafeURL("the URL has no host", reason="no-host")
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"invalid port: {exc}", reason="port") from exc
    if port is not None and not 1 <= port <= 65535:
        raise UnsafeURL(f"port {port} is out of range (1-65535)", reason="port")
    return parts


def _target(url: str | httpx.URL) -> tuple[str, int]:
    """Check the syntax and return the (host, port) that httpx will connect to.

    The rules are applied to the text as given and to httpx's own reading of it
    (serialised again), so that a disagreement between the two URL parsers
    cannot smuggle a host past the check. The host is httpx's ``raw_host``: the
    ASCII (IDNA 2008) form httpcore resolves and connects to.
    """
    check_url_syntax(str(url))
    if isinstance(url, httpx.URL):
        parsed = url
    else:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise UnsafeURL(f"not a valid URL: {exc}", reason="invalid") from exc
        check_url_syntax(str(parsed))
    host = parsed.raw_host.decode("ascii")
    return host, parsed.port or DEFAULT_PORTS[parsed.scheme]


# --- Addresses ---------------------------------------------------------------


def _allowed_categories(allowed: Iterable[str] | None) -> frozenset[str]:
    if allowed is None:
        allowed = getattr(settings, SETTING, ())
    if isinstance(allowed, str):
        raise ImproperlyConfigured(
            f"{SETTING} must be a list of category names, not the string {allowed!r}"
        )
    categories = frozenset(allowed)
    unknown = categories - ALLOWABLE_CATEGORIES
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} names {', '.join(sorted(unknown))}; it may only allow "
            f"{', '.join(sorted(ALLOWABLE_CATEGORIES))}"
        )
    return categories


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address stands for, if it stands for one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _category(ip: IPAddress) -> str | None:
    """The refused category of an address, or None for a public address."""
    if ip in METADATA_ADDRESSES:
        return "metadata"
    for category, networks in _CATEGORIES:
        if any(ip in network for network in networks):
            return category
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        return "reserved"
    return None


def check_address(
    ip: str | IPAddress,
    allowed: Iterable[str] | None = None,
    *,
    host: str | None = None,
) -> None:
    """Refuse ``ip`` unless it is public or its category is in ``allowed``.

    ``allowed`` defaults to the ``BOARD_ALLOWED_TARGETS`` setting. ``host``, the
    name that resolved to ``ip``, only makes the message clearer.
    """
    categories = _allowed_categories(allowed)
    if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError as exc:
            raise UnsafeURL(f"{ip!r} is not an IP address", reason="invalid") from exc
    # An IPv6 address that stands for an IPv4 one is judged by the IPv4 one.
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    category = _category(ip if embedded is None else embedded)
    if category is None or category in categories:
        return
    singular, plural = _NAMES[category]
    if embedded is not None:
        singular += f" (it stands for {embedded})"
    if category in ALLOWABLE_CATEGORIES:
        rule = f"checks of {plural} are not allowed"
    else:
        rule = f"checks of {plural} are never allowed"
    shown = _display(ip)
    if host is None or _same_address(host, ip):
        message = f"{shown} is {singular}; {rule}"
    else:
        message = f"{host} resolves to {shown}, {singular}; {rule}"
    raise UnsafeURL(message, reason=category, address=shown)


def _display(ip: IPAddress) -> str:
    # Python 3.13 writes IPv4-mapped addresses as ::ffff:127.0.0.1, earlier
    # versions as ::ffff:7f00:1; use the readable form on every version.
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(ip) if mapped is None else f"::ffff:{mapped}"


def _same_address(host: str, ip: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host) == ip
    except ValueError:
        return False


# --- Resolution ----------------------------------------------------------------


def _unresolvable(host: str, exc: BaseException | None = None) -> UnsafeURL:
    detail = f" ({exc})" if exc is not None else ""
    return UnsafeURL(f"{host} does not resolve{detail}", reason="unresolvable")


def _addresses(host: str, infos: list[tuple[Any, ...]]) -> list[str]:
    addresses = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise _unresolvable(host)
    return addresses


def _check_addresses(
    host: str, addresses: list[str], allowed: Iterable[str] | None
) -> list[str]:
    categories = _allowed_categories(allowed)
    for address in addresses:
        check_address(address, categories, host=host)
    return addresses


def _resolve_host(host: str, port: int, allowed: Iterable[str] | None) -> list[str]:
    categories = _allowed_categories(allowed)  # a bad setting fails before DNS
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(host, exc) from exc
    return _check_addresses(host, _addresses(host, infos), categories)


async def _aresolve_host(
    host: str, port: int, allowed: Iterable[str] | None
) -> list[str]:
    categories = _allowed_categories(allowed)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(host, exc) from exc
    return _check_addresses(host, _addresses(host, infos), categories)


def resolve_and_check(
    url: str | httpx.URL, allowed: Iterable[str] | None = None
) -> list[str]:
    """Check ``url`` completely and return the addresses its host resolves to.

    Blocks on DNS: for form validation and other sync code. Raises
    :class:`UnsafeURL`; reason ``unresolvable`` when the name does not resolve.
    """
    host, port = _target(url)
    return _resolve_host(host, port, allowed)


async def aresolve_and_check(
    url: str | httpx.URL, allowed: Iterable[str] | None = None
) -> list[str]:
    """Async twin of :func:`resolve_and_check`, resolving with ``loop.getaddrinfo``.

    The event loop keeps running while the name resolves (in a thread); limit
    the wait with ``asyncio.timeout()``.
    """
    host, port = _target(url)
    return await _aresolve_host(host, port, allowed)


def _as_validation_error(check, value: str) -> None:
    try:
        check(value)
    except UnsafeURL as exc:
        raise ValidationError(exc.message, code=exc.reason) from exc


def validate_service_url(value: str) -> None:
    """Django validator: refuse URLs the board must not request.

    It resolves the host with the sync resolver, which blocks: from async code,
    validate with :func:`validate_url_syntax`, then :func:`aresolve_and_check`.
    """
    _as_validation_error(resolve_and_check, value)


def validate_url_syntax(value: str) -> None:
    """Django validator for the URL's syntax alone (no DNS), safe in async views."""
    _as_validation_error(check_url_syntax, value)


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any notation the resolver accepts, or None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton parses without asking DNS, and reads the odd notations
        # (2130706433, 0x7f000001, 127.1) the way getaddrinfo would.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_url_offline(url: str, allowed: Iterable[str] | None = None) -> None:
    """Apply every rule that needs no DNS: the syntax, and the address of a literal.

    ``http://10.0.0.1/`` is refused here; a name that resolves to 10.0.0.1 is
    left to :func:`resolve_and_check` and the guarded transports.
    """
    host, _port = _target(url)
    address = _literal_address(host)
    if address is not None:
        check_address(address, allowed)


def validate_url_offline(value: str) -> None:
    """Django validator for :func:`check_url_offline`: no DNS, so safe anywhere.

    The model's URL field uses it, so ``full_clean()`` and every model form
    (the admin's included) refuse literal addresses the policy forbids.
    """
    _as_validation_error(check_url_offline, value)


# --- Connection-time enforcement -------------------------------------------------

# What a guarded transport has just checked for the request this task sends:
# (host, port, allowed categories, addresses). The pool connects inside that
# same task, so the backend connects to those checked addresses instead of
# resolving the name again: one lookup (a thread hop) per request, not two.
_CheckedTarget = tuple[str, int, frozenset[str], list[str]]
_checked_target: contextvars.ContextVar[_CheckedTarget | None] = contextvars.ContextVar(
    "checked_target", default=None
)


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked addresses.

    It takes the addresses a :class:`GuardedTransport` has just checked for
    this task's request, or else resolves the host once and checks every
    address, and connects to the first checked address that accepts, so the
    address checked is the address used.
    TLS, started by httpcore afterwards, still uses the host name.
    """

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend | None = None,
        allowed: Iterable[str] | None = None,
    ):
        self._backend = backend if backend is not None else httpcore.AnyIOBackend()
        self.allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        checked = _checked_target.get()
        try:
            target = (host, port, _allowed_categories(self.allowed))
            if checked is not None and checked[:3] == target:
                addresses = checked[3]
            else:
                async with asyncio.timeout(timeout):
                    addresses = await _aresolve_host(host, port, self.allowed)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except UnsafeURL as exc:
            if exc.reason == "unresolvable":
                raise httpcore.ConnectError(exc.message) from exc
            raise

        async def connect(address: str) -> httpcore.AsyncNetworkStream:
            return await self._backend.connect_tcp(
                address,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )

        for address in addresses[:-1]:
            with contextlib.suppress(httpcore.ConnectError):
                return await connect(address)
        return await connect(addresses[-1])

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    """Sync twin of :class:`GuardedAsyncBackend` (DNS without a time limit)."""

    def __init__(
        self,
        backend: httpcore.NetworkBackend | None = None,
        allowed: Iterable[str] | None = None,
    ):
        self._backend = backend if backend is not None else httpcore.SyncBackend()
        self.allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve_host(host, port, self.allowed)
        except UnsafeURL as exc:
            if exc.reason == "unresolvable":
                raise httpcore.ConnectError(exc.message) from exc
            raise

        def connect(address: str) -> httpcore.NetworkStream:
            return self._backend.connect_tcp(
                address,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )

        for address in addresses[:-1]:
            with contextlib.suppress(httpcore.ConnectError):
                return connect(address)
        return connect(addresses[-1])

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _pin(transport: object, pool_type: type, backend_type: type, allowed) -> bool:
    """Install a guarded backend in an httpx transport's direct connection pool.

    Only a plain pool (no proxy) that has not made connections yet is pinned.
    """
    pool = getattr(transport, "_pool", None)
    if type(pool) is not pool_type or not hasattr(pool, "_network_backend"):
        return False
    if pool.connections:
        return False
    if not isinstance(pool._network_backend, backend_type):
        pool._network_backend = backend_type(pool._network_backend, allowed)
    return True


def _refusal(exc: UnsafeURL, request: httpx.Request) -> httpx.RequestError:
    if exc.reason == "unresolvable":
        return httpx.ConnectError(exc.message, request=request)
    return UnsafeRequest(exc, request)


def _connect_timeout(request: httpx.Request) -> float | None:
    return request.extensions.get("timeout", {}).get("connect")


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that refuses requests to URLs the policy forbids.

    ``GuardedTransport(limits=..., retries=...)`` builds an
    :class:`httpx.AsyncHTTPTransport` with those arguments;
    ``GuardedTransport(transport)`` wraps any async transport. Each request is
    checked with :func:`aresolve_and_check` before it is passed on; a refusal
    raises :class:`UnsafeRequest` and nothing is sent. ``allowed`` defaults to
    the setting, read at each request.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        allowed: Iterable[str] | None = None,
        **kwargs: Any,
    ):
        if transport is not None and kwargs:
            raise TypeError("pass either a transport or arguments for one, not both")
        self._transport = (
            httpx.AsyncHTTPTransport(**kwargs) if transport is None else transport
        )
        self.allowed = allowed
        self.pins_connections = _pin(
            self._transport, httpcore.AsyncConnectionPool, GuardedAsyncBackend, allowed
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            host, port = _target(request.url)
            categories = _allowed_categories(self.allowed)
            async with asyncio.timeout(_connect_timeout(request)):
                addresses = await _aresolve_host(host, port, categories)
        except TimeoutError as exc:
            message = f"resolving {request.url.host} timed out"
            raise httpx.ConnectTimeout(message, request=request) from exc
        except UnsafeURL as exc:
            raise _refusal(exc, request) from exc
        # A new connection for this request goes to the addresses just checked.
        handed_over = _checked_target.set((host, port, categories, addresses))
        try:
            return await self._transport.handle_async_request(request)
        except UnsafeURL as exc:  # from the pinned backend, at connection time
            raise _refusal(exc, request) from exc
        finally:
            _checked_target.reset(handed_over)

    async def aclose(self) -> None:
        await self._transport.aclose()


class GuardedSyncTransport(httpx.BaseTransport):
    """Sync twin of :class:`GuardedTransport`, for :class:`httpx.Client`."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        allowed: Iterable[str] | None = None,
        **kwargs: Any,
    ):
        if transport is not None and kwargs:
            raise TypeError("pass either a transport or arguments for one, not both")
        self._transport = (
            httpx.HTTPTransport(**kwargs) if transport is None else transport
        )
        self.allowed = allowed
        self.pins_connections = _pin(
            self._transport, httpcore.ConnectionPool, GuardedSyncBackend, allowed
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            resolve_and_check(request.url, self.allowed)
            return self._transport.handle_request(request)
        except UnsafeURL as exc:
            raise _refusal(exc, request) from exc

    def close(self) -> None:
        self._transport.close()
