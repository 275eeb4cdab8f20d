"""Claims of docs/internals/db-connections.md, each proved against the installed Django.

Tests marked ``needs_service("postgres")`` count server sessions and run only
with ``DATABASE_URL`` set; the others run on SQLite too.
"""

import asyncio
import contextlib
import gc
import io
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.db import (
    DatabaseError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)
from django.db.backends.signals import connection_created
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.urls import path

from sampleproject.board.demo import seed
from sampleproject.board.models import Service
from snippets.internals.db_connections import open_sessions, service_count
from tests.support.asgi import StreamingGet

URLS = "tests.internals.test_db_connections"

# Set by the test that streams: the stream's second part waits for it.
STREAM_GATE: dict[str, asyncio.Event] = {}


def count_then_stream(request):
    """A sync view that queries, then streams a response that outlives the query."""
    count = Service.objects.count()

    async def parts():
        yield f"{count} services\n"
        await STREAM_GATE["more"].wait()
        yield "end\n"

    return StreamingHttpResponse(parts())


urlpatterns = [
    path("services/count/", service_count),
    path("services/stream/", count_then_stream),
]


def current_connection():
    """The DatabaseWrapper that this thread gets for "default"."""
    return connections["default"]


# One connection per thread -------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_sync_to_async_thread_has_its_own_connection():
    on_the_loop = current_connection()
    in_the_worker = await sync_to_async(current_connection)()
    again_in_the_worker = await sync_to_async(current_connection)()
    assert in_the_worker is not on_the_loop
    # asgiref's thread-sensitive worker is one thread: it keeps its connection.
    assert again_in_the_worker is in_the_worker


@pytest.mark.django_db(transaction=True)
def test_thread_sensitive_code_under_async_to_sync_uses_the_callers_connection():
    main = current_connection()

    async def from_async_code(thread_sensitive):
        return await sync_to_async(
            current_connection, thread_sensitive=thread_sensitive
        )()

    # async_to_sync runs the coroutine in another thread, but thread-sensitive
    # sync code comes back to this one, and so to its connection.
    assert async_to_sync(from_async_code)(True) is main
    assert async_to_sync(from_async_code)(False) is not main


@pytest.mark.django_db(transaction=True)
def test_a_connection_remembers_the_thread_that_created_it():
    wrapper = current_connection()
    assert wrapper._thread_ident == threading.get_ident()
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(current_connection).result()
    assert other is not wrapper
    assert other._thread_ident != wrapper._thread_ident


# The error, and the fix ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_using_another_threads_connection_raises():
    wrapper = current_connection()
    with ThreadPoolExecutor(1) as pool:
        other_thread = pool.submit(threading.get_ident).result()
        with pytest.raises(DatabaseError) as raised:
            pool.submit(wrapper.cursor).result()
    assert str(raised.value) == (
        "DatabaseWrapper objects created in a thread can only be used in that"
        " same thread. The object with alias 'default' was created in thread id"
        f" {threading.get_ident()} and this is thread id {other_thread}."
    )


def count_in_this_thread(conn):
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_the_connection_proxy_resolves_in_the_thread_that_uses_it():
    wrapper = current_connection()
    with ThreadPoolExecutor(1) as pool:
        # django.db.connection looks the wrapper up on each use, in the thread
        # that uses it: passing it to another thread is safe.
        assert pool.submit(count_in_this_thread, connection).result() == 1
        with pytest.raises(DatabaseError, match="can only be used in that same"):
            pool.submit(count_in_this_thread, wrapper).result()


# Requests under ASGI -------------------------------------------------------


def test_close_old_connections_listens_to_both_request_signals():
    for signal in (signals.request_started, signals.request_finished):
        # disconnect() says whether the receiver was connected.
        assert signal.disconnect(close_old_connections) is True
        signal.connect(close_old_connections)


