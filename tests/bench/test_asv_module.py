"""The asv-compatible module in bench/asv: it runs, under asv and without it.

It must run on every Django the site supports and on 4.2, the oldest LTS
Django's own benchmark suite still covers; and what the page says about
django-asv's request benchmark must hold on the installed Django.
"""

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import django
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.test import AsyncRequestFactory, override_settings
from django.urls import path

from bench import versions

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "bench" / "asv"
RUNNER = MODULE / "run.py"
# 4 request paths, 2 handlers x 4 kinds of middleware, 4 bridges.
EXPECTED = 4 + 8 + 4
DJANGO_4_2 = versions.DJANGO["4.2"]


def run_module(python: str) -> dict:
    result = subprocess.run(
        [python, str(RUNNER), "--values", "2", "--value-seconds", "0.02"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_complete(report: dict) -> None:
    figures = report["us_per_request"]
    assert len(figures) == EXPECTED
    assert all(v > 0 for values in figures.values() for v in values)


def test_the_harness_runs_every_benchmark_on_the_installed_django():
    report = run_module(sys.executable)
    assert report["django"] == django.get_version()
    assert_complete(report)
    # Adaptation shows: five sync-only middleware under ASGI cost more than
    # five that declare both modes, which are not adapted.
    figures = report["us_per_request"]
    assert "MiddlewareAdaptation(asgi, sync-only)" in figures


def test_the_harness_runs_on_django_4_2():
    pythons = versions.find_pythons(["3.12", "3.13"], [])
    if not pythons:
        pytest.skip("no Python 3.12 or 3.13 to run Django 4.2 on")
    version, python = next(iter(pythons.items()))
    venv = versions.environment(python, version, {"django": DJANGO_4_2})
    report = run_module(str(venv / "bin" / "python"))
    assert report["django"] == DJANGO_4_2
    assert_complete(report)


def test_asv_itself_discovers_and_runs_it(tmp_path):
    asv = shutil.which("asv", path=str(Path(sys.executable).parent))
    assert asv, "asv is pinned in requirements.txt"
    copy = tmp_path / "asv"
    shutil.copytree(MODULE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    subprocess.run(
        [asv, "machine", "--yes"], cwd=copy, env=env, check=True, capture_output=True
    )
    result = subprocess.run(
        [asv, "run", "--python=same", "--quick", "--dry-run", "--show-stderr"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Running 3 total benchmarks" in result.stdout
    for name in ("AsyncBridges", "HandlerCall", "MiddlewareAdaptation"):
        assert f"{name}.time_call" in result.stdout
    assert "failed" not in result.stdout


# django-asv's request benchmark, as the page describes it.


def hello(request):  # django-asv's view: sync
    return HttpResponse("Hello World!")


urlpatterns = [path("inx-pg", hello)]


@pytest.mark.asyncio
@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[])
async def test_awaiting_get_response_after_load_middleware_is_a_type_error():
    handler = ASGIHandler()
    handler.load_middleware()  # is_async=False: the chain is sync again
    with pytest.raises(TypeError, match="can't be used in 'await' expression"):
        await handler.get_response(AsyncRequestFactory().get("/inx-pg"))


@pytest.mark.asyncio
@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[])
async def test_get_response_async_skips_the_thread_that_call_starts(monkeypatch):
    """Fixed to ``get_response_async``, a sync view starts no thread per request.

    ``ASGIHandler.__call__`` opens a ``ThreadSensitiveContext`` per request, and
    the sync view's first hop starts that context's thread; awaiting
    ``get_response_async`` directly reuses asgiref's one shared thread.
    """
    started = []
    original = threading.Thread.start

    def counting(thread):
        started.append(thread.name)
        original(thread)

    handler = ASGIHandler()
    request = AsyncRequestFactory().get("/inx-pg")
    await handler.get_response_async(request)  # the shared thread exists now
    monkeypatch.setattr(threading.Thread, "start", counting)
    for _ in range(3):
        response = await handler.get_response_async(
            AsyncRequestFactory().get("/inx-pg")
        )
        assert response.status_code == 200
    assert started == []
