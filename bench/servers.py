"""Through real servers: ``python -m bench run --only servers``.

Each server runs one worker process (gunicorn's gthread worker with
:data:`GTHREAD_THREADS` threads) on a free port of 127.0.0.1, in its own
process group, and serves either the Django app (:mod:`bench.server_django`,
with the middleware ``startproject`` writes) or the raw app with no framework
(:mod:`bench.server_apps`), the floor Django's cost is a ratio to. ``wrk``
makes the load and reports through ``bench/wrk_report.lua``: requests per
second, and latency percentiles.

The groups:

- ``servers-trivial``: a view that returns ``ok``, 50 connections;
- ``servers-sleep``: a view that waits 50 ms, ``time.sleep`` in a sync view,
  ``await asyncio.sleep`` in an async one, 50 connections;
- ``servers-check-all``: the sample project's ``POST /api/check-all/`` and its
  sync twin, 50 services on the fake upstream answering after 200 ms each, one
  connection, as a logged-in user through the CSRF middleware;
- ``servers-sse``: how many event streams one worker holds, opened in steps by
  an asyncio client (``wrk`` cannot hold streams open), with the worker's
  memory (``VmRSS``) and OS threads (``Threads``) read from
  ``/proc/<pid>/status`` at each step.

Every ASGI case also records the worker's event-loop lag while wrk runs: a
probe task inside the worker (:mod:`bench.loop_lag`) sleeps 10 ms again and
again, and how late it wakes is the lag, kept as p50, p99 and max in
``loop_lag_ms``. The trivial and sleep groups add, on uvicorn, Django's handler
without its per-request thread-sensitive context (``async-view-shared-thread``),
to show how much of Django's lag the thread it starts per request causes.

A missing ``wrk`` or server package skips its cases, with a line in the output
and in the JSON. A server that does not start is a one-line error. Every server
started is stopped, with its whole process group, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import importlib.metadata
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import loop_lag, stats
from bench.cli import BenchError, die_with_parent

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("wrk_report.lua")
HOST = "127.0.0.1"

WORKERS = 1
GTHREAD_THREADS = 50
GEVENT_CONNECTIONS = 1000  # greenlets gevent's worker runs at once
CONNECTIONS = 50
START_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
WRK_TIMEOUT = 30  # wrk's own per-request timeout, in seconds
PROBE_TIMEOUT = 1.0  # seconds a plain request may take while streams are open
CHECK_ALL_SERVICES = 50
CHECK_ALL_DELAY = 0.2  # seconds each fake upstream service takes to answer

# Per mode: how long each case is measured. The in-process profile (tenths of
# a second per value) is too short for a load generator, so the suite keeps its
# own unless the command line gives values explicitly. A trivial view keeps
# the worker busy from the first request to the last, so its rate does not
# depend on the run's length: half a second gives the same rate as a second.
# A view that waits is different: each connection's request in flight at the
# stop is lost, a share of the run that halves as the run doubles, so those
# runs keep a whole second.
PROFILES = {
    "full": {
        "values": 2,
        "value_seconds": 1,
        "trivial_value_seconds": 0.5,
        "warmup_seconds": 0.5,
        "sse_steps": (GTHREAD_THREADS, 100, 500, 1000),
        "sse_step_timeout": 2,
        "check_all_sync_seconds": 12,
    },
    "quick": {
        "values": 1,
        "value_seconds": 1,
        "trivial_value_seconds": 1,
        "warmup_seconds": 0,
        "sse_steps": (),
        "sse_step_timeout": 2,
        "check_all_sync_seconds": 12,
    },
}
# A case that follows another on the same server needs no second of wrk to
# warm up: the process is warm, and this many requests, one at a time, warm
# the case's own path (its view, its URL, its template).
WARMUP_REQUESTS = 10
READY_POLL_SECONDS = 0.02  # between readiness polls while a server starts

GROUPS = {
    "servers-trivial": "A trivial view through real servers",
    "servers-sleep": "A view that waits 50 ms on I/O, 50 connections",
    "servers-check-all": "Checking 50 services that take 200 ms each",
    "servers-sse": "Event streams held open by one worker",
}


# The servers.


@dataclass(frozen=True)
class Server:
    name: str
    label: str
    interface: str  # "wsgi" or "asgi"
    package: str  # the distribution that must be installed
    module: str  # the module that must be importable

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def command(self, target: str, port: int) -> list[str]:
        python = [sys.executable, "-m"]
        bind = f"{HOST}:{port}"
        gunicorn = [
            *python,
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--bind",
            bind,
            "--log-level",
            "warning",
            "--graceful-timeout",
            "1",
        ]
        if self.name == "gunicorn-sync":
            return [*gunicorn, "--worker-class", "sync", target]
        if self.name == "gunicorn-gthread":
            threads = ["--threads", str(GTHREAD_THREADS)]
            return [*gunicorn, "--worker-class", "gthread", *threads, target]
        if self.name == "gunicorn-uvicorn":
            return [*gunicorn, "--worker-class", "uvicorn_worker.UvicornWorker", target]
        if self.name == "gunicorn-gevent":
            # gevent's worker patches the standard library (time.sleep, socket,
            # threading) before it loads the app: a blocking call in a sync
            # view yields to the other greenlets of the one worker.
            connections = ["--worker-connections", str(GEVENT_CONNECTIONS)]
            return [*gunicorn, "--worker-class", "gevent", *connections, target]
        if self.name == "daphne":
            # --port first: _port_of() reads the first --port or --bind.
            return [
                *python,
                "daphne",
                "--port",
                str(port),
                "--bind",
                HOST,
                "--verbosity",
                "0",
                "--application-close-timeout",
                "1",
                target,
            ]
        if self.name == "hypercorn":
            return [
                *python,
                "hypercorn",
                "--bind",
                bind,
                "--workers",
                str(WORKERS),
                "--log-level",
                "warning",
                "--graceful-timeout",
                "1",
                target,
            ]
        if self.name == "uvicorn":
            return [
                *python,
                "uvicorn",
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--lifespan",
                "off",
                "--timeout-graceful-shutdown",
                "1",
                target,
            ]
        if self.name == "granian":
            return [
                *python,
                "granian",
                "--interface",
                "asginl",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--no-ws",
                "--log-level",
                "warning",
                "--workers-kill-timeout",
                "1",
                target,
            ]
        raise ValueError(self.name)  # pragma: no cover - SERVERS lists them all


SERVERS = {
    server.name: server
    for server in (
        Server(
            "gunicorn-sync", "gunicorn, sync worker", "wsgi", "gunicorn", "gunicorn"
        ),
        Server(
            "gunicorn-gthread",
            f"gunicorn, gthread worker ({GTHREAD_THREADS} threads)",
            "wsgi",
            "gunicorn",
            "gunicorn",
        ),
        Server("uvicorn", "uvicorn", "asgi", "uvicorn", "uvicorn"),
        Server(
            "gunicorn-uvicorn",
            "gunicorn, uvicorn worker",
            "asgi",
            "uvicorn-worker",
            "uvicorn_worker",
        ),
        Server("granian", "granian", "asgi", "granian", "granian"),
        Server(
            "gunicorn-gevent", "gunicorn, gevent worker", "wsgi", "gevent", "gevent"
        ),
        Server("daphne", "daphne", "asgi", "daphne", "daphne"),
        Server("hypercorn", "hypercorn", "asgi", "hypercorn", "hypercorn"),
    )
}

# The ASGI apps carry the loop-lag probe (bench/server_probed.py).
APPS = {
    ("raw", "wsgi"): "bench.server_apps:wsgi_app",
    ("raw", "asgi"): "bench.server_probed:raw",
    ("django", "wsgi"): "bench.server_django:wsgi",
    ("django", "asgi"): "bench.server_probed:django",
    ("django-shared-thread", "asgi"): "bench.server_probed:django_shared_thread",
}
READY_PATHS = {
    "raw": "/trivial/",
    "django": "/trivial/sync/",
    "django-shared-thread": "/trivial/sync/",
}


# The cases.


@dataclass(frozen=True)
class ServerCase:
    group: str
    server: str
    app: str  # "raw", "django" or "django-shared-thread"
    view: str  # "raw", "sync" or "async"
    path: str
    connections: int = CONNECTIONS
    method: str = "GET"

    @property
    def name(self) -> str:
        if self.app == "raw":
            return f"{self.server}.raw"
        if self.app == "django-shared-thread":
            return f"{self.server}.{self.view}-view-shared-thread"
        return f"{self.server}.{self.view}-view"

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def baseline(self) -> str | None:
        if self.app == "raw" or self.group == "servers-check-all":
            return None
        return f"{self.server}.raw"

    @property
    def label(self) -> str:
        what = {
            "raw": f"raw {SERVERS[self.server].interface.upper()} app",
            "sync": "Django, sync view",
            "async": "Django, async view",
        }[self.view]
        if self.app == "django-shared-thread":
            what += ", no per-request thread"
        return f"{what} on {SERVERS[self.server].label}"

    def params(self) -> dict:
        return {
            "server": self.server,
            "interface": SERVERS[self.server].interface,
            "app": self.app,
            "view": self.view,
            "path": self.path,
            "method": self.method,
            "connections": self.connections,
            "workers": WORKERS,
            "version": server_version(self.server),
            **worker_params(self.server),
        }


def server_version(server: str) -> str | None:
    """The installed version of the package that provides ``server``."""
    try:
        return importlib.metadata.version(SERVERS[server].package)
    except importlib.metadata.PackageNotFoundError:
        return None


def worker_params(server: str) -> dict:
    """What a worker holds at once beyond one request, where the server says."""
    if server == "gunicorn-gthread":
        return {"threads": GTHREAD_THREADS}
    if server == "gunicorn-gevent":
        return {"worker_connections": GEVENT_CONNECTIONS}
    return {}


def natural_view(server: str) -> str:
    return "sync" if SERVERS[server].interface == "wsgi" else "async"


def wrk_cases(mode: str, servers: list[str]) -> list[ServerCase]:
    if mode == "quick":
        return [
            ServerCase("servers-trivial", "uvicorn", "raw", "raw", "/trivial/"),
            ServerCase(
                "servers-trivial", "uvicorn", "django", "async", "/trivial/async/"
            ),
        ]
    cases = []
    for group, prefix in (("servers-trivial", "trivial"), ("servers-sleep", "sleep")):
        for server in SERVERS:
            cases.append(ServerCase(group, server, "raw", "raw", f"/{prefix}/"))
            view = natural_view(server)
            cases.append(
                ServerCase(group, server, "django", view, f"/{prefix}/{view}/")
            )
            if server == "uvicorn":
                # A sync view under ASGI: Django runs it in a thread of the
                # request's own (thread-sensitive) executor.
                cases.append(
                    ServerCase(group, server, "django", "sync", f"/{prefix}/sync/")
                )
                # The async view again, with no thread started per request.
                cases.append(
                    ServerCase(
                        group,
                        server,
                        "django-shared-thread",
                        "async",
                        f"/{prefix}/async/",
                    )
                )
    check_all = [
        ServerCase(
            "servers-check-all",
            "uvicorn",
            "django",
            "async",
            "/api/check-all/",
            connections=1,
            method="POST",
        ),
        ServerCase(
            "servers-check-all",
            "gunicorn-sync",
            "django",
            "sync",
            "/api/check-all-sync/",
            connections=1,
            method="POST",
        ),
    ]
    return [case for case in cases + check_all if case.server in servers]


@dataclass(frozen=True)
class StreamCase:
    server: str
    view: str
    path: str
    group: str = "servers-sse"

    @property
    def name(self) -> str:
        return f"{self.server}.{self.view}-view"

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def label(self) -> str:
        return f"Django, {self.view} event stream on {SERVERS[self.server].label}"


SSE_CASES = (
    StreamCase("uvicorn", "async", "/events/"),
    StreamCase("gunicorn-gthread", "sync", "/events/sync/"),
    # The other ASGI servers, for the deployment guide's per-server table.
    StreamCase("daphne", "async", "/events/"),
    StreamCase("hypercorn", "async", "/events/"),
    StreamCase("granian", "async", "/events/"),
)


# Starting and stopping a server.


def _new_session_dying_with_parent() -> None:  # pragma: no cover - in the child
    """Its own process group, and SIGKILL if the harness dies (Linux)."""
    os.setsid()
    die_with_parent()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def last_line(log) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "no output"


def http_get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": HOST})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Running:
    """A started server: its port, its process and the worker that serves."""

    what: str
    port: int
    process: subprocess.Popen
    log: object = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pid(self) -> int:
        """The process that serves requests: gunicorn's, granian's, hypercorn's child.

        hypercorn's supervisor also starts multiprocessing's resource tracker,
        which serves nothing.
        """
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        workers = [child for child in children if not _is_resource_tracker(child)]
        return int(workers[0]) if workers else pid


def _is_resource_tracker(pid: str) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in command


@contextlib.contextmanager
def running_server(
    command: list[str],
    ready_path: str,
    *,
    what: str,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[Running]:
    """Run ``command`` (which must serve on its port) until the block ends.

    The port is the one ``command`` names after ``--port`` or ``--bind``;
    ``ready_path`` is polled until it answers 200. The server's whole process
    group is stopped on the way out, and a server that exits or does not
    answer in time is a one-line error with the last line it printed.
    """
    port = _port_of(command)
    with tempfile.TemporaryFile() as log:
        try:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_new_session_dying_with_parent,  # one thread here
            )
        except OSError as exc:
            raise BenchError(
                f"{what}: cannot start {command[0]}: {exc.strerror}"
            ) from None
        running = Running(what, port, process, log)
        try:
            wait_until_ready(running, ready_path, timeout)
            yield running
        finally:
            stop(process)


def _port_of(command: list[str]) -> int:
    for index, arg in enumerate(command):
        if arg == "--port":
            return int(command[index + 1])
        if arg == "--bind":
            return int(command[index + 1].rpartition(":")[2])
    raise ValueError(f"no --port or --bind in {command}")


def wait_until_ready(running: Running, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = running.process.poll()
        if code is not None:
            raise BenchError(
                f"{running.what} exited with status {code} before answering:"
                f" {last_line(running.log)}"
            )
        try:
            status, _ = http_get(running.port, path, timeout=2.0)
        except (OSError, http.client.HTTPException):
            status = None
        if status == 200:
            return
        if time.monotonic() > deadline:
            detail = f"HTTP {status}" if status else last_line(running.log)
            raise BenchError(
                f"{running.what} did not answer GET {path} within {timeout:.0f} s:"
                f" {detail}"
            )
        time.sleep(READY_POLL_SECONDS)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, then reap."""
    group = process.pid  # the leader of its own session and group
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    # Whatever is left of the group (a worker whose master is gone) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + STOP_TIMEOUT
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILL is sent; the kernel is still delivering it


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def server_env(db: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env["DJANGO_SETTINGS_MODULE"] = "bench.server_settings"
    if db:
        env["BENCH_DB"] = db
    return env


def start(server: str, app: str, env: dict[str, str]):
    definition = SERVERS[server]
    target = APPS[(app, definition.interface)]
    command = definition.command(target, free_port())
    return running_server(
        command, READY_PATHS[app], what=f"{definition.label} ({app} app)", env=env
    )


# wrk.

WRK_LINE = re.compile(r"^WRK_JSON (\{.*\})$", re.MULTILINE)


def parse_wrk(stdout: str) -> dict:
    """The JSON line of ``wrk_report.lua``, with requests/s and milliseconds."""
    match = WRK_LINE.search(stdout)
    if match is None:
        raise ValueError("no WRK_JSON line in wrk's output")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "requests_per_second": raw["requests"] / seconds if seconds else 0.0,
        "latency_ms": {
            key: latency[key] / 1000
            for key in ("p50", "p90", "p99", "mean", "stdev", "min", "max")
        },
        "errors": raw["errors"],
        "bytes": raw["bytes"],
    }


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def run_wrk(
    wrk: str,
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> dict:
    """One wrk run of ``seconds`` (fractions allowed), parsed by :func:`parse_wrk`.

    wrk's ``-d`` takes whole seconds, and a run outlasts it by up to 0.1 s
    (wrk's threads look at the stop flag every 100 ms). So wrk gets a second
    more than asked, and SIGINT at ``seconds``: wrk treats it as the end of the
    run, stops at once and still reports, with the time the run really took.
    """
    command = [wrk, "-t1", f"-c{connections}", f"-d{math.ceil(seconds) + 1}s"]
    command += ["--timeout", f"{WRK_TIMEOUT}s", "-s", str(LUA)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    env = dict(os.environ, WRK_METHOD=method)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=die_with_parent,
    )
    try:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WRK_TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {url}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    try:
        return parse_wrk(stdout)
    except ValueError:
        detail = (stderr.strip() or stdout.strip()).splitlines()
        raise BenchError(
            f"wrk failed on {url}: {detail[-1] if detail else process.returncode}"
        ) from None


def drain(running: Running, path: str) -> None:
    """Wait until the server has answered what wrk left queued when it stopped.

    A server that serves one request at a time still has the connections wrk
    opened last in its queue; the next run must not start behind them.
    """
    with contextlib.suppress(OSError, http.client.HTTPException):
        http_get(running.port, path, timeout=WRK_TIMEOUT)


def measure(
    case: ServerCase,
    running: Running,
    profile: dict,
    wrk: str,
    headers: dict[str, str] | None = None,
    *,
    warm: bool = False,
    last: bool = False,
) -> dict:
    """Measure ``case`` on ``running``.

    ``warm``: another case has run on this server, so a GET case warms up with
    :data:`WARMUP_REQUESTS` requests instead of a run of wrk. ``last``: the
    server stops next, so nothing waits for wrk's queued requests to drain.
    """
    url = running.base_url + case.path
    seconds, values = profile["value_seconds"], profile["values"]
    if case.group == "servers-trivial":
        seconds = profile["trivial_value_seconds"]
    if case.group == "servers-check-all" and case.view == "sync":
        # One request takes about 50 x 200 ms: one value, long enough for one
        # with a margin (a second call would only queue behind it).
        seconds, values = profile["check_all_sync_seconds"], 1
    options = {
        "connections": case.connections,
        "method": case.method,
        "headers": headers,
    }

    asgi = SERVERS[case.server].interface == "asgi"
    lag: list[float] = []

    def one_run(seconds: float, *, measured: bool = True, drained: bool = True) -> dict:
        if asgi:
            lag_samples(running)  # starts the worker's list afresh
        result = run_wrk(wrk, url, seconds=seconds, **options)
        if asgi and measured:
            lag.extend(lag_samples(running))
        if drained:
            drain(running, READY_PATHS[case.app])
        return result

    if profile["warmup_seconds"] and not (
        case.group == "servers-check-all" and case.view == "sync"
    ):
        if warm and case.method == "GET":
            warm_up(running, case.path, WARMUP_REQUESTS)
        else:
            one_run(profile["warmup_seconds"], measured=False)
    runs = [
        one_run(seconds, drained=not (last and value == values - 1))
        for value in range(values)
    ]
    for run in runs:
        errors = sum(run["errors"].values())
        if run["requests"] == 0 or run["errors"]["status"] or errors >= run["requests"]:
            raise BenchError(
                f"{case.key}: {run['requests']} responses in {run['seconds']} s"
                f" of {case.method} {case.path}, errors {run['errors']}"
            )
    rates = [run["requests_per_second"] for run in runs]
    summary = stats.summarize(rates)
    result = {
        "label": case.label,
        "params": {**case.params(), "seconds": seconds, "values": values},
        "unit": "requests/s",
        "wrk_runs": runs,
        "stats": summary,
        "unstable": summary["cv"] > stats.CV_THRESHOLD,
        "latency_ms": {
            key: statistics.median(run["latency_ms"][key] for run in runs)
            for key in ("p50", "p90", "p99", "mean")
        },
        "errors": {
            kind: sum(run["errors"][kind] for run in runs) for kind in runs[0]["errors"]
        },
    }
    if asgi:
        result["loop_lag_ms"] = {
            **loop_lag.summarize(lag),
            "probe_interval_ms": loop_lag.PROBE_INTERVAL * 1000,
        }
    if case.baseline:
        result["baseline"] = case.baseline
    return result


def warm_up(running: Running, path: str, requests: int) -> None:
    """``requests`` GETs of ``path``, one at a time; each must answer 200."""
    for _ in range(requests):
        try:
            status, _ = http_get(running.port, path, timeout=WRK_TIMEOUT)
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"{running.what}: warm-up GET {path}: {exc}") from None
        if status != 200:
            raise BenchError(f"{running.what}: warm-up GET {path} answered {status}")


