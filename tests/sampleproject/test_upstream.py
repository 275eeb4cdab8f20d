"""The fake upstream, through httpx.ASGITransport and through real loopback servers.

Tests that make sense on both run twice (the ``served`` fixture): in process,
and over TCP against a uvicorn server in a thread. Faults that need a real
connection (hangs timing out, chunk timing, resets) run against a server
started by the test itself, in its own event loop, and always stopped.
"""

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn

from sampleproject.upstream import (
    Behaviour,
    BehaviourError,
    Behaviours,
    UpstreamApp,
    UpstreamThread,
    create_app,
    reset_server,
    running_upstream,
)
from sampleproject.upstream import __main__ as command
from sampleproject.upstream import app as app_module
from sampleproject.upstream import server as server_module

ROOT = Path(__file__).resolve().parents[2]
# What httpx raises when the peer resets the connection: ReadError for the
# RST itself, RemoteProtocolError if the close looks like an early EOF.
RESET_ERRORS = (httpx.ReadError, httpx.RemoteProtocolError)


# Built once at import: building one per client loads the CA bundle on the
# event loop (the blocking guard, tests/support/blocking.py, reports it).
SSL_CONTEXT = httpx.create_ssl_context()


def client_for(url: str, **options) -> httpx.AsyncClient:
    # trust_env=False: a proxy set in the environment must not carry loopback
    # requests elsewhere.
    return httpx.AsyncClient(
        base_url=url, trust_env=False, verify=SSL_CONTEXT, **options
    )


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@dataclass
class Served:
    client: httpx.AsyncClient
    app: UpstreamApp

    @property
    def behaviours(self) -> Behaviours:
        return self.app.behaviours


@pytest.fixture(scope="module")
def thread_upstream() -> Iterator[UpstreamThread]:
    with UpstreamThread() as upstream:
        yield upstream


def in_process_client(app: UpstreamApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://fake")


@pytest_asyncio.fixture
async def asgi() -> AsyncIterator[Served]:
    app = create_app()
    async with in_process_client(app) as client:
        yield Served(client, app)


@pytest_asyncio.fixture(params=["asgi", "uvicorn"])
async def served(request, thread_upstream) -> AsyncIterator[Served]:
    """A fresh app in process, then the module's server over TCP, reset."""
    if request.param == "asgi":
        app = create_app()
        async with in_process_client(app) as client:
            yield Served(client, app)
    else:
        thread_upstream.behaviours.reset()
        async with client_for(thread_upstream.url, timeout=5) as client:
            yield Served(client, thread_upstream.app)


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[Served]:
    """A uvicorn server of its own in the test's event loop."""
    async with running_upstream() as running, client_for(running.url) as client:
        yield Served(client, running.app)


# Behaviours, from Python


def test_names_never_set_get_the_default():
    behaviours = Behaviours()
    assert behaviours.get("db") == Behaviour(200, 0.0, "normal", 5)
    assert behaviours.hits("db") == 0
    assert behaviours.as_dict() == {"services": {}, "hits": {}}


def test_set_replaces_the_whole_behaviour_and_reset_forgets_it():
    behaviours = Behaviours()
    behaviours.set("db", status=500, delay=1)
    assert behaviours.get("db") == Behaviour(status=500, delay=1.0)
    behaviours.set("db", mode="hang")
    assert behaviours.get("db") == Behaviour(mode="hang")
    behaviours.set("cache", status=503)
    behaviours.record_hit("db")
    behaviours.reset("db")
    assert behaviours.get("db") == Behaviour()
    assert behaviours.hits("db") == 0
    assert list(behaviours.as_dict()["services"]) == ["cache"]
    behaviours.reset()
    assert behaviours.as_dict() == {"services": {}, "hits": {}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": 100}, "1xx codes are interim"),
        ({"status": 600}, "status must be between 200 and 599, got 600"),
        ({"status": True}, "status must be an integer, got True"),
        ({"status": "500"}, "status must be an integer, got '500'"),
        ({"delay": -0.1}, "delay must be between 0 and 60 seconds"),
        ({"delay": 61}, "delay must be between 0 and 60 seconds"),
        ({"delay": float("nan")}, "delay must be between 0 and 60 seconds"),
        ({"delay": "1"}, "delay must be a number of seconds"),
        ({"mode": "explode"}, "mode must be one of normal, hang, reset, slow_body"),
        ({"chunks": 0}, "chunks must be between 1 and 100"),
        ({"chunks": 2.5}, "chunks must be an integer"),
    ],
)
def test_invalid_behaviours_say_what_is_wrong(fields, message):
    with pytest.raises(BehaviourError, match=message):
        Behaviours().set("db", **fields)


