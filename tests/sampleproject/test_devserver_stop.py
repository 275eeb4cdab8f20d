"""``make run`` stops cleanly, with streams open, and takes its children with it.

Each test starts the real program (``python -m sampleproject.devserver``, or
``make run`` itself) on free ports, in a session of its own as a terminal
would, stops it one way, and checks that the fake upstream and uvicorn are
gone too. Linux only: the process tree is read from /proc, and the children
learn of a killed parent through ``PR_SET_PDEATHSIG``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sampleproject import devasgi
from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs Linux /proc"
)

STREAMS = 100
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# What uvicorn prints when it had to cancel requests, and what a cancelled or
# failing request prints: none of it may appear.
BAD_LOG_LINES = (
    "Traceback",
    "Exception in ASGI application",
    "graceful shutdown exceeded",
    "ERROR",
)
STAMP = f".venv/{sys.version_info.major}.{sys.version_info.minor}/.installed"


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: split after it.
    return text.rpartition(")")[2].split()


def is_running(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has ended


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = proc_stat(int(stat.parent.name))
        if fields is not None and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def descendants_of(pid: int) -> list[int]:
    found = []
    for child in children_of(pid):
        found += [child, *descendants_of(child)]
    return found


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


@dataclasses.dataclass
class Demo:
    """A started demo: what was launched, and the processes to check on."""

    launched: subprocess.Popen
    port: int
    log: Path
    # Every process found so far: an orphan is no longer a descendant.
    seen: set[int] = dataclasses.field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def processes(self) -> dict[str, int]:
        """The supervisor, its two children, and any tee, by role."""
        roles = {}
        for pid in [self.launched.pid, *descendants_of(self.launched.pid)]:
            line = command_line(pid)
            for role, mark in (
                ("devserver", "sampleproject.devserver"),
                ("upstream", "sampleproject.upstream"),
                ("uvicorn", "sampleproject.devasgi"),
                ("tee", "tee "),
                ("make", "make "),
            ):
                if mark in line and not line.startswith(("bash", "/bin/bash")):
                    roles[role] = pid
        self.seen.update(roles.values())
        return roles

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


# Set when the suite itself runs under make (make test): the make these tests
# start must not take the outer one's options or job server for its own.
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES")


def demo_env(data_dir: Path) -> dict[str, str]:
    return {
        **{name: value for name, value in os.environ.items() if name not in OUTER_MAKE},
        "STATUSBOARD_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    # Shared: the first run migrates, the others find the database ready.
    return tmp_path_factory.mktemp("demo-data")


@contextlib.contextmanager
def started(
    command: list[str], port: int, data_dir: Path, tmp_path: Path
) -> Iterator[Demo]:
    """Start ``command`` in a new session, as a terminal starts a job."""
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        launched = subprocess.Popen(
            command,
            cwd=ROOT,
            env=demo_env(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    demo = Demo(launched, port, log)
    try:
        yield demo
    finally:
        # Whatever the test did, nothing it started may outlive it.
        # (A pid seen earlier is checked again: it may belong to another now.)
        orphans = {pid for pid in demo.seen if "sampleproject." in command_line(pid)}
        for pid in {launched.pid, *descendants_of(launched.pid), *orphans}:
            if is_running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        launched.wait(10)


def wait_until_serving(demo: Demo) -> dict[str, int]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert demo.launched.poll() is None, demo.log_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(demo.url, timeout=2, trust_env=False).status_code == 200:
                processes = demo.processes()
                assert {"devserver", "upstream", "uvicorn"} <= set(processes)
                return processes
        time.sleep(0.2)
    raise AssertionError(f"the demo did not start:\n{demo.log_text()}")


def assert_all_gone(processes: dict[str, int], demo: Demo) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        alive = {role: pid for role, pid in processes.items() if is_running(pid)}
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"still running: {alive}\n{demo.log_text()}")


def devserver_command(port: int, upstream_port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "sampleproject.devserver"),
        *("--port", str(port), "--upstream-port", str(upstream_port)),
    ]


def make_command(port: int, upstream_port: int) -> list[str]:
    """``make run`` on these ports, with this Python, never reinstalling."""
    return [
        *("make", "--no-print-directory", "-o", STAMP, "run"),
        f"PYTHON={sys.executable}",
        f"PORT={port}",
        f"UPSTREAM_PORT={upstream_port}",
    ]


def in_shell(command: list[str], pipeline: str) -> list[str]:
    return ["bash", "-c", shlex.join(command) + pipeline]


# Ctrl+C with 100 event streams open


async def open_stream(client: httpx.AsyncClient, opened: asyncio.Queue) -> str:
    """Read one /events/ stream to its end: "clean", or what went wrong."""
    try:
        async with client.stream("GET", "/events/") as response:
            if response.headers.get("x-board-stream") != "live":
                return f"not a live stream: {response.status_code}"
            chunks = aiter(response.aiter_text())
            first = await anext(chunks)
            await opened.put(first)
            async for _ in chunks:
                pass
    except (httpx.HTTPError, StopAsyncIteration) as error:
        return f"{type(error).__name__}: {error}"
    return "clean"


async def interrupt_with_streams_open(demo: Demo) -> tuple[list[str], float]:
    """Open the streams, press Ctrl+C; each stream's end, and how long it took."""
    limits = httpx.Limits(max_connections=STREAMS + 10)
    async with httpx.AsyncClient(
        base_url=demo.url, limits=limits, timeout=30, trust_env=False
    ) as client:
        opened: asyncio.Queue = asyncio.Queue()
        streams = [
            asyncio.create_task(open_stream(client, opened)) for _ in range(STREAMS)
        ]
        async with asyncio.timeout(30):
            firsts = [await opened.get() for _ in range(STREAMS)]
        assert all(first.startswith("retry: ") for first in firsts)
        # Ctrl+C in a terminal: SIGINT to the whole foreground group.
        os.killpg(demo.launched.pid, signal.SIGINT)
        signalled = time.monotonic()
        async with asyncio.timeout(STOP_TIMEOUT):
            outcomes = await asyncio.gather(*streams)
        return outcomes, time.monotonic() - signalled