def lag_samples(running: Running) -> list[float]:
    """The worker's loop-lag samples (ms) since the last call, emptied."""
    try:
        status, body = http_get(running.port, loop_lag.LAG_PATH, timeout=WRK_TIMEOUT)
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{running.what}: no loop-lag samples: {exc}") from None
    if status != 200:
        raise BenchError(f"{running.what}: GET {loop_lag.LAG_PATH} answered {status}")
    return json.loads(body)


# Event streams.


async def open_stream(port: int, path: str, opened: asyncio.Event, writers: list):
    """Open one stream; set ``opened`` once its first event has arrived."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writers.append(writer)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    received = b""
    for marker in (b"\r\n\r\n", b"retry:"):  # the headers, then the first event
        while marker not in received:
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("closed before the first event")
            received += chunk
        if not received.startswith(b"HTTP/1.1 200"):
            status = received.split(b"\r\n", 1)[0].decode(errors="replace")
            raise ConnectionError(f"answered {status!r}")
    opened.set()
    await asyncio.Event().wait()  # hold it open until cancelled


def proc_status(pid: int) -> dict:
    """VmRSS (bytes) and Threads of a process, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "VmRSS":
            values["rss_bytes"] = int(value.split()[0]) * 1024
        elif name == "Threads":
            values["threads"] = int(value)
    return values