def test_names_must_be_url_safe_and_bad_values_are_quoted_briefly():
    with pytest.raises(BehaviourError, match="a service name is 1 to 100 letters"):
        Behaviours().set("a/b")
    with pytest.raises(BehaviourError) as raised:
        Behaviour(status="x" * 10_000)
    assert len(str(raised.value)) < 100


# Answers, in process and over TCP


@pytest.mark.asyncio
async def test_default_answer(served):
    response = await served.client.get("/svc/db")
    assert response.status_code == 200
    assert response.text == "ok db"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.behaviours.hits("db") == 1


@pytest.mark.asyncio
async def test_status_and_delay(served):
    served.behaviours.set("db", status=503, delay=0.2)
    started = time.monotonic()
    response = await served.client.get("/svc/db")
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 503
    assert response.text == "error 503 db"


@pytest.mark.asyncio
async def test_control_api_round_trip(served):
    client = served.client
    change = {"status": 500, "delay": 0.05, "mode": "normal"}
    response = await client.put("/_control/db", json=change)
    assert response.status_code == 200
    expected = {**change, "chunks": 5}
    assert response.json() == {"name": "db", "behaviour": expected, "hits": 0}
    assert served.behaviours.get("db") == Behaviour(**expected)

    assert (await client.get("/svc/db")).status_code == 500
    listing = (await client.get("/_control")).json()
    assert listing == {"services": {"db": expected}, "hits": {"db": 1}}
    assert (await client.get("/_control/db")).json()["hits"] == 1

    reset = (await client.delete("/_control/db")).json()
    assert reset == {"name": "db", "behaviour": Behaviour().as_dict(), "hits": 0}
    assert (await client.get("/svc/db")).status_code == 200
    served.behaviours.set("cache", status=503)
    everything = (await client.delete("/_control")).json()
    assert everything == {"services": {}, "hits": {}}


@pytest.mark.asyncio
async def test_head_gets_headers_only_and_no_content_statuses_get_no_body(served):
    response = await served.client.head("/svc/db")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == "5"
    assert (await served.client.head("/slow?interval=0")).content == b""
    for mode in ("normal", "slow_body"):
        served.behaviours.set("db", status=204, mode=mode)
        response = await served.client.get("/svc/db")
        assert (response.status_code, response.content) == (204, b"")


@pytest.mark.asyncio
async def test_stateless_shortcuts(served):
    started = time.monotonic()
    response = await served.client.get("/status/418?delay=0.1")
    assert time.monotonic() - started >= 0.1
    assert (response.status_code, response.text) == (418, "418 I'm a Teapot")
    assert (await served.client.get("/status/599")).text == "599"
    slow = await served.client.get("/slow?chunks=3&interval=0.01")
    assert slow.text == "chunk 1/3\nchunk 2/3\nchunk 3/3\n"
    assert "PUT    /_control/<name>" in (await served.client.get("/")).text


@pytest.mark.asyncio
async def test_unknown_paths_and_methods(served):
    for path in ("/nope", "/svc/", "/svc/a/b", "/_control/a/b", "/svc/a%20b"):
        response = await served.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]
    response = await served.client.post("/svc/db")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert "POST is not allowed here" in response.json()["error"]


