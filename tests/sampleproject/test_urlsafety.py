"""Tests for sampleproject/board/urlsafety.py: the SSRF policy and its transports.

DNS is faked: ``socket.getaddrinfo`` answers from a table, and any other name is
handed to the real function with ``AI_NUMERICHOST``, which parses literal
addresses (so the C library normalises ``2130706433`` and friends, as in
production) and never asks a DNS server. The only real connections go to a
server on 127.0.0.1.
"""

import asyncio
import http.server
import ipaddress
import re
import socket
import threading
import urllib.parse

import httpcore
import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from sampleproject.board import urlsafety
from sampleproject.board.urlsafety import (
    GuardedAsyncBackend,
    GuardedSyncBackend,
    GuardedSyncTransport,
    GuardedTransport,
    UnsafeRequest,
    UnsafeURL,
    aresolve_and_check,
    check_address,
    check_url_offline,
    check_url_syntax,
    resolve_and_check,
    validate_service_url,
    validate_url_offline,
    validate_url_syntax,
)

PUBLIC = "93.184.215.14"


class FakeDNS:
    """A getaddrinfo that answers from a table and records every lookup."""

    def __init__(self):
        self.answers = {}
        self.calls = []
        self.real = socket.getaddrinfo

    def add(self, name, *answers):
        """Each answer is a list of addresses; the last one repeats."""
        self.answers[name] = list(answers)

    def name_lookups(self):
        return [host for host in self.calls if host in self.answers]

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.calls.append(host)
        if host not in self.answers:
            flags |= socket.AI_NUMERICHOST  # literal addresses only: no DNS
            return self.real(host, port, family, type, proto, flags)
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS()
    fake.add("status.example.com", [PUBLIC])
    fake.add("localhost", ["127.0.0.1", "::1"])
    fake.add("example.internal", ["10.0.0.5"])
    fake.add("mixed.example", [PUBLIC, "10.0.0.5"])
    fake.add("dual.example", ["2606:4700:4700::1111", PUBLIC])
    fake.add("xn--fa-hia.example", [PUBLIC])  # faß.example in IDNA 2008
    fake.add("empty.example", [])
    fake.add("twice.example", [PUBLIC, PUBLIC])
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any test that tries to connect beyond 127.0.0.1."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address):
        if isinstance(address, tuple) and address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to connect to {address}")

    def guarded_connect(sock, address):
        check(address)
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        check(address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(autouse=True)
def no_allowed_targets(settings):
    # The test settings inherit the development ones, which may allow loopback.
    settings.BOARD_ALLOWED_TARGETS = []


@pytest.fixture
def allow_loopback(settings):
    settings.BOARD_ALLOWED_TARGETS = ["loopback"]


class Upstream(http.server.ThreadingHTTPServer):
    """A tiny HTTP server on 127.0.0.1 that records the requests it gets."""

    daemon_threads = True

    def __init__(self):
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(handler):
                self.requests.append((handler.path, handler.headers["Host"]))
                body = b"ok"
                handler.send_response(200)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, format, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]


@pytest.fixture
def upstream():
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


