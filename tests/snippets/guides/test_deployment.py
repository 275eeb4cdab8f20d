"""Tests of snippets/guides/deployment.py, shown on docs/guides/deployment.md.

The same async view, served by ``manage.py runserver`` and by uvicorn, asked
twice at once: which event loop and which thread each request ran on.
"""

import json
import sys
import threading

import httpx
import pytest
from django.test import Client

from tests.support.servers import ROOT, free_port, running_server

SETTINGS = "tests.snippets.guides.deployment_settings"
# The view touches no database, but runserver checks migrations as it starts:
# SQLite, so it never needs a PostgreSQL database that the test run has not made.
ENV = {"DJANGO_SETTINGS_MODULE": SETTINGS, "PYTHONPATH": str(ROOT), "DATABASE_URL": ""}


def two_at_once(port: int) -> list[dict]:
    answers: list[dict] = []

    def ask():
        response = httpx.get(f"http://127.0.0.1:{port}/where/", timeout=10)
        answers.append(json.loads(response.content))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def overlapped(first: dict, second: dict) -> bool:
    return (
        first["started"] < second["finished"] and second["started"] < first["finished"]
    )


def run_with(command: list[str], port: int) -> list[dict]:
    with running_server(command, f"http://127.0.0.1:{port}/where/", env=ENV):
        return two_at_once(port)


def test_runserver_runs_each_async_request_on_an_event_loop_of_its_own():
    port = free_port()
    manage = [sys.executable, "-m", "django", "runserver", "--noreload"]
    first, second = run_with([*manage, f"127.0.0.1:{port}"], port)
    assert first["server"].startswith("WSGIServer/")  # runserver speaks WSGI
    # Threaded: the two requests ran at the same time...
    assert overlapped(first, second)
    # ...each on a new event loop, in a thread that async_to_sync started for it.
    assert first["loop"] != second["loop"]
    assert first["thread"] != second["thread"]
    assert first["thread"].startswith("ThreadPoolExecutor")


def test_an_asgi_server_runs_every_async_request_on_its_one_loop():
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--lifespan", "off"]
    uvicorn += ["--host", "127.0.0.1", "--port", str(port)]
    first, second = run_with([*uvicorn, "django.core.asgi:get_asgi_application"], port)
    assert first["server"] == "ASGI"
    assert overlapped(first, second)
    assert first["loop"] == second["loop"]
    assert first["thread"] == second["thread"] == "MainThread"


@pytest.mark.urls("snippets.guides.deployment")
def test_under_wsgi_in_process_the_view_gets_a_loop_of_its_own():
    # Django's test client goes through the WSGI handler, as runserver does.
    answer = Client().get("/where/").json()
    assert answer["thread"].startswith("ThreadPoolExecutor")
    assert answer["finished"] - answer["started"] >= 0.2