# Validation: 400 with a JSON error that says what is wrong


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"not json", "the body is not valid JSON"),
        (b"\xff\xfe\xfa", "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b'{"colour": "red"}', "unknown field(s): 'colour'; allowed: chunks, delay"),
        (b'{"status": 100}', "1xx codes are interim"),
        (b'{"status": true}', "status must be an integer"),
        (b'{"delay": NaN}', "delay must be between 0 and 60 seconds"),
        (b'{"delay": 1e999}', "delay must be between 0 and 60 seconds"),
        (b'{"mode": "explode"}', "mode must be one of"),
        (b"[" * 60_000, "the body is nested too deeply"),
        (b" " * 70_000, "the body is larger than 65536 bytes"),
    ],
)
async def test_control_input_is_validated(asgi, body, message):
    response = await asgi.client.put("/_control/db", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert asgi.behaviours.as_dict()["services"] == {}


@pytest.mark.asyncio
async def test_control_names_are_validated(asgi):
    for method in ("GET", "PUT", "DELETE"):
        response = await asgi.client.request(method, "/_control/a b", json={})
        assert response.status_code == 400
        assert "a service name is" in response.json()["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status/abc", "the status code must be a number such as 503, got 'abc'"),
        ("/status/1000", "the status code must be a number"),
        ("/status/99", "status must be between 200 and 599, got 99"),
        ("/status/200?delay=soon", "delay must be a number of seconds, got 'soon'"),
        ("/status/200?delay=-1", "delay must be between 0 and 60 seconds"),
        ("/status/200?delay=nan", "delay must be between 0 and 60 seconds"),
        ("/status/200?delay=61", "delay must be between 0 and 60 seconds"),
        ("/status/200?dealy=1", "unknown query parameter 'dealy'; allowed: delay"),
        ("/status/200?delay=1&delay=2", "query parameter 'delay' is given twice"),
        ("/status/200?" + "&".join(f"p{n}=1" for n in range(11)), "at most 10"),
        ("/slow?chunks=0", "chunks must be between 1 and 100"),
        ("/slow?chunks=two", "chunks must be a whole number, got 'two'"),
        ("/slow?interval=inf", "interval must be between 0 and 60 seconds"),
        ("/hang?forever=1", "unknown query parameter 'forever'; allowed: none"),
        ("/reset?now=1", "unknown query parameter 'now'; allowed: none"),
    ],
)
async def test_query_input_is_validated(asgi, path, message):
    response = await asgi.client.get(path)
    assert response.status_code == 400
    assert message in response.json()["error"]


# In process only: what ASGITransport can show


@pytest.mark.asyncio
async def test_hang_in_process_ends_when_the_caller_gives_up(asgi):
    asgi.behaviours.set("db", mode="hang")
    for path in ("/svc/db", "/hang"):
        # ASGITransport has no timeouts: the caller's own deadline stands in.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await asgi.client.get(path)
        assert asgi.app.in_flight == 0


@pytest.mark.asyncio
async def test_reset_in_process_raises_connection_reset(asgi):
    asgi.behaviours.set("db", mode="reset")
    with pytest.raises(ConnectionResetError, match="only under uvicorn"):
        await asgi.client.get("/svc/db")
    with pytest.raises(ConnectionResetError):
        await asgi.client.get("/reset")


async def call(app, scope: dict, incoming: list[dict]) -> list[dict]:
    """Run ``app`` on ``scope`` with scripted incoming messages; return what it sent."""
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(method: str, path: str) -> dict:
    return {"type": "http", "method": method, "path": path, "query_string": b""}