HOSTILE = [
    ("file:///etc/passwd", "scheme"),
    ("ftp://status.example.com/", "scheme"),
    ("gopher://status.example.com:70/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("status.example.com/no-scheme", "scheme"),
    ("http://user:pw@status.example.com/", "credentials"),
    ("http://@status.example.com/", "credentials"),
    ("http:///nohost", "no-host"),
    ("http://:80/", "no-host"),
    ("http://status.example.com:0/", "port"),
    ("http://status.example.com:70000/", "port"),
    ("http://status.example.com:http/", "port"),
    ("http://[::1/", "invalid"),
    ("http://999.1.1.1/", "invalid"),
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.1:8000/health", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[64:ff9b::a00:5]/", "private"),  # NAT64 form of 10.0.0.5
    ("http://100.64.0.1/", "cgnat"),
    ("http://[fe80::1]/", "link-local"),
    ("http://169.254.1.1/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
    ("http://192.0.2.1/", "reserved"),
    ("http://[2001:db8::1]/", "reserved"),
    ("http://[::7f00:1]/", "reserved"),  # deprecated IPv4-compatible form
    ("http://example.internal/", "private"),
    ("http://mixed.example/", "private"),
    ("http://nonexistent.invalid/", "unresolvable"),
    ("http://empty.example/", "unresolvable"),
    ("http://" + "a" * 64 + ".example/", "unresolvable"),  # label too long
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE)
def test_hostile_url_refused(dns, url, reason):
    with pytest.raises(UnsafeURL) as excinfo:
        resolve_and_check(url)
    assert excinfo.value.reason == reason
    assert str(excinfo.value) == excinfo.value.message


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "reason"), HOSTILE)
async def test_hostile_url_refused_async(dns, url, reason):
    with pytest.raises(UnsafeURL) as excinfo:
        await aresolve_and_check(url)
    assert excinfo.value.reason == reason


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://status.example.com/health", [PUBLIC]),
        ("https://status.example.com:8443/", [PUBLIC]),
        ("HTTPS://Status.Example.COM/", [PUBLIC]),
        ("http://1.1.1.1/", ["1.1.1.1"]),
        ("https://[2606:4700:4700::1111]/", ["2606:4700:4700::1111"]),
        ("http://[::ffff:1.1.1.1]/", ["::ffff:1.1.1.1"]),
        ("http://dual.example/", ["2606:4700:4700::1111", PUBLIC]),
        ("http://faß.example/", [PUBLIC]),  # resolved as httpx will: IDNA 2008
        ("http://twice.example/", [PUBLIC]),
    ],
)
def test_public_url_accepted(dns, url, addresses):
    assert resolve_and_check(url) == addresses


@pytest.mark.asyncio
async def test_public_url_accepted_async(dns):
    assert await aresolve_and_check("https://status.example.com/") == [PUBLIC]


@pytest.mark.asyncio
async def test_async_resolution_uses_the_event_loop(monkeypatch):
    looked_up = []

    async def getaddrinfo(host, port, **kwargs):
        looked_up.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    assert await aresolve_and_check("https://status.example.com/") == [PUBLIC]
    assert looked_up == [("status.example.com", 443)]


def test_message_names_host_address_and_category(dns):
    with pytest.raises(UnsafeURL) as excinfo:
        resolve_and_check("http://example.internal/")
    assert str(excinfo.value) == (
        "example.internal resolves to 10.0.0.5, a private address; "
        "checks of private addresses are not allowed"
    )
    assert excinfo.value.address == "10.0.0.5"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://169.254.169.254/",
            "169.254.169.254 is a cloud metadata address; "
            "checks of cloud metadata addresses are never allowed",
        ),
        (
            "http://[::ffff:127.0.0.1]/",
            "::ffff:127.0.0.1 is a loopback address (it stands for 127.0.0.1); "
            "checks of loopback addresses are not allowed",
        ),
        (
            "http://2130706433/",
            "2130706433 resolves to 127.0.0.1, a loopback address; "
            "checks of loopback addresses are not allowed",
        ),
        ("file:///etc/passwd", "only http and https URLs can be checked, not file:"),
        (
            "example.com",
            "only http and https URLs can be checked, not a URL without a scheme",
        ),
        ("http://status.example.com:0/", "port 0 is out of range (1-65535)"),
    ],
)
def test_messages(dns, url, message):
    with pytest.raises(UnsafeURL) as excinfo:
        resolve_and_check(url)
    assert str(excinfo.value) == message