class NewConnections:
    """Each connection Django opens: its wrapper, the thread that opened it, and
    the driver's connection object (psycopg's or sqlite3's)."""

    def __init__(self):
        self.opened: list[tuple[object, threading.Thread, object]] = []

    def __call__(self, sender, connection, **kwargs):
        opened = (connection, threading.current_thread(), connection.connection)
        self.opened.append(opened)

    def __enter__(self):
        connection_created.connect(self, weak=False, dispatch_uid=id(self))
        return self

    def __exit__(self, *exc_info):
        connection_created.disconnect(dispatch_uid=id(self))

    @property
    def wrappers(self):
        return [wrapper for wrapper, _, _ in self.opened]

    @property
    def threads(self):
        return [thread for _, thread, _ in self.opened]

    @property
    def drivers(self):
        return [driver for _, _, driver in self.opened]


@contextlib.contextmanager
def new_connections_get(conn_max_age, options=None):
    """Connections to "default" opened from now on get these settings.

    Open ones keep theirs: each wrapper holds the settings dict it was made
    with. Without ``options``, new connections keep the default's, minus the pool.
    """
    old = connections.settings["default"]
    if options is None:
        options = {k: v for k, v in old["OPTIONS"].items() if k != "pool"}
    connections.settings["default"] = {
        **old,
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": options,
    }
    try:
        yield
    finally:
        connections.settings["default"] = old


@contextlib.contextmanager
def a_pool_of_its_own():
    """Set the default alias's pool aside, so new connections make a new one."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    pools = DatabaseWrapper._connection_pools
    saved = pools.pop("default", None)
    try:
        yield
    finally:
        if "default" in pools:
            pools.pop("default").close()
        if saved is not None:
            pools["default"] = saved


def serve(path: str, times: int) -> list[str]:
    """GET ``path`` through Django's ASGI handler, as a server would, one at a time."""

    async def requests():
        bodies = []
        app = ASGIHandler()
        for _ in range(times):
            async with StreamingGet(app, path) as response:
                bodies.append(await response.read_to_end())
                assert response.status == 200, response.body
        return bodies

    return asyncio.run(requests())


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_each_asgi_request_runs_sync_code_in_a_thread_of_its_own():
    seed()
    with new_connections_get(0), NewConnections() as new:
        assert serve("/services/count/", 3) == ['{"services": 4}'] * 3
    # Three requests, three threads, three connections; the threads are gone.
    assert len(set(new.threads)) == 3
    assert threading.current_thread() not in new.threads
    assert not any(thread.is_alive() for thread in new.threads)
    assert len({id(wrapper) for wrapper in new.wrappers}) == 3


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_conn_max_age_zero_closes_at_request_finished():
    seed()
    with new_connections_get(0), NewConnections() as new:
        serve("/services/count/", 2)
    assert [wrapper.connection for wrapper in new.wrappers] == [None, None]


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_a_persistent_connection_outlives_its_request_thread():
    seed()
    with new_connections_get(60), NewConnections() as new:
        serve("/services/count/", 3)
    try:
        # Each request opened a new connection; none was closed or reused.
        assert len({id(wrapper) for wrapper in new.wrappers}) == 3
        assert all(wrapper.connection is not None for wrapper in new.wrappers)
        assert not any(thread.is_alive() for thread in new.threads)
    finally:
        for wrapper in new.wrappers:
            # Closing from this thread needs permission to share the wrapper.
            wrapper.inc_thread_sharing()
            wrapper.close()