@pytest.mark.asyncio
async def test_a_client_that_leaves_gets_no_answer():
    app = create_app()
    app.behaviours.set("db", delay=5)
    gone = {"type": "http.disconnect"}
    started = time.monotonic()
    assert await call(app, http_scope("GET", "/svc/db"), [gone]) == []
    assert time.monotonic() - started < 1
    partial = {"type": "http.request", "body": b'{"sta', "more_body": True}
    assert await call(app, http_scope("PUT", "/_control/db"), [partial, gone]) == []
    assert app.behaviours.get("db").delay == 5


@pytest.mark.asyncio
async def test_lifespan_is_answered_and_other_protocols_refused():
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = await call(create_app(), {"type": "lifespan"}, messages)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    with pytest.raises(ValueError, match="speaks HTTP only"):
        await call(create_app(), {"type": "websocket"}, [])


def test_module_level_app_is_an_upstream_app():
    assert isinstance(app_module.app, UpstreamApp)


# Over TCP: timeouts, chunks and resets


@pytest.mark.asyncio
async def test_hang_times_out_client_side_and_ends_with_the_client(upstream):
    upstream.behaviours.set("db", mode="hang")
    for path in ("/svc/db", "/hang"):
        with pytest.raises(httpx.ReadTimeout):
            await upstream.client.get(path, timeout=0.2)
        # The server noticed the client leave: nothing is left running.
        await eventually(lambda: upstream.app.in_flight == 0)


@pytest.mark.asyncio
async def test_an_abandoned_delay_ends_with_the_client(upstream):
    upstream.behaviours.set("db", delay=30)
    with pytest.raises(httpx.ReadTimeout):
        await upstream.client.get("/svc/db", timeout=0.1)
    await eventually(lambda: upstream.app.in_flight == 0, within=1)


@pytest.mark.asyncio
async def test_slow_body_arrives_in_chunks(upstream):
    upstream.behaviours.set("db", mode="slow_body", delay=0.1, chunks=3)
    started = time.monotonic()
    arrivals = []
    async with upstream.client.stream("GET", "/svc/db") as response:
        headers_after = time.monotonic() - started
        async for chunk in response.aiter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    assert response.headers.get("transfer-encoding") == "chunked"
    assert [chunk for _, chunk in arrivals] == [
        f"ok db {n}/3\n".encode() for n in range(1, 4)
    ]
    # Headers at once, then one chunk per pause (0.1 s; bounds leave slack).
    assert arrivals[0][0] - headers_after >= 0.05
    assert arrivals[-1][0] - arrivals[0][0] >= 0.1


@pytest.mark.asyncio
async def test_a_slow_body_stops_when_the_client_leaves(upstream):
    async with upstream.client.stream("GET", "/slow?chunks=100&interval=0.02") as r:
        async for _ in r.aiter_raw():
            break
    await eventually(lambda: upstream.app.in_flight == 0, within=1)


@pytest.mark.asyncio
async def test_reset_mode_resets_the_connection(upstream):
    upstream.behaviours.set("db", mode="reset", delay=0.1)
    started = time.monotonic()
    with pytest.raises(RESET_ERRORS):
        await upstream.client.get("/svc/db")
    assert time.monotonic() - started >= 0.1
    with pytest.raises(RESET_ERRORS):
        await upstream.client.get("/reset")
    assert (await upstream.client.get("/svc/other")).text == "ok other"
    await eventually(lambda: upstream.app.in_flight == 0)


@pytest.mark.asyncio
async def test_stopping_resets_requests_in_flight_and_then_refuses():
    # The client outlives the server, so only the server can end the request.
    async with httpx.AsyncClient(trust_env=False, verify=SSL_CONTEXT) as client:
        async with running_upstream() as running:
            hanging = asyncio.create_task(client.get(f"{running.url}/hang"))
            await eventually(lambda: running.app.in_flight == 1)
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 1
        with pytest.raises(RESET_ERRORS):
            await hanging
        with pytest.raises(httpx.ConnectError):
            await client.get(running.service_url("db"))


