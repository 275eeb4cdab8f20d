"""docs/quickstart.md: its shell session replayed, its view on both paths."""

import contextlib
import os
import re
import subprocess
import sys

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.commands.runserver import Command as Runserver
from django.test import AsyncClient, Client
from django.test.client import AsyncClientHandler

from sampleproject.board.models import Service
from tests.support.servers import ROOT, free_port, running_server

PAGE = ROOT / "docs" / "quickstart.md"


def shell_session(heading: str) -> list[tuple[str, str]]:
    """The (command, expected output) pairs of the console block under heading."""
    text = PAGE.read_text()
    section = text[text.index(heading) :]
    block = re.search(r"```\{not-runnable\} console\n(.*?)```", section, re.S).group(1)
    pairs: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line.startswith(":"):
            continue
        if line.startswith("$ "):
            pairs.append((line[2:], ""))
        else:
            command, output = pairs[-1]
            pairs[-1] = (command, output + line + "\n")
    return pairs


def test_runserver_is_wsgi():
    assert isinstance(Runserver().get_handler(), WSGIHandler)


def test_serve_section_replays(tmp_path):
    session = shell_session("## Serve it with uvicorn")
    env = {
        **os.environ,
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }
    port = free_port()
    with contextlib.ExitStack() as servers:
        for command, expected in session:
            command = command.replace("--port 8000", f"--host 127.0.0.1 --port {port}")
            command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            if command.startswith("uvicorn "):
                argv = [sys.executable, "-m", *command.rstrip(" &").split()]
                url = f"http://127.0.0.1:{port}/"
                servers.enter_context(running_server(argv, url, env=env))
                continue
            if command.startswith("curl "):
                output = httpx.get(command.split()[-1]).text + "\n"
            else:
                argv = [sys.executable, *command.split()[1:]]
                result = subprocess.run(
                    argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
                )
                assert result.returncode == 0, result.stderr
                output = result.stdout
            assert output == expected, command


@pytest.mark.django_db
def test_summary_through_wsgi():
    Service.objects.create(name="Search", slug="search", url="https://a.example/")
    Service.objects.create(
        name="Old", slug="old", url="https://b.example/", enabled=False
    )
    response = Client().get("/api/summary/")
    assert response.status_code == 200
    assert response.json() == {"services": 2, "enabled": 1}


def test_async_client_has_a_handler_of_its_own():
    # The page's claim: AsyncClient does not call the handler a server calls,
    # so none of ASGIHandler's per-request work (its thread, its disconnect
    # listener, its body spooling) happens. tests/internals/test_test_client.py
    # shows each difference.
    handler = AsyncClient().handler
    assert isinstance(handler, AsyncClientHandler)
    assert not isinstance(handler, ASGIHandler)
    assert not hasattr(handler, "listen_for_disconnect")
    assert not hasattr(handler, "read_body")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_summary_through_asgi():
    await Service.objects.acreate(
        name="Search", slug="search", url="https://a.example/"
    )
    response = await AsyncClient().get("/api/summary/")
    assert response.status_code == 200
    assert response.json() == {"services": 1, "enabled": 1}