def test_check_url_syntax_needs_no_dns(monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("check_url_syntax must not resolve")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    parts = check_url_syntax("https://status.example.com:8443/health?x=1")
    assert isinstance(parts, urllib.parse.SplitResult)
    assert (parts.hostname, parts.port, parts.path) == (
        "status.example.com",
        8443,
        "/health",
    )
    # A private literal passes the syntax check: addresses are the next step.
    assert check_url_syntax("http://10.0.0.5/").hostname == "10.0.0.5"


class TestCheckAddress:
    def test_public(self):
        assert check_address("1.1.1.1", []) is None
        assert check_address(ipaddress.ip_address("2606:4700::1111"), []) is None

    def test_refused_with_category(self):
        with pytest.raises(UnsafeURL) as excinfo:
            check_address(ipaddress.IPv4Address("10.0.0.5"), [])
        assert excinfo.value.reason == "private"
        assert str(excinfo.value).startswith("10.0.0.5 is a private address")

    def test_scoped_link_local(self):
        with pytest.raises(UnsafeURL) as excinfo:
            check_address("fe80::1%eth0", [])
        assert excinfo.value.reason == "link-local"

    def test_not_an_address(self):
        with pytest.raises(UnsafeURL) as excinfo:
            check_address("status.example.com", [])
        assert excinfo.value.reason == "invalid"

    def test_allowed_argument_overrides_setting(self, settings):
        settings.BOARD_ALLOWED_TARGETS = []
        check_address("10.0.0.5", ["private"])
        settings.BOARD_ALLOWED_TARGETS = ["private"]
        check_address("10.0.0.5")
        with pytest.raises(UnsafeURL):
            check_address("10.0.0.5", [])


class TestAllowedTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8001/",
            "http://localhost:8001/",
            "http://[::1]:8001/",
            "http://2130706433/",
            "http://[::ffff:127.0.0.1]/",
        ],
    )
    def test_loopback_allowed_by_setting(self, dns, allow_loopback, url):
        assert resolve_and_check(url)

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://10.1.2.3/", "private"),
            ("http://169.254.169.254/", "metadata"),
            ("http://0.0.0.0/", "unspecified"),
            ("file:///etc/passwd", "scheme"),
        ],
    )
    def test_loopback_allows_nothing_else(self, dns, allow_loopback, url, reason):
        with pytest.raises(UnsafeURL) as excinfo:
            resolve_and_check(url)
        assert excinfo.value.reason == reason

    def test_link_local_and_private_allowed_but_metadata_refused(self, dns, settings):
        settings.BOARD_ALLOWED_TARGETS = ("link-local", "private")
        assert resolve_and_check("http://169.254.1.1/") == ["169.254.1.1"]
        assert resolve_and_check("http://[fe80::1]/") == ["fe80::1"]
        assert resolve_and_check("http://example.internal/") == ["10.0.0.5"]
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://169.254.170.2/v2/credentials",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
        ]:
            with pytest.raises(UnsafeURL) as excinfo:
                resolve_and_check(url)
            assert excinfo.value.reason == "metadata"
            assert "never allowed" in str(excinfo.value)

    @pytest.mark.parametrize(
        "value", ["loopback", ["loopbak"], ["metadata"], ["loopback", "cgnat"]]
    )
    def test_bad_setting_is_a_configuration_error(self, dns, settings, value):
        settings.BOARD_ALLOWED_TARGETS = value
        with pytest.raises(ImproperlyConfigured, match="BOARD_ALLOWED_TARGETS"):
            resolve_and_check("http://status.example.com/")

    def test_missing_setting_allows_nothing(self, dns, settings):
        del settings.BOARD_ALLOWED_TARGETS
        with pytest.raises(UnsafeURL):
            resolve_and_check("http://127.0.0.1/")


class TestValidator:
    def test_refusal_is_a_validation_error(self, dns):
        with pytest.raises(ValidationError) as excinfo:
            validate_service_url("http://example.internal/")
        assert excinfo.value.code == "private"
        assert excinfo.value.messages == [
            "example.internal resolves to 10.0.0.5, a private address; "
            "checks of private addresses are not allowed"
        ]

    def test_public_url_is_valid(self, dns):
        assert validate_service_url("https://status.example.com/health") is None

    def test_unresolvable(self, dns):
        with pytest.raises(ValidationError) as excinfo:
            validate_service_url("https://nonexistent.invalid/")
        assert excinfo.value.code == "unresolvable"


class TestOffline:
    """The model's validator: every rule that needs no DNS, and no DNS at all."""

    @pytest.fixture(autouse=True)
    def no_dns(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise AssertionError("the offline check must not resolve")

        monkeypatch.setattr(socket, "getaddrinfo", refuse)

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://169.254.169.254/latest/meta-data/", "metadata"),
            ("http://10.0.0.1/", "private"),
            ("http://0.0.0.0:8000/", "unspecified"),
            ("http://[::1]:8000/", "loopback"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            # Notations the resolver reads as addresses are read the same way.
            ("http://2130706433/", "loopback"),
            ("http://0x7f000001/", "loopback"),
            ("http://017700000001/", "loopback"),
            ("http://10.1/", "private"),
            ("ftp://example.com/", "scheme"),
        ],
    )
    def test_refuses_literals_and_bad_syntax(self, url, reason):
        with pytest.raises(UnsafeURL) as excinfo:
            check_url_offline(url, [])
        assert excinfo.value.reason == reason
        with pytest.raises(ValidationError) as excinfo:
            validate_url_offline(url)
        assert excinfo.value.code == reason

    def test_a_name_is_left_to_the_resolver(self):
        # internal.example might resolve to 10.0.0.5: that is the DNS twin's job.
        assert check_url_offline("http://internal.example/", []) is None
        assert validate_url_offline("https://status.example.com/health") is None

    def test_public_literal_passes(self):
        assert check_url_offline(f"http://{PUBLIC}/", []) is None

    def test_reads_the_setting(self, settings):
        settings.BOARD_ALLOWED_TARGETS = ("loopback",)
        assert validate_url_offline("http://127.0.0.1:8001/svc/payments") is None
        settings.BOARD_ALLOWED_TARGETS = ()
        with pytest.raises(ValidationError):
            validate_url_offline("http://127.0.0.1:8001/svc/payments")

    def test_the_syntax_validator_lets_literals_through(self):
        assert validate_url_syntax("http://10.0.0.1/") is None
        with pytest.raises(ValidationError) as excinfo:
            validate_url_syntax("http://user:pw@example.com/")
        assert excinfo.value.code == "credentials"