async def probe(port: int, path: str, seconds: float) -> float | None:
    """Milliseconds for one plain request while the streams are open, or None."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                )
                writer.write(request.encode())
                status = await reader.readline()
                await reader.read()
            finally:
                writer.close()
    except (TimeoutError, OSError):
        return None
    if not status.startswith(b"HTTP/1.1 200"):
        return None
    return (time.perf_counter() - started) * 1000


async def hold_streams(
    port: int, pid: int, path: str, probe_path: str, steps, step_timeout: float
) -> list[dict]:
    """Open streams up to each step's count; measure the worker at each step."""
    await asyncio.sleep(0.3)
    results = [{"target": 0, "held": 0, **proc_status(pid)}]
    tasks: list[asyncio.Task] = []
    events: list[asyncio.Event] = []
    writers: list = []
    try:
        for target in steps:
            while len(tasks) < target:
                opened = asyncio.Event()
                events.append(opened)
                tasks.append(
                    asyncio.create_task(open_stream(port, path, opened, writers))
                )
            deadline = time.monotonic() + step_timeout
            while time.monotonic() < deadline:
                if all(
                    event.is_set() or task.done()
                    for event, task in zip(events, tasks, strict=True)
                ):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let the worker settle before reading it
            status = proc_status(pid)
            held = sum(
                event.is_set() and not task.done()
                for event, task in zip(events, tasks, strict=True)
            )
            failed = [task for task in tasks if task.done() and not task.cancelled()]
            answered = await probe(port, probe_path, PROBE_TIMEOUT)
            results.append(
                {
                    "target": target,
                    "held": held,
                    "failed": len(failed),
                    "probe_ms": answered,
                    **status,
                }
            )
            if not held:
                if failed:
                    error = failed[0].exception()
                    why = f"{type(error).__name__}: {error}"
                else:
                    why = f"no first event within {step_timeout} s"
                raise BenchError(f"no event stream opened on GET {path}: {why}")
            if held < target and held == results[-2]["held"]:
                # Full: the step added streams and the worker served none of
                # them. A larger step would only wait out its timeout again.
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
    return results


