"""Tests of snippets/guides/gevent_probes.py and gevent_gunicorn.py.

Shown on docs/guides/gevent.md. Each probe runs twice: in this process, with
real threads, and in a fresh process that ``gevent.monkey.patch_all()`` has
patched (``python -m snippets.guides.gevent_probes PROBE --patched``), as
gunicorn's gevent worker patches itself. This process is never patched.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from snippets.guides import gevent_probes
from tests.support.servers import ROOT, free_port, running_server
from tests.support.tools import need

pytestmark = pytest.mark.django_db(transaction=True)

SYNC_ONLY = (
    "django.core.exceptions.SynchronousOnlyOperation: You cannot call this from"
    " an async context - use a thread or sync_to_async."
)


def run_probe(tmp_path, name, *flags, database_url=""):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.test",
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "snippets.guides.gevent_probes", name, *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def patched(tmp_path, name, *flags, database_url="") -> dict:
    result = run_probe(tmp_path, name, "--patched", *flags, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_patching_swaps_sleep_sockets_and_threads_for_gevent(tmp_path):
    assert gevent_probes.patched_names() == {
        "time.sleep": "time.sleep",
        "socket.socket": "socket.socket",
        "threading.local": "_thread._local",
        "threading.get_ident": "_thread.get_ident",
    }
    assert patched(tmp_path, "patched_names") == {
        "time.sleep": "gevent.hub.sleep",
        "socket.socket": "gevent._socket3.socket",
        "threading.local": "gevent._gevent_clocal.local",
        "threading.get_ident": "gevent.thread.get_ident",
    }


def test_twenty_sleeping_threads_are_greenlets_on_one_os_thread(tmp_path):
    plain = gevent_probes.sleeps(count=20, seconds=0.1)
    assert plain["os_threads"] >= 21  # one per sleeper, and this one
    greenlets = patched(tmp_path, "sleeps")
    assert greenlets["os_threads"] == 1
    assert greenlets["elapsed"] < 0.3  # the 20 sleeps overlap: not 2 s


def test_each_greenlet_gets_its_own_connection_and_request_state(tmp_path):
    plain = gevent_probes.connections_per_thread(count=5)
    greenlets = patched(tmp_path, "connections_per_thread")
    for facts in (plain, greenlets):
        assert facts["connections"] == facts["idents"] == 5
        assert facts["own_state"]
    assert plain["os_threads"] >= 6
    assert greenlets["os_threads"] == 1


def test_a_slow_sqlite_query_stops_every_other_greenlet(tmp_path):
    plain = gevent_probes.ticks_during_slow_query()
    assert plain["ticks"] >= plain["expected"] / 4  # the other thread goes on
    greenlets = patched(tmp_path, "ticks_during_slow_query")
    assert greenlets["expected"] >= 5  # the query took 50 ms or more
    assert greenlets["ticks"] <= 1  # and nothing else ran meanwhile


def test_the_orm_in_sync_to_async_refuses_to_run_once_patched(tmp_path):
    plain = gevent_probes.loop_ticks_during_sync_to_async()
    assert plain["ticks"] >= plain["expected"] / 4  # the loop went on
    result = run_probe(tmp_path, "loop_ticks_during_sync_to_async", "--patched")
    assert result.returncode == 1
    # sync_to_async's thread is a greenlet on the loop's own OS thread, where
    # asyncio reports the loop as running.
    assert result.stderr.strip().splitlines()[-1] == SYNC_ONLY


def test_a_sync_query_fails_while_another_greenlet_runs_a_loop(tmp_path):
    assert gevent_probes.query_beside_a_loop() == {"error": None}
    assert patched(tmp_path, "query_beside_a_loop") == {"error": SYNC_ONLY}


def maintenance_url() -> str:
    """DATABASE_URL, pointed at the server's always-present database."""
    return urlsplit(need("postgres"))._replace(path="/postgres").geturl()


@pytest.mark.needs_service("postgres")
def test_psycopg_imported_after_patching_waits_cooperatively(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", maintenance_url())
    plain = gevent_probes.postgres_waits()
    assert plain["wait"] == "wait_c"  # this process is not patched
    assert plain["os_threads"] >= 6  # a thread per query
    assert plain["elapsed"] < 2 * 0.2
    facts = patched(tmp_path, "postgres_waits", database_url=maintenance_url())
    assert facts["wait"] != "wait_c"  # psycopg saw the patched select
    assert facts["os_threads"] == 1
    assert facts["elapsed"] < 2 * 0.2  # five 200 ms waits at once


@pytest.mark.needs_service("postgres")
def test_psycopg_imported_before_patching_blocks_every_greenlet(tmp_path):
    facts = patched(
        tmp_path, "postgres_waits", "--psycopg-first", database_url=maintenance_url()
    )
    assert facts["wait"] == "wait_c"
    assert facts["elapsed"] >= 5 * 0.2 * 0.9  # one wait after the other


def test_gunicorns_gevent_worker_serves_sync_views_and_fails_async_ones(tmp_path):
    env = {
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }
    subprocess.run(
        [sys.executable, "sampleproject/manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        check=True,
        timeout=60,
    )
    config = Path("snippets/guides/gevent_gunicorn.py")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        *(sys.executable, "-m", "gunicorn", "-c", str(config)),
        *("--workers", "1", "--bind", f"127.0.0.1:{port}"),
        *("--graceful-timeout", "2", "--no-control-socket"),
        "sampleproject.wsgi:application",
    ]
    with (
        running_server(command, f"{base}/api/summary/", env=env),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        # An async view that queries: async_to_sync runs its event loop in a
        # greenlet of the worker's one OS thread, and the ORM refuses to run.
        summary = client.get("/api/summary/")
        assert summary.status_code == 500
        assert "SynchronousOnlyOperation" in summary.text
        assert summary.headers["server"] == "gunicorn"
        assert client.get("/admin/login/").status_code == 200  # a sync view


def test_a_probe_raises_what_a_thread_raised():
    def fails(number):
        raise LookupError(f"thread {number}")

    with pytest.raises(LookupError, match="thread 0"):
        gevent_probes.run_threads(fails, 1)


def test_the_command_prints_a_probe_as_json(capsys):
    assert gevent_probes.main(["patched_names", "--psycopg-first"]) == 0
    assert json.loads(capsys.readouterr().out) == gevent_probes.patched_names()


def test_the_command_refuses_an_unknown_probe(tmp_path):
    result = run_probe(tmp_path, "everything")
    assert result.returncode == 2
    assert "invalid choice: 'everything'" in result.stderr


def test_the_configuration_patches_in_each_worker_after_import():
    from snippets.guides import gevent_gunicorn as config

    assert config.worker_class == "gevent"
    assert config.preload_app is False  # the app is imported after patching
    assert config.workers == (os.cpu_count() or 1)
    assert config.worker_connections == 100