@pytest.mark.asyncio
async def test_the_server_stops_when_the_body_raises():
    urls = []

    async def failing_test():
        async with running_upstream() as running:
            urls.append(running.service_url("db"))
            raise KeyError("the test failed")

    with pytest.raises(KeyError):
        await failing_test()
    async with client_for(urls[0]) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("")


@pytest.mark.asyncio
async def test_a_shared_registry_is_used_as_given():
    behaviours = Behaviours()
    behaviours.set("db", status=502)
    async with running_upstream(behaviours=behaviours) as running:
        assert running.behaviours is behaviours
        async with client_for(running.url) as client:
            assert (await client.get("/svc/db")).status_code == 502


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("failure", "error"),
    [("raises", OSError), ("returns", RuntimeError), ("stalls", TimeoutError)],
)
async def test_a_server_that_fails_to_start_is_reported(monkeypatch, failure, error):
    async def serve(self, sockets=None):
        if failure == "raises":
            raise OSError("no luck")
        if failure == "stalls":
            await asyncio.sleep(60)

    monkeypatch.setattr(server_module.EmbeddedServer, "_serve", serve)
    monkeypatch.setattr(server_module, "STARTUP_TIMEOUT", 0.05)
    with pytest.raises(error):
        async with running_upstream():
            pass  # pragma: no cover


@pytest.mark.asyncio
async def test_reset_server_resets_and_leaves_nothing_open():
    async with reset_server() as url:
        async with client_for(url) as client:
            with pytest.raises(RESET_ERRORS):
                await client.get("/anything")
        # A client that never finishes its request line is reset on exit.
        port = int(url.rsplit(":", 1)[1])
        reader, silent = await asyncio.open_connection("127.0.0.1", port)
        silent.write(b"GET / HTT")
        await silent.drain()
        await asyncio.sleep(0.05)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 0.5
    try:
        async with asyncio.timeout(1):
            with pytest.raises(ConnectionResetError):
                await reader.read(1)
    finally:
        silent.close()
    with pytest.raises(ConnectionRefusedError):
        async with asyncio.timeout(1):
            await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost", "::1"])
async def test_servers_listen_on_ipv4_loopback_only(host):
    with pytest.raises(ValueError, match="IPv4 loopback only"):
        async with running_upstream(host):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="IPv4 loopback only"):
        async with reset_server(host):
            pass  # pragma: no cover

    def start_a_thread():
        with UpstreamThread(host):
            pass  # pragma: no cover

    # Off the loop: start() waits for the thread to be ready.
    with pytest.raises(ValueError, match="IPv4 loopback only"):
        await asyncio.to_thread(start_a_thread)


@pytest.mark.asyncio
async def test_ports_out_of_range_are_refused():
    with pytest.raises(ValueError, match="between 0 and 65535"):
        async with running_upstream(port=70_000):
            pass  # pragma: no cover


# The thread variant, for sync code


def test_thread_variant_serves_until_stopped():
    behaviours = Behaviours()
    upstream = UpstreamThread(behaviours=behaviours)
    with pytest.raises(RuntimeError, match="not running"):
        upstream.url  # noqa: B018
    threads_before = set(threading.enumerate())
    with upstream:
        assert upstream.behaviours is behaviours
        with httpx.Client(base_url=upstream.url, trust_env=False) as client:
            assert client.get("/svc/db").text == "ok db"
            upstream.behaviours.set("db", status=500)
            assert client.get(upstream.service_url("db")).status_code == 500
            assert upstream.app.in_flight == 0
        with pytest.raises(RuntimeError, match="already running"):
            upstream.start()
        url = upstream.url
    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, trust_env=False)


def test_thread_variant_reports_a_failed_start():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"), UpstreamThread(port=port):
            pass  # pragma: no cover


def test_thread_variant_reports_a_start_that_stalls(monkeypatch):
    async def stall(self, sockets=None):
        await asyncio.sleep(60)

    monkeypatch.setattr(server_module.EmbeddedServer, "_serve", stall)
    monkeypatch.setattr(server_module, "STARTUP_TIMEOUT", 0.05)
    with pytest.raises(TimeoutError), UpstreamThread():
        pass  # pragma: no cover


