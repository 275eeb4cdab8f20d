"""Holding event streams, with and without a thread each: ``--only streams``.

One uvicorn worker serves the sample project's ``/events/`` twice over
(:mod:`bench.stream_apps`): as Django serves it, and through the recipe of
``snippets/performance/streams.py``. An asyncio client opens streams up to
each step (1,000, then 10,000), and at each step the suite reads the worker's
OS threads and memory from ``/proc/<pid>/status``, then publishes one event
and times its arrival on every open stream (from sending the publish request
to reading the event; the client reads all the streams in one process, so its
own work is part of the figure, the same for both apps).

Each step is a case of the group ``streams-recipe`` (``uvicorn.default-1000``,
``uvicorn.recipe-10000``...), in the ``streams`` unit of the servers suite,
with ``event_ms`` added. A step needs a file descriptor per stream in the
client and another in the worker: the suite raises its soft limit on open files
to the hard one (the worker inherits it), and skips a step the hard limit
cannot hold, with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import statistics
import sys
import time

from bench import stats
from bench.cli import BenchError
from bench.servers import (
    HOST,
    PROBE_TIMEOUT,
    free_port,
    probe,
    proc_status,
    running_server,
    server_env,
)

GROUP = "streams-recipe"
TITLE = "Event streams held by one uvicorn worker, with and without a thread each"
APPS = {"default": "bench.stream_apps:default", "recipe": "bench.stream_apps:recipe"}
LABELS = {
    "default": "Django's ASGI handler",
    "recipe": "the stream router (snippets/performance/streams.py)",
}
STEPS = {"full": (1_000, 10_000), "quick": (50,)}
BATCH = 250  # streams opened at once, so the listen backlog never overflows
OPEN_TIMEOUT = 60.0  # seconds for one step's streams to open
EVENT_TIMEOUT = 30.0  # seconds for an event to reach every stream
FDS_PER_STREAM = 1  # in the client, and again in the worker: each has the limit
FD_MARGIN = 200  # for everything else both processes hold

KNOWN_GROUPS = (GROUP,)
KNOWN_CASES = tuple(
    f"{GROUP}/uvicorn.{app}-{step}" for app in APPS for step in STEPS["full"]
)


def command(app: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", APPS[app]),
        *("--host", HOST, "--port", str(port), "--backlog", "4096"),
        *("--log-level", "warning", "--no-access-log", "--lifespan", "off"),
        *("--timeout-graceful-shutdown", "1"),
    ]


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to the hard one; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Streams:
    """The client side: many open streams, and when each saw the last event."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.tasks: list[asyncio.Task] = []
        self.opened: list[asyncio.Event] = []
        self.writers: list = []
        self.arrived: list[float | None] = []
        self.armed = False  # record the next event each stream reads
        self.missing = 0
        self.all_arrived = asyncio.Event()

    async def hold(self, index: int, opened: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        self.writers.append(writer)
        writer.write(f"GET /events/ HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        received = b""
        while b"retry:" not in received:
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("closed before the first event")
            received += chunk
        if not received.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(received.split(b"\r\n", 1)[0].decode())
        opened.set()
        # Only the suite publishes, and a keep-alive is a comment: any event
        # read after arming is the one being timed.
        while chunk := await reader.read(4096):
            if self.armed and b"id: " in chunk and self.arrived[index] is None:
                self.arrived[index] = time.perf_counter()
                self.missing -= 1
                if not self.missing:
                    self.all_arrived.set()
        raise ConnectionError("the server ended the stream")

    async def open_to(self, target: int) -> None:
        while len(self.tasks) < target:
            batch = []
            for _ in range(min(BATCH, target - len(self.tasks))):
                opened = asyncio.Event()
                self.opened.append(opened)
                self.arrived.append(None)
                task = asyncio.create_task(self.hold(len(self.tasks), opened))
                self.tasks.append(task)
                batch.append((opened, task))
            async with asyncio.timeout(OPEN_TIMEOUT):
                for opened, task in batch:
                    done = asyncio.ensure_future(opened.wait())
                    await asyncio.wait({done, task}, return_when="FIRST_COMPLETED")
                    done.cancel()
                    if task.done() and not opened.is_set():
                        raise BenchError(f"a stream did not open: {task.exception()}")

    def held(self) -> int:
        pairs = zip(self.opened, self.tasks, strict=True)
        return sum(opened.is_set() and not task.done() for opened, task in pairs)

    async def time_event(self) -> dict:
        """Publish one event; milliseconds until each open stream has read it."""
        self.arrived = [None] * len(self.tasks)
        self.missing = self.held()
        self.all_arrived.clear()
        reader, writer = await asyncio.open_connection(HOST, self.port)
        self.armed = True
        started = time.perf_counter()
        writer.write(
            f"POST /publish/ HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = await reader.read()
        writer.close()
        event_id = answer.rpartition(b"\r\n\r\n")[2]
        if not answer.startswith(b"HTTP/1.1 200") or not event_id.isdigit():
            raise BenchError(f"POST /publish/ failed: {answer[:80]!r}")
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                await self.all_arrived.wait()
        except TimeoutError:
            pass  # the figures say how many streams received it
        self.armed = False
        times = [(t - started) * 1000 for t in self.arrived if t is not None]
        if not times:
            raise BenchError("no stream received the published event")
        times.sort()
        return {
            "received": len(times),
            "p50": statistics.median(times),
            "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
            "max": times[-1],
        }

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


async def measure_app(port: int, pid: int, steps) -> list[dict]:
    await asyncio.sleep(0.3)
    base = {"target": 0, "held": 0, **proc_status(pid)}
    streams = Streams(port)
    results = []
    try:
        for target in steps:
            await streams.open_to(target)
            await asyncio.sleep(0.5)  # let the worker settle before reading it
            status = proc_status(pid)
            held = streams.held()
            answered = await probe(port, "/trivial/async/", PROBE_TIMEOUT)
            event = await streams.time_event()
            step = {"target": target, "held": held, "probe_ms": answered, **status}
            results.append((base, step, event))
    finally:
        await streams.close()
    return results


def case_entry(app: str, base: dict, step: dict, event: dict) -> dict:
    held = step["held"]
    return {
        "label": f"{step['target']:,} streams, {LABELS[app]}",
        "params": {
            "server": "uvicorn",
            "app": app,
            "path": "/events/",
            "workers": 1,
            "streams": step["target"],
            "probe_timeout_seconds": PROBE_TIMEOUT,
        },
        "unit": "streams",
        "steps": [base, step],
        "per_stream": {
            "at": step["target"],
            "rss_kib": (step["rss_bytes"] - base["rss_bytes"]) / held / 1024,
            "threads": (step["threads"] - base["threads"]) / held,
        },
        "event_ms": event,
        "stats": stats.summarize([held]),
        "unstable": False,
    }


def run(settings: dict, progress) -> dict:
    steps = STEPS[settings["mode"]]
    limit = raise_fd_limit()
    fit = [s for s in steps if s * FDS_PER_STREAM + FD_MARGIN <= limit]
    skipped = [
        {"what": f"{s:,} streams", "why": f"the open-files limit is {limit:,}"}
        for s in steps
        if s not in fit
    ]
    for item in skipped:
        progress.note(f"streams: skipped {item['what']}: {item['why']}")
    progress.add(len(APPS))
    cases = {}
    env = server_env(None)
    for app in APPS:
        port = free_port()
        with running_server(
            command(app, port), "/trivial/async/", what=f"uvicorn ({app})", env=env
        ) as running:
            measured = asyncio.run(measure_app(port, running.worker_pid(), fit))
            # The figures are taken: a graceful stop of a worker that held
            # 10,000 streams (and as many threads) takes seconds and tells
            # nothing, so it is killed; running_server() then reaps it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
        for base, step, event in measured:
            cases[f"uvicorn.{app}-{step['target']}"] = case_entry(
                app, base, step, event
            )
        progress.step(f"streams: {app}")
    return {GROUP: {"title": TITLE, "cases": cases, "skipped": skipped}}