def wsgi_get(app, path: str) -> bytes:
    """GET ``path`` through Django's WSGI handler, as a WSGI server would."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    response = app(environ, lambda status, headers: None)
    try:
        return b"".join(response)
    finally:
        response.close()  # Sends request_finished.


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_under_wsgi_a_worker_thread_reuses_its_persistent_connection():
    seed()
    app = WSGIHandler()

    def worker_thread():
        try:
            return [wsgi_get(app, "/services/count/") for _ in range(3)]
        finally:
            connections["default"].close()

    with (
        new_connections_get(60),
        NewConnections() as new,
        ThreadPoolExecutor(1) as pool,
    ):
        bodies = pool.submit(worker_thread).result()
    assert bodies == [b'{"services": 4}'] * 3
    # Three requests on one thread: one connection, opened once, reused twice.
    assert len(new.opened) == 1


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_persistent_connections_pile_up_until_garbage_collection():
    seed()
    name = f"safety-persistent-{os.getpid()}"
    gc.collect()
    # Count what the requests leave behind before any automatic collection.
    gc.disable()
    try:
        options = {"application_name": name}
        with new_connections_get(60, options), NewConnections() as new:
            serve("/services/count/", 5)
        assert len(new.opened) == 5
        new.opened.clear()  # Keep no reference to the dead threads' wrappers.
        assert open_sessions(name) == 5
        # Only the garbage collector frees the wrappers, and with them the
        # driver's connections (psycopg warns as it closes them).
        with pytest.warns(ResourceWarning, match="deleted while still open"):
            gc.collect()
    finally:
        gc.enable()
    assert wait_for_sessions(name, 0) == 0


def wait_for_sessions(name: str, wanted: int, limit: float = 5.0) -> int:
    """A closed socket ends its server process soon, not at once: poll."""
    deadline = time.monotonic() + limit
    while (count := open_sessions(name)) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_no_persistent_connections_leave_no_sessions():
    seed()
    name = f"safety-per-request-{os.getpid()}"
    gc.collect()
    gc.disable()
    try:
        options = {"application_name": name}
        with new_connections_get(0, options):
            serve("/services/count/", 5)
        assert wait_for_sessions(name, 0) == 0
    finally:
        gc.enable()


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_a_pool_hands_connections_from_request_thread_to_request_thread():
    seed()
    name = f"safety-pool-{os.getpid()}"
    pool = {"min_size": 1, "max_size": 2, "timeout": 10}
    options = {"application_name": name, "pool": pool}
    with (
        a_pool_of_its_own(),
        new_connections_get(0, options),
        NewConnections() as new,
    ):
        try:
            serve("/services/count/", 5)
            # Five request threads, five wrappers, all handed back to the pool...
            assert len(new.wrappers) == 5
            assert all(wrapper.connection is None for wrapper in new.wrappers)
            # ...which served them with at most max_size server connections.
            assert len({id(driver) for driver in new.drivers}) <= pool["max_size"]
            assert open_sessions(name) <= pool["max_size"]
        finally:
            new.opened.clear()
    assert wait_for_sessions(name, 0) == 0


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_is_held_until_request_finished():
    seed()
    pool = {"min_size": 1, "max_size": 1, "timeout": 10}
    options = {"application_name": f"safety-held-{os.getpid()}", "pool": pool}

    async def stream_once(new):
        STREAM_GATE["more"] = asyncio.Event()
        async with StreamingGet(ASGIHandler(), "/services/stream/") as response:
            await response.read_until("services")
            (wrapper,) = new.wrappers
            # The query is long done, the response still streams: the request
            # still holds its connection, checked out of the pool.
            during = wrapper.connection is not None, checked_out(wrapper)
            STREAM_GATE["more"].set()
            await response.read_to_end()
        # The handler has closed the response: request_finished has run.
        return during, (wrapper.connection is not None, checked_out(wrapper))

    def checked_out(wrapper):
        stats = wrapper.pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    with (
        a_pool_of_its_own(),
        new_connections_get(0, options),
        NewConnections() as new,
    ):
        try:
            during, after = asyncio.run(stream_once(new))
        finally:
            new.opened.clear()
    assert during == (True, 1)
    assert after == (False, 0)


def test_django_refuses_a_pool_with_persistent_connections():
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings_dict = {
        **connections.settings["default"],
        "ENGINE": "django.db.backends.postgresql",
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"pool": True},
    }
    wrapper = DatabaseWrapper(settings_dict, alias="refused_pool")
    with pytest.raises(
        ImproperlyConfigured,
        match=r"^Pooling doesn't support persistent connections\.$",
    ):
        wrapper.pool  # noqa: B018


# The test-suite version ----------------------------------------------------


def worker_connection_is_open():
    return connection.connection is not None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_client_requests_leave_the_worker_connection_open():
    await sync_to_async(seed)()
    await sync_to_async(lambda: connection.close())()
    assert await sync_to_async(worker_connection_is_open)() is False
    client = AsyncClient()
    with NewConnections() as new:
        responses = await asyncio.gather(
            client.get("/api/summary/"), client.get("/api/summary/")
        )
    assert [r.json() for r in responses] == [{"services": 4, "enabled": 4}] * 2
    # Both requests ran their queries in asgiref's one worker thread, on one
    # connection, which the test client kept close_old_connections from closing.
    ((wrapper, thread, _),) = new.opened
    assert thread.is_alive()
    assert thread is not threading.current_thread()
    assert await sync_to_async(current_connection)() is wrapper
    assert await sync_to_async(worker_connection_is_open)() is True


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_postgresql_will_not_drop_a_database_with_sessions():
    from django.db.backends.postgresql.base import DatabaseWrapper

    name = f"safety_scratch_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    settings_dict = {**connections.settings["default"], "NAME": name, "OPTIONS": {}}
    held = []

    def request_thread():
        wrapper = DatabaseWrapper(settings_dict, alias="scratch")
        wrapper.ensure_connection()
        held.append(wrapper)

    try:
        # A connection opened in a thread that has finished, as a request's is.
        worker = threading.Thread(target=request_thread)
        worker.start()
        worker.join()
        with (
            pytest.raises(OperationalError, match="being accessed by other users"),
            connection.cursor() as cursor,
        ):
            cursor.execute(f'DROP DATABASE "{name}"')
        # What tests/conftest.py does before pytest-django drops the database.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
    finally:
        for wrapper in held:
            wrapper.inc_thread_sharing()
            wrapper.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                break
            except OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_closing_a_pool_leaves_the_connections_threads_hold():
    from django.db.backends.postgresql.base import DatabaseWrapper

    name = f"safety-held-{os.getpid()}"
    pool = {"min_size": 1, "max_size": 2, "timeout": 10}
    settings_dict = {
        **connections.settings["default"],
        "OPTIONS": {"application_name": name, "pool": pool},
    }
    held = []

    def request_thread():
        wrapper = DatabaseWrapper(settings_dict, alias="held_pool")
        wrapper.ensure_connection()
        held.append(wrapper)

    worker = threading.Thread(target=request_thread)
    worker.start()
    worker.join()
    (wrapper,) = held
    try:
        wrapper.close_pool()
        # The pool closed what it held; the thread's connection is still open.
        assert wait_for_sessions(name, 1) == 1
    finally:
        wrapper.inc_thread_sharing()
        wrapper.close()
        DatabaseWrapper._connection_pools.pop("held_pool", None)
    assert wait_for_sessions(name, 0) == 0


def test_an_open_connection_at_delete_leaves_sqlite_wal_files(tmp_path):
    def leftovers(keep_open: bool) -> list[str]:
        database = tmp_path / f"board-{keep_open}.sqlite3"
        held = []

        def request_thread():
            conn = sqlite3.connect(database, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE service (slug TEXT)")
            conn.commit()
            held.append(conn)

        worker = threading.Thread(target=request_thread)
        worker.start()
        worker.join()
        if not keep_open:
            held.pop().close()
        database.unlink()
        for conn in held:
            conn.close()
        return sorted(
            path.name.removeprefix(database.name)
            for path in tmp_path.glob(f"{database.name}*")
        )

    assert leftovers(keep_open=False) == []
    assert leftovers(keep_open=True) == ["-shm", "-wal"]
