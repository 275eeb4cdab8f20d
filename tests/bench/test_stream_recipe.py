"""The stream recipe suite: both apps through a real uvicorn, threads and events."""

import asyncio
import resource

import pytest

from bench import stream_apps, stream_recipe
from tests.bench.test_servers import Progress


@pytest.fixture
def small_steps(monkeypatch):
    monkeypatch.setitem(stream_recipe.STEPS, "quick", (30,))


def test_the_default_holds_a_thread_per_stream_and_the_recipe_does_not(small_steps):
    groups = stream_recipe.run({"mode": "quick"}, Progress())
    cases = groups[stream_recipe.GROUP]["cases"]
    assert set(cases) == {"uvicorn.default-30", "uvicorn.recipe-30"}
    default, recipe = cases["uvicorn.default-30"], cases["uvicorn.recipe-30"]
    for case in (default, recipe):
        assert case["steps"][-1]["held"] == 30
        assert case["event_ms"]["received"] == 30
        assert 0 < case["event_ms"]["p50"] <= case["event_ms"]["max"]
    assert default["per_stream"]["threads"] == pytest.approx(1.0, abs=0.1)
    assert recipe["per_stream"]["threads"] < 0.1


def test_a_step_the_open_files_limit_cannot_hold_is_skipped(monkeypatch, small_steps):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    monkeypatch.setattr(stream_recipe, "FD_MARGIN", hard)
    progress = Progress()
    groups = stream_recipe.run({"mode": "quick"}, progress)
    group = groups[stream_recipe.GROUP]
    assert group["cases"] == {}
    assert group["skipped"][0]["what"] == "30 streams"
    assert any("skipped 30 streams" in line for line in progress.lines)


def test_publish_answers_only_a_post():
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": stream_apps.PUBLISH, "method": "GET"}
    asyncio.run(stream_apps.default(scope, None, send))
    assert sent[0]["status"] == 405