# python -m sampleproject.upstream


def test_command_rejects_a_bad_port_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "sampleproject.upstream", "--port", "notanumber"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "argument --port: expected a port number" in result.stderr
    assert "'notanumber'" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "8o01"], "expected a port number from 0 to 65535, got '8o01'"),
        (["--port", "-1"], "a port is from 0 to 65535, got -1"),
        (["--port", "70000"], "a port is from 0 to 65535, got 70000"),
        (["--log-level", "loud"], "invalid choice: 'loud'"),
        (["--host", "0.0.0.0"], "unrecognized arguments: --host"),
    ],
)
def test_command_rejects_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        command.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_command_reports_a_busy_port(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            command.main(["--port", str(port)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in err


def test_command_takes_ctrl_c_as_a_normal_stop(monkeypatch, capsys):
    class InterruptedServer(uvicorn.Server):
        def run(self, sockets=None):
            (listener,) = sockets
            assert listener.getsockname()[0] == "127.0.0.1"
            assert self.config.log_level == "warning"
            listener.close()
            raise KeyboardInterrupt

    monkeypatch.setattr(command.uvicorn, "Server", InterruptedServer)
    assert command.main(["--port", "0", "--log-level", "warning"]) == 0
    assert capsys.readouterr().out.startswith("Fake upstream on http://127.0.0.1:")


def test_command_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "sampleproject.upstream", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("Fake upstream on http://127.0.0.1:")
        # Printed once the port listens: no need to retry.
        url = first_line.split()[3]
        assert httpx.get(f"{url}/svc/db", trust_env=False).text == "ok db"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


# GET /svc/<name>?status=&delay=: one request's answer, as in the tutorial's
# fakeupstream.py (whose delay is in milliseconds; here it is in seconds).


@pytest.mark.asyncio
async def test_the_tutorials_query_works_here(served):
    response = await served.client.get("/svc/search?status=503&delay=0")
    assert (response.status_code, response.text) == (503, "error 503 search")
    assert served.behaviours.hits("search") == 1


@pytest.mark.asyncio
async def test_the_query_overrides_the_behaviour_for_one_request(served):
    served.behaviours.set("db", status=500, delay=0.0)
    started = time.monotonic()
    response = await served.client.get("/svc/db?status=200&delay=0.2")
    assert time.monotonic() - started >= 0.2
    assert (response.status_code, response.text) == (200, "ok db")
    # Only what the query names is replaced, and only for that request.
    assert (await served.client.get("/svc/db?delay=0")).status_code == 500
    assert served.behaviours.get("db") == Behaviour(status=500)
    assert served.behaviours.hits("db") == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=oops", "the status code must be a number such as 503, got 'oops'"),
        ("status=99", "status must be between 200 and 599, got 99"),
        ("status=1000", "the status code must be a number such as 503"),
        ("delay=soon", "delay must be a number of seconds, got 'soon'"),
        ("delay=300", "delay must be between 0 and 60 seconds, got 300.0"),
        ("delay=-1", "delay must be between 0 and 60 seconds"),
        ("delay=nan", "delay must be between 0 and 60 seconds"),
        ("dealy=1", "unknown query parameter 'dealy'; allowed: delay, status"),
        ("status=503&status=200", "query parameter 'status' is given twice"),
    ],
)
async def test_bad_query_values_are_a_400_that_says_why(asgi, query, message):
    response = await asgi.client.get(f"/svc/db?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]
    # A refused request is not a hit: the checker's counts stay exact.
    assert asgi.behaviours.hits("db") == 0


@pytest.mark.asyncio
async def test_the_routes_index_lists_the_query(asgi):
    index = (await asgi.client.get("/")).text
    assert "GET    /svc/<name>?status=503&delay=0.5" in index