# --- Transports: async -----------------------------------------------------------


def ok_handler(calls):
    def handler(request):
        calls.append(request)
        return httpx.Response(200, text="ok")

    return handler


@pytest.mark.asyncio
async def test_transport_refuses_dns_changed_after_validation(dns):
    validate_service_url("https://status.example.com/health")
    dns.add("status.example.com", ["10.0.0.5"])  # rebound since the form was saved
    calls = []
    transport = GuardedTransport(httpx.MockTransport(ok_handler(calls)))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(UnsafeRequest) as excinfo:
            await client.get("https://status.example.com/health")
    exc = excinfo.value
    assert calls == []
    assert isinstance(exc, UnsafeURL)
    assert isinstance(exc, httpx.RequestError)
    assert (exc.reason, exc.address) == ("private", "10.0.0.5")
    assert str(exc).startswith("status.example.com resolves to 10.0.0.5")
    assert exc.request.url == "https://status.example.com/health"


@pytest.mark.asyncio
async def test_transport_passes_allowed_target_through(dns, allow_loopback):
    calls = []
    transport = GuardedTransport(httpx.MockTransport(ok_handler(calls)))
    assert not transport.pins_connections  # not an httpx network transport
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("http://127.0.0.1:8001/health")
    assert response.text == "ok"
    assert [str(request.url) for request in calls] == ["http://127.0.0.1:8001/health"]


@pytest.mark.asyncio
async def test_transport_allowed_argument(dns, settings):
    settings.BOARD_ALLOWED_TARGETS = ["loopback"]
    transport = GuardedTransport(httpx.MockTransport(ok_handler([])), allowed=[])
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(UnsafeRequest):
            await client.get("http://127.0.0.1:8001/")