def stream_result(case: StreamCase, steps: list[dict], step_timeout: float) -> dict:
    # Per stream: from the largest step at which every stream was served, so
    # that connections queued without an answer do not count as streams.
    base = steps[0]
    full = [step for step in steps[1:] if step["held"] == step["target"]]
    per_stream = {}
    if full:
        top = full[-1]
        per_stream = {
            "at": top["target"],
            "rss_kib": (top["rss_bytes"] - base["rss_bytes"]) / top["held"] / 1024,
            "threads": (top["threads"] - base["threads"]) / top["held"],
        }
    held = max(step["held"] for step in steps)
    return {
        "label": case.label,
        "params": {
            "server": case.server,
            "view": case.view,
            "path": case.path,
            "workers": WORKERS,
            "step_timeout_seconds": step_timeout,
            "probe_timeout_seconds": PROBE_TIMEOUT,
            **worker_params(case.server),
        },
        "unit": "streams",
        "steps": steps,
        "per_stream": per_stream,
        "stats": stats.summarize([held]),
        "unstable": False,
    }


def measure_streams(case: StreamCase, env: dict, profile: dict) -> dict:
    steps = profile["sse_steps"]
    timeout = profile["sse_step_timeout"]
    with start(case.server, "django", env) as running:
        probe_path = f"/trivial/{case.view}/"
        results = asyncio.run(
            hold_streams(
                running.port,
                running.worker_pid(),
                case.path,
                probe_path,
                steps,
                timeout,
            )
        )
    return stream_result(case, results, timeout)