def test_ctrl_c_with_100_streams_open_ends_each_cleanly(data_dir, tmp_path):
    port, upstream_port = free_port(), free_port()
    command = devserver_command(port, upstream_port)
    with started(command, port, data_dir, tmp_path) as demo:
        processes = wait_until_serving(demo)
        started_at = time.monotonic()
        outcomes, streams_ended = asyncio.run(interrupt_with_streams_open(demo))
        code = demo.launched.wait(STOP_TIMEOUT)
        # Measured from before the streams opened: an upper bound.
        exited = time.monotonic() - started_at
        log = demo.log_text()
    assert code == 0, log
    assert outcomes == ["clean"] * STREAMS, log
    # Without BoardServer the streams end only when uvicorn gives up on them.
    assert streams_ended < devasgi.GRACEFUL_SHUTDOWN_SECONDS, log
    assert exited < STOP_TIMEOUT, log
    for line in BAD_LOG_LINES:
        assert line not in log, log
    assert "Stopping..." in log
    assert_all_gone(processes, demo)


# However it stops, the children stop with it


def needs_make() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")


def stop_by_signal_to_group(demo: Demo, processes: dict[str, int]) -> None:
    os.killpg(demo.launched.pid, signal.SIGINT)


def stop_by_killing(role: str, signum: int):
    def stop(demo: Demo, processes: dict[str, int]) -> None:
        os.kill(processes[role], signum)

    return stop


WAYS = {
    # make run, then Ctrl+C in its terminal.
    "make-ctrl-c": ("make", "", stop_by_signal_to_group),
    # make run | tee log, then Ctrl+C: SIGINT reaches make, Python and tee.
    "make-tee-ctrl-c": ("make", " | tee {log}", stop_by_signal_to_group),
    # tee ends first (killed, or its disk filled): the output pipe breaks.
    "tee-ends-first": ("make", " | tee {log}", stop_by_killing("tee", signal.SIGTERM)),
    "make-sigterm": ("make", "", stop_by_killing("make", signal.SIGTERM)),
    "make-sigkill": ("make", "", stop_by_killing("make", signal.SIGKILL)),
    "devserver-sigkill": ("python", "", stop_by_killing("devserver", signal.SIGKILL)),
    "devserver-sighup": ("python", "", stop_by_killing("devserver", signal.SIGHUP)),
}


@pytest.mark.parametrize("way", list(WAYS))
def test_the_children_stop_however_make_run_stops(way, data_dir, tmp_path):
    program, pipeline, stop = WAYS[way]
    port, upstream_port = free_port(), free_port()
    if program == "make":
        needs_make()
        command = make_command(port, upstream_port)
    else:
        command = devserver_command(port, upstream_port)
    if pipeline:
        tee_log = tmp_path / "tee.log"
        command = in_shell(command, pipeline.format(log=shlex.quote(str(tee_log))))
    with started(command, port, data_dir, tmp_path) as demo:
        processes = wait_until_serving(demo)
        assert ("make" in processes) == (program == "make")
        assert ("tee" in processes) == bool(pipeline)
        stop(demo, processes)
        assert_all_gone(processes, demo)
        if pipeline:
            assert "Status board on" in tee_log.read_text()
        if way == "devserver-sighup":  # a closed terminal: a clean stop
            assert demo.launched.wait(STOP_TIMEOUT) == 0
        log = demo.log_text()
    assert "Traceback" not in log, log
