"""manage.py, asgi.py and wsgi.py start the project; seed_demo validates input."""

import asyncio
import importlib
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import CommandError, call_command

import sampleproject.asgi
from sampleproject.board.models import Service
from tests.support.asgi import StreamingGet
from tests.support.servers import ROOT


def test_manage_py_runs_checks():
    result = subprocess.run(
        [sys.executable, "sampleproject/manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_manage_main_in_process(monkeypatch, capsys):
    from sampleproject import manage

    monkeypatch.setattr(sys, "argv", ["manage.py", "check"])
    manage.main()
    assert "no issues" in capsys.readouterr().out


def test_asgi_and_wsgi_applications():
    from sampleproject.asgi import application as asgi_application
    from sampleproject.wsgi import application as wsgi_application

    # Lifespan answers the server's start and stop; the rest is Django's.
    assert isinstance(asgi_application, sampleproject.asgi.Lifespan)
    assert isinstance(asgi_application.app, ASGIHandler)  # tests run with DEBUG off
    assert isinstance(wsgi_application, WSGIHandler)


@pytest.mark.asyncio
async def test_uvicorn_gets_static_files_in_debug(settings):
    # uvicorn does not serve static files as runserver does; asgi.py wraps the
    # application in development so the dashboard's script loads.
    settings.DEBUG = True
    # Importing sets Django up (logging included): in a thread, as a server
    # imports its application before its loop serves anything.
    module = await asyncio.to_thread(importlib.reload, sampleproject.asgi)
    application = module.application
    settings.DEBUG = False
    await asyncio.to_thread(importlib.reload, sampleproject.asgi)
    assert isinstance(application.app, ASGIStaticFilesHandler)
    async with StreamingGet(application, "/static/board/board.js") as response:
        body = await response.read_to_end()
    assert response.status == 200
    assert "new EventSource" in body


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo", upstream="http://127.0.0.1:9999/")
    changed = {"name": "Mail", "interval": timedelta(seconds=60)}
    Service.objects.filter(slug="email").update(**changed)
    call_command("seed_demo", upstream="http://127.0.0.1:9999/")
    assert Service.objects.count() == 4
    # A second run creates nothing and leaves what was changed alone.
    email = Service.objects.get(slug="email")
    assert (email.name, email.interval) == (changed["name"], changed["interval"])
    assert Service.objects.get(slug="search").url == "http://127.0.0.1:9999/svc/search"
    assert capsys.readouterr().out.count("4 demo services ready.") == 2


@pytest.mark.django_db
def test_seed_demo_rejects_a_bad_upstream():
    with pytest.raises(CommandError, match="--upstream must be an http"):
        call_command("seed_demo", upstream="ftp://example.com")
    assert Service.objects.count() == 0