@pytest.mark.asyncio
async def test_transport_rechecks_redirects(dns):
    def handler(request):
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    transport = GuardedTransport(httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(UnsafeRequest) as excinfo:
            await client.get("http://status.example.com/")
    assert excinfo.value.reason == "metadata"


@pytest.mark.asyncio
async def test_transport_unresolvable_is_a_connect_error(dns):
    transport = GuardedTransport(httpx.MockTransport(ok_handler([])))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as excinfo:
            await client.get("http://nonexistent.invalid/")
    assert not isinstance(excinfo.value, UnsafeURL)


@pytest.mark.asyncio
async def test_transport_resolution_obeys_connect_timeout(monkeypatch):
    async def getaddrinfo(*args, **kwargs):
        await asyncio.sleep(10)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    transport = GuardedTransport(httpx.MockTransport(ok_handler([])))
    timeout = httpx.Timeout(5, connect=0.01)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get("http://status.example.com/")


@pytest.mark.asyncio
async def test_transport_with_real_server_connects_to_checked_address(
    dns, allow_loopback, upstream
):
    dns.add("status.example.com", ["127.0.0.1"])
    # Built off the loop: a real transport loads the CA bundle when it is made.
    transport = await asyncio.to_thread(
        GuardedTransport, retries=0, limits=httpx.Limits(max_connections=5)
    )
    assert transport.pins_connections
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://status.example.com:{upstream.port}/up")
    assert response.text == "ok"
    # Host header and path as requested; httpx never resolved the name itself,
    # and the connection used the request check's answer: one lookup in all.
    assert upstream.requests == [("/up", f"status.example.com:{upstream.port}")]
    assert dns.name_lookups() == ["status.example.com"]


@pytest.mark.asyncio
async def test_transport_connects_to_the_address_it_checked(
    dns, allow_loopback, upstream
):
    # Allowed for the request check, private a moment later: a transport that
    # resolved again to connect would connect to 10.0.0.5 (loopback_only fails
    # the test). The connection goes to the address the check allowed.
    dns.add("rebind.example", ["127.0.0.1"], ["10.0.0.5"])
    transport = await asyncio.to_thread(GuardedTransport)  # off the loop
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://rebind.example:{upstream.port}/up")
    assert response.text == "ok"
    assert dns.name_lookups() == ["rebind.example"]


@pytest.mark.asyncio
async def test_async_backend_takes_only_a_matching_check(dns):
    # The transport's answer is for one host, port and policy in this task;
    # for anything else the backend resolves and checks for itself.
    inner = FakeAsyncBackend()
    backend = GuardedAsyncBackend(inner, allowed=[])
    dns.add("rebind.example", ["10.0.0.5"])  # what the name answers now
    token = urlsafety._checked_target.set(("rebind.example", 80, frozenset(), [PUBLIC]))
    try:
        assert await backend.connect_tcp("rebind.example", 80) == f"stream to {PUBLIC}"
        dns.add("other.example", ["10.0.0.5"])
        for host, port in [("rebind.example", 443), ("other.example", 80)]:
            with pytest.raises(UnsafeURL, match=r"10\.0\.0\.5"):
                await backend.connect_tcp(host, port)
        loopback = GuardedAsyncBackend(inner, allowed=["loopback"])
        with pytest.raises(UnsafeURL, match=r"10\.0\.0\.5"):
            await loopback.connect_tcp("rebind.example", 80)
    finally:
        urlsafety._checked_target.reset(token)
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.5"):
        await backend.connect_tcp("rebind.example", 80)


@pytest.mark.asyncio
async def test_transport_does_not_resolve_again_to_connect(dns, allow_loopback):
    # A name that stops resolving after the request check does not matter: the
    # connection goes to the checked address (here a closed port).
    dns.add("flaky.example", ["127.0.0.1"], [])
    transport = await asyncio.to_thread(GuardedTransport)  # off the loop
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as excinfo:
            await client.get("http://flaky.example:9/")
    assert "does not resolve" not in str(excinfo.value)
    assert dns.name_lookups() == ["flaky.example"]


def test_transport_pinning_conditions(upstream, allow_loopback):
    inner = httpx.AsyncHTTPTransport()
    assert GuardedTransport(inner).pins_connections
    assert GuardedTransport(inner).pins_connections  # guarded once, not twice
    assert isinstance(inner._pool._network_backend, GuardedAsyncBackend)
    assert not isinstance(inner._pool._network_backend._backend, GuardedAsyncBackend)
    proxied = httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:9")
    assert not GuardedTransport(proxied).pins_connections

    used = httpx.HTTPTransport()
    with httpx.Client(transport=used) as client:
        client.get(f"http://127.0.0.1:{upstream.port}/")
        assert not GuardedSyncTransport(used).pins_connections
    assert GuardedSyncTransport().pins_connections


def test_transport_takes_a_transport_or_arguments():
    with pytest.raises(TypeError):
        GuardedTransport(httpx.MockTransport(ok_handler([])), retries=1)
    with pytest.raises(TypeError):
        GuardedSyncTransport(httpx.MockTransport(ok_handler([])), retries=1)


# --- Backends ------------------------------------------------------------------


class FakeAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, failing=()):
        self.failing = set(failing)
        self.calls = []

    async def connect_tcp(self, host, port, timeout=None, **kwargs):  # noqa: ASYNC109
        self.calls.append(("tcp", host, port, timeout))
        if host in self.failing:
            raise httpcore.ConnectError(f"cannot reach {host}")
        return f"stream to {host}"

    async def connect_unix_socket(self, path, timeout=None, **kwargs):  # noqa: ASYNC109
        self.calls.append(("unix", path))
        return "unix stream"

    async def sleep(self, seconds):
        self.calls.append(("sleep", seconds))


class FakeSyncBackend(httpcore.NetworkBackend):
    def __init__(self, failing=()):
        self.failing = set(failing)
        self.calls = []

    def connect_tcp(self, host, port, timeout=None, **kwargs):
        self.calls.append(("tcp", host, port, timeout))
        if host in self.failing:
            raise httpcore.ConnectError(f"cannot reach {host}")
        return f"stream to {host}"

    def connect_unix_socket(self, path, timeout=None, **kwargs):
        self.calls.append(("unix", path))
        return "unix stream"

    def sleep(self, seconds):
        self.calls.append(("sleep", seconds))


