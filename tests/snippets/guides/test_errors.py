"""Tests of snippets/guides/errors.py, shown on docs/guides/errors.md.

Each test raises one error of the page with its exact text, and checks its fix.
pytest-django's errors are raised by tests/snippets/guides/test_testing.py.
"""

import asyncio
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest
from django.db import OperationalError, connections
from django.http import StreamingHttpResponse

from snippets.guides.errors import (
    CheckClient,
    asyncio_log,
    forget_to_await,
    lose_a_pending_task,
    one_connection_per_worker,
    ping_on_each_loop,
    pooled_wrapper,
    take_two_from_a_pool_of_one,
    two_queries_each_in_its_own_context,
    two_queries_in_one_context,
)
from tests.support.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

# start-too-many-clients
TOO_MANY_CLIENTS = "FATAL:  sorry, too many clients already"
# end-too-many-clients
# start-pool-timeout
POOL_TIMEOUT = (
    "django.db.utils.OperationalError: couldn't get a connection after 0.50 sec"
)
# end-pool-timeout


@pytest.mark.asyncio
async def test_two_queries_sharing_a_context_would_deadlock():
    with pytest.raises(RuntimeError) as raised:
        await two_queries_in_one_context()
    assert (
        str(raised.value) == "Single thread executor already being used, would deadlock"
    )


@pytest.mark.asyncio
async def test_a_context_each_lets_them_queue():
    assert await two_queries_each_in_its_own_context() == [0, 0]


def test_a_client_kept_from_a_closed_loop_fails():
    client = CheckClient()
    assert asyncio.run(client.ping()) == "pong"
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        asyncio.run(client.ping())


def test_a_client_kept_from_another_open_loop_fails():
    client = CheckClient()
    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(client.ping()) == "pong"
        with pytest.raises(
            RuntimeError, match=r"got Future .* attached to a different loop$"
        ):
            asyncio.run(client.ping())
    finally:
        first.close()


def test_a_client_made_in_each_loop_works():
    assert [asyncio.run(ping_on_each_loop()) for _ in range(2)] == ["pong", "pong"]


def test_a_pending_task_destroyed_is_logged():
    with asyncio_log() as messages:
        lose_a_pending_task()
    assert len(messages) == 1
    assert messages[0].startswith(
        "Task was destroyed but it is pending!\ntask: <Task pending"
    )


@pytest.mark.asyncio
async def test_a_sync_iterator_warns_under_async_iteration():
    response = StreamingHttpResponse(iter(["data: ok\n\n"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = [chunk async for chunk in response]
    assert chunks == [b"data: ok\n\n"]
    assert [str(warning.message) for warning in caught] == [
        "StreamingHttpResponse must consume synchronous iterators in order to serve"
        " them asynchronously. Use an asynchronous iterator instead."
    ]


def test_a_coroutine_never_awaited_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forget_to_await()
    assert [str(warning.message) for warning in caught] == [
        "coroutine 'QuerySet.acount' was never awaited"
    ]
    assert caught[0].category is RuntimeWarning


@pytest.mark.needs_service("postgres")
def test_a_pool_of_one_times_out_on_the_second_connection():
    with pytest.raises(OperationalError) as raised:
        take_two_from_a_pool_of_one()
    assert f"{type(raised.value).__module__}.{raised.value!r}".startswith(
        "django.db.utils.OperationalError("
    )
    assert POOL_TIMEOUT.endswith(f": {raised.value}")


@pytest.mark.needs_service("postgres")
def test_a_pool_of_two_serves_both():
    first, second = pooled_wrapper(max_size=2), pooled_wrapper(max_size=2)
    try:
        first.ensure_connection()
        second.ensure_connection()
        assert second.connection is not None
    finally:
        first.close()
        second.close()
        first.close_pool()


@pytest.fixture
def small_postgres():
    """A PostgreSQL server of this test's own that accepts two connections.

    Filling the shared server's max_connections would fail every other test
    running against it.
    """
    pg_ctl_path = shutil.which("pg_ctl")
    if pg_ctl_path is None:
        # DATABASE_URL may name a server elsewhere; this test needs the programs.
        pytest.skip("needs PostgreSQL's server programs (pg_ctl, initdb) on PATH")
    bin_dir = Path(pg_ctl_path).resolve().parent
    # initdb refuses to run as root; pytest's own temporary directories are
    # closed to other users, so the cluster lives in a directory of its own.
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as directory:
        if as_postgres:
            shutil.chown(directory, "postgres")
        data = f"{directory}/data"
        initdb = [*as_postgres, str(bin_dir / "initdb"), "-D", data, "-A", "trust"]
        subprocess.run([*initdb, "-U", "postgres"], check=True, capture_output=True)
        port = free_port()
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=2 -c superuser_reserved_connections=0"
        pg_ctl = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", data]
        log = f"{directory}/log"  # else the server holds our output pipe open
        start = [*pg_ctl, "-o", options, "-l", log, "-w", "start"]
        subprocess.run(start, check=True, capture_output=True, timeout=60)
        try:
            yield {
                **connections["default"].settings_dict,
                "HOST": "127.0.0.1",
                "PORT": port,
                "NAME": "postgres",
                "USER": "postgres",
                "OPTIONS": {},
            }
        finally:
            stop = [*pg_ctl, "-m", "immediate", "stop"]
            subprocess.run(stop, capture_output=True, timeout=60)


@pytest.mark.needs_service("postgres")
def test_one_connection_past_max_connections_is_refused(small_postgres):
    opened = one_connection_per_worker(small_postgres, 2)
    try:
        with pytest.raises(OperationalError) as raised:
            one_connection_per_worker(small_postgres, 1)
        assert str(raised.value).endswith(TOO_MANY_CLIENTS)
    finally:
        for wrapper in opened:
            wrapper.close()