# The check-all set-up: the fake upstream, the database, a logged-in user.


@contextlib.contextmanager
def fake_upstream(env: dict) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "sampleproject.upstream", "--port", str(port)]
    command += ["--log-level", "warning"]
    with running_server(command, "/", what="the fake upstream", env=env) as running:
        yield running.base_url


def prepare_database(db: str, upstream: str, env: dict) -> dict:
    command = [sys.executable, "-m", "bench.server_setup", db, upstream]
    command += ["--services", str(CHECK_ALL_SERVICES), "--delay", str(CHECK_ALL_DELAY)]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise BenchError(f"preparing the database failed: {lines[-1] if lines else ''}")
    return json.loads(result.stdout)


def check_all_headers(login: dict) -> dict[str, str]:
    return {"Cookie": login["cookie"], "X-CSRFToken": login["csrf_header"]}


def check_all_once(running: Running, case: ServerCase, headers: dict) -> dict:
    """One request before measuring: it must check every service, all ok."""
    connection = http.client.HTTPConnection(HOST, running.port, timeout=60)
    try:
        connection.request("POST", case.path, headers={"Host": HOST, **headers})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        report = json.loads(body)
    except ValueError:
        report = {}
    if response.status != 200 or report.get("ok") != CHECK_ALL_SERVICES:
        raise BenchError(
            f"{case.key}: POST {case.path} answered {response.status},"
            f" {report.get('ok', '?')} of {CHECK_ALL_SERVICES} services ok"
        )
    return {"checked": report["checked"], "ok": report["ok"]}