@pytest.mark.asyncio
async def test_async_backend_connects_to_checked_addresses_in_turn(dns):
    inner = FakeAsyncBackend(failing={"2606:4700:4700::1111"})
    backend = GuardedAsyncBackend(inner, allowed=[])
    stream = await backend.connect_tcp("dual.example", 443, timeout=3)
    assert stream == f"stream to {PUBLIC}"
    assert inner.calls == [
        ("tcp", "2606:4700:4700::1111", 443, 3),
        ("tcp", PUBLIC, 443, 3),
    ]
    inner.failing.add(PUBLIC)
    with pytest.raises(httpcore.ConnectError, match=re.escape(PUBLIC)):
        await backend.connect_tcp("dual.example", 443)


@pytest.mark.asyncio
async def test_async_backend_refusals(dns, monkeypatch):
    backend = GuardedAsyncBackend(FakeAsyncBackend())
    with pytest.raises(UnsafeURL) as excinfo:
        await backend.connect_tcp("mixed.example", 80)
    assert excinfo.value.reason == "private"
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("nonexistent.invalid", 80)

    async def slow(*args, **kwargs):
        await asyncio.sleep(10)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", slow)
    with pytest.raises(httpcore.ConnectTimeout):
        await backend.connect_tcp("status.example.com", 80, timeout=0.01)


@pytest.mark.asyncio
async def test_async_backend_delegates_the_rest():
    inner = FakeAsyncBackend()
    backend = GuardedAsyncBackend(inner)
    assert await backend.connect_unix_socket("/run/app.sock") == "unix stream"
    await backend.sleep(0.5)
    assert inner.calls == [("unix", "/run/app.sock"), ("sleep", 0.5)]
    assert isinstance(GuardedAsyncBackend()._backend, httpcore.AnyIOBackend)


def test_sync_backend(dns):
    inner = FakeSyncBackend(failing={"2606:4700:4700::1111"})
    backend = GuardedSyncBackend(inner, allowed=[])
    assert backend.connect_tcp("dual.example", 443) == f"stream to {PUBLIC}"
    inner.failing.add(PUBLIC)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("dual.example", 443)
    with pytest.raises(UnsafeURL):
        backend.connect_tcp("example.internal", 443)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("nonexistent.invalid", 443)
    assert backend.connect_unix_socket("/run/app.sock") == "unix stream"
    backend.sleep(0.5)
    assert inner.calls[-2:] == [("unix", "/run/app.sock"), ("sleep", 0.5)]
    assert isinstance(GuardedSyncBackend()._backend, httpcore.SyncBackend)


# --- Transports: sync ------------------------------------------------------------


def test_sync_transport_refuses_dns_changed_after_validation(dns):
    validate_service_url("http://status.example.com/")
    dns.add("status.example.com", ["169.254.169.254"])
    calls = []
    transport = GuardedSyncTransport(httpx.MockTransport(ok_handler(calls)))
    with httpx.Client(transport=transport) as client:
        with pytest.raises(UnsafeRequest) as excinfo:
            client.get("http://status.example.com/")
        assert excinfo.value.reason == "metadata"
        with pytest.raises(httpx.ConnectError):
            client.get("http://nonexistent.invalid/")
    assert calls == []


def test_sync_transport_passes_allowed_target_through(dns, allow_loopback):
    calls = []
    transport = GuardedSyncTransport(httpx.MockTransport(ok_handler(calls)))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://localhost:8001/").text == "ok"
    assert len(calls) == 1


def test_sync_transport_with_real_server(dns, allow_loopback, upstream):
    dns.add("status.example.com", ["127.0.0.1"])
    dns.add("rebind.example", ["127.0.0.1"], ["10.0.0.5"], ["127.0.0.1"])
    with httpx.Client(transport=GuardedSyncTransport(retries=0)) as client:
        response = client.get(f"http://status.example.com:{upstream.port}/up")
        assert response.text == "ok"
        with pytest.raises(UnsafeRequest) as excinfo:
            client.get(f"http://rebind.example:{upstream.port}/")
    assert excinfo.value.reason == "private"
    assert upstream.requests == [("/up", f"status.example.com:{upstream.port}")]
