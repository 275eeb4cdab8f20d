"""What gevent's monkey-patching changes, seen from inside one process.

Shown on docs/guides/gevent.md. Each probe returns a dict of facts. It runs
as is in a plain process (real threads), or after ``gevent.monkey.patch_all()``
in a process of its own, as gunicorn's gevent worker runs your code::

    python -m snippets.guides.gevent_probes PROBE [--patched] [--psycopg-first]

``--patched`` patches before anything else is imported; ``--psycopg-first``
imports psycopg before patching, as ``gunicorn --preload`` does with your
project. The probes use Django's configured database (``DJANGO_SETTINGS_MODULE``)
or, for ``postgres_waits``, ``DATABASE_URL``. Patching changes a whole process
for good: never do it in a process you share (a test runner, a shell).
"""

import argparse
import asyncio
import json
import os
import sys
import threading
import time

# A SQLite query that counts to this many takes about 100 ms: work in C that
# never hands control back to Python.
SLOW_ROWS = 400_000
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s)"
    " SELECT count(*) FROM c"
)
TICK = 0.01


def os_threads() -> int:
    """The threads the kernel runs for this process (Linux)."""
    return len(os.listdir("/proc/self/task"))


def qualified(obj) -> str:
    return f"{obj.__module__}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def run_threads(target, count: int) -> None:
    """Run ``count`` threads of ``target`` (greenlets, once patched) to the end.

    The first exception a thread raised is raised here, not lost in the thread.
    """
    errors = []

    def guarded(number):
        try:
            target(number)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# start-probe-patched
def patched_names() -> dict:
    """What the blocking names of the standard library are now."""
    import socket

    return {
        "time.sleep": qualified(time.sleep),
        "socket.socket": qualified(socket.socket),
        "threading.local": qualified(threading.local),
        "threading.get_ident": qualified(threading.get_ident),
    }


# end-probe-patched


def sleeps(count: int = 20, seconds: float = 0.1) -> dict:
    """``count`` threads that each sleep: how long, on how many OS threads."""
    peak = []

    def nap(_):
        time.sleep(seconds)
        peak.append(os_threads())

    started = time.perf_counter()
    run_threads(nap, count)
    return {"elapsed": time.perf_counter() - started, "os_threads": max(peak)}


def slow_query() -> int:
    """One query that keeps SQLite busy in C for about 100 ms."""
    from django.db import connections

    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute(SLOW_QUERY, [SLOW_ROWS])
            return cursor.fetchone()[0]
    finally:
        connection.close()  # what Django does when a request finishes


# start-probe-connections
def connections_per_thread(count: int = 5) -> dict:
    """``count`` requests at once: their connections, threads and contexts."""
    from asgiref.local import Local
    from django.db import connections

    state = Local()  # what Django keeps per request, in a context variable
    seen = []

    def request(number):
        state.request = number
        connection = connections["default"]
        connection.ensure_connection()
        time.sleep(0.05)  # every request holds its connection at once
        seen.append((id(connection), threading.get_ident(), state.request, number))
        seen.append(os_threads())
        connection.close()

    run_threads(request, count)
    rows = [row for row in seen if isinstance(row, tuple)]
    return {
        "connections": len({row[0] for row in rows}),
        "idents": len({row[1] for row in rows}),
        "own_state": all(row[2] == row[3] for row in rows),
        "os_threads": max(row for row in seen if isinstance(row, int)),
    }


# end-probe-connections


def ticks_during(work) -> dict:
    """Run ``work`` in a thread while another ticks every 10 ms; count ticks."""
    ticks, done = [], threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(TICK)

    beat = threading.Thread(target=ticker)
    beat.start()
    time.sleep(3 * TICK)  # let it tick
    started = time.perf_counter()
    run_threads(lambda _: work(), 1)
    ended = time.perf_counter()
    done.set()
    beat.join()
    return {
        "elapsed": ended - started,
        "ticks": sum(started < tick < ended for tick in ticks),
        "expected": (ended - started) / TICK,
    }


def ticks_during_slow_query() -> dict:
    """Other requests during one slow SQLite query."""
    return ticks_during(slow_query)


# start-probe-loop
def loop_ticks_during_sync_to_async() -> dict:
    """The event loop during one ``await sync_to_async(slow_query)()``."""
    from asgiref.sync import sync_to_async

    async def main():
        ticks = []

        async def ticker():
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(TICK)

        beat = asyncio.create_task(ticker())
        await asyncio.sleep(3 * TICK)
        started = time.perf_counter()
        await sync_to_async(slow_query)()
        ended = time.perf_counter()
        beat.cancel()
        return {
            "elapsed": ended - started,
            "ticks": sum(started < tick < ended for tick in ticks),
            "expected": (ended - started) / TICK,
        }

    return asyncio.run(main())


# end-probe-loop


# start-probe-beside
def query_beside_a_loop() -> dict:
    """A sync query in one request while another runs an event loop."""
    from django.core.exceptions import SynchronousOnlyOperation

    outcome = {"error": None}

    def request(number):
        if number == 0:  # an async view's request: async_to_sync runs a loop
            asyncio.run(asyncio.sleep(0.2))
            return
        time.sleep(0.05)  # a sync view's request, while that loop runs
        try:
            slow_query()
        except SynchronousOnlyOperation as exc:
            outcome["error"] = f"{qualified(type(exc))}: {exc}"

    run_threads(request, 2)
    return outcome


# end-probe-beside


def postgres_waits(count: int = 5, seconds: float = 0.2) -> dict:
    """``count`` queries that each wait in PostgreSQL, through psycopg, at once."""
    import psycopg
    import psycopg.waiting

    url = os.environ["DATABASE_URL"]
    peak = []

    def query(_):
        with psycopg.connect(url) as connection:
            connection.execute("SELECT pg_sleep(%s)", [seconds])
            peak.append(os_threads())

    started = time.perf_counter()
    run_threads(query, count)
    return {
        "elapsed": time.perf_counter() - started,
        "os_threads": max(peak),
        "wait": psycopg.waiting.wait.__name__,
    }


PROBES = {
    "patched_names": patched_names,
    "sleeps": sleeps,
    "connections_per_thread": connections_per_thread,
    "ticks_during_slow_query": ticks_during_slow_query,
    "loop_ticks_during_sync_to_async": loop_ticks_during_sync_to_async,
    "query_beside_a_loop": query_beside_a_loop,
    "postgres_waits": postgres_waits,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snippets.guides.gevent_probes")
    parser.add_argument("probe", choices=sorted(PROBES))
    parser.add_argument("--patched", action="store_true")
    parser.add_argument("--psycopg-first", action="store_true")
    args = parser.parse_args(argv)
    if args.psycopg_first:
        import psycopg  # noqa: F401  (picks its wait function now)
    if args.patched:
        from gevent import monkey

        monkey.patch_all()
    import django

    django.setup()
    print(json.dumps(PROBES[args.probe]()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