# The suite.


def versions() -> dict:
    found = {}
    for package in (
        "gunicorn",
        "uvicorn",
        "uvicorn-worker",
        "granian",
        "h11",
        "daphne",
        "twisted",
        "hypercorn",
        "gevent",
        "greenlet",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    for package in ("httptools", "uvloop"):
        if importlib.util.find_spec(package) is None:
            found[package] = None  # uvicorn falls back to h11 and asyncio
    return found


def profile_for(settings: dict) -> dict:
    mode = settings.get("mode", "full")
    profile = dict(PROFILES[mode])
    explicit = settings.get("explicit", [])
    if "values" in explicit:
        profile["values"] = settings["values"]
    if "value_seconds" in explicit:
        profile["value_seconds"] = max(1, math.ceil(settings["value_seconds"]))
        profile["trivial_value_seconds"] = profile["value_seconds"]
    if "warmup_seconds" in explicit:
        profile["warmup_seconds"] = max(1, math.ceil(settings["warmup_seconds"]))
    options = settings.get("options") or {}
    if options.get("sse_steps") is not None:
        profile["sse_steps"] = tuple(options["sse_steps"])
    return profile


def selected_servers(settings: dict) -> list[str]:
    names = (settings.get("options") or {}).get("servers") or list(SERVERS)
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise BenchError(
            f"unknown server {unknown[0]!r} (servers: {', '.join(SERVERS)})"
        )
    return list(names)


def run(settings: dict, progress) -> dict:
    """The ``servers`` suite: see the module docstring."""
    mode = settings.get("mode", "full")
    profile = profile_for(settings)
    servers = selected_servers(settings)
    groups = {
        name: {"title": title, "cases": {}, "skipped": []}
        for name, title in GROUPS.items()
    }
    cases = wrk_cases(mode, servers)
    streams = [
        case for case in SSE_CASES if case.server in servers and profile["sse_steps"]
    ]

    def skip(group: str, what: str, why: str) -> None:
        groups[group]["skipped"].append({"what": what, "why": why})
        progress.note(f"servers: skipped {what}: {why}")

    wrk = shutil.which(os.environ.get("BENCH_WRK", "wrk"))
    if wrk is None:
        for case in cases:
            skip(case.group, case.name, "wrk not found (apt-get install wrk)")
        cases = []
    runnable = []
    for case in [*cases, *streams]:
        server = SERVERS[case.server]
        if server.available():
            runnable.append(case)
        else:
            skip(case.group, case.name, f"{server.package} is not installed")
    progress.add(len(runnable))

    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp:
        db = str(Path(tmp) / "servers.sqlite3")
        env = server_env(db)
        by_server: dict[tuple[str, str], list[ServerCase]] = {}
        for case in runnable:
            if isinstance(case, ServerCase):
                by_server.setdefault((case.server, case.app), []).append(case)
        needs_upstream = any(case.group == "servers-check-all" for case in runnable)
        with contextlib.ExitStack() as stack:
            headers: dict[str, str] = {}
            if needs_upstream:
                progress.show("servers: starting the fake upstream")
                upstream = stack.enter_context(fake_upstream(env))
                headers = check_all_headers(prepare_database(db, upstream, env))
            elif any(app == "django" for _, app in by_server):
                prepare_database(db, "http://127.0.0.1:9/", env)
            for (server, app), server_cases in by_server.items():
                progress.show(f"servers: starting {server} ({app} app)")
                with start(server, app, env) as running:
                    for index, case in enumerate(server_cases):
                        progress.show(f"servers: {case.key}")
                        # The first case warms the server up with wrk; the
                        # last leaves wrk's queue to the server's stop.
                        order = {
                            "warm": index > 0,
                            "last": index == len(server_cases) - 1,
                        }
                        if case.group != "servers-check-all":
                            result = measure(case, running, profile, wrk, **order)
                        elif case.view == "async":
                            # One call first: every service checked, and up.
                            first = check_all_once(running, case, headers)
                            result = measure(
                                case, running, profile, wrk, headers, **order
                            )
                            result["first_request"] = first
                        else:
                            # The sync twin takes about 50 x 200 ms a call: its
                            # one measured call is all it gets. The async
                            # check shows that the upstream and the login work;
                            # a refused call here is a status error.
                            result = measure(
                                case, running, profile, wrk, headers, **order
                            )
                        groups[case.group]["cases"][case.name] = result
                        rate = result["stats"]["mean"]
                        p99 = result["latency_ms"]["p99"]
                        progress.step(
                            f"{case.key} {rate:,.1f} req/s, p99 {p99:,.1f} ms"
                        )
        for case in runnable:
            if isinstance(case, StreamCase):
                progress.show(f"servers: {case.key}")
                result = measure_streams(case, env, profile)
                groups[case.group]["cases"][case.name] = result
                last = result["steps"][-1]
                progress.step(
                    f"{case.key} held {last['held']} of {last['target']} streams"
                )

    common = {
        "software": versions(),
        "setup": {
            "workers": WORKERS,
            "gthread_threads": GTHREAD_THREADS,
            "wrk_threads": 1,
            "wrk": wrk_version(wrk) if wrk else None,
            "warmup_requests": WARMUP_REQUESTS,
            "profile": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in profile.items()
            },
            "check_all": {
                "services": CHECK_ALL_SERVICES,
                "delay_seconds": CHECK_ALL_DELAY,
            },
        },
    }
    return {
        name: {**group, **common}
        for name, group in groups.items()
        if group["cases"] or group["skipped"]
    }
