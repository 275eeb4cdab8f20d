"""The decision guide's suite (bench/decide.py) and the views it requests."""

import asyncio
import time

import pytest
from django.test import RequestFactory

from bench import decide, server_views, servers, stats
from bench.cases import SUITES
from tests.bench.test_servers import Progress
from tests.support import tools

COMPUTE_MS = 300


FULL = {"mode": "full", "explicit": [], "options": {}}


def test_the_suite_is_registered():
    assert SUITES["decide"].load() is decide.run


def test_the_known_cases_are_the_grid_and_two_per_cpu_setup():
    grid = len(decide.CONTENDERS) * len(decide.WAITS_MS) * len(decide.CONNECTIONS)
    assert len(decide.KNOWN_CASES) == grid + 2 * len(decide.CPU_SETUPS)
    assert "decide-breakeven/uvicorn.async-view.100ms.c200" in decide.KNOWN_CASES
    assert "decide-cpu/uvicorn.async-view.beside-cpu" in decide.KNOWN_CASES
    assert {"decide-breakeven", "decide-cpu"} == decide.KNOWN_GROUPS


def test_the_async_case_is_a_ratio_to_gthread_at_the_same_point():
    case = decide.WaitCase("uvicorn", 20, 200)
    assert case.path == "/wait/async/20/"
    assert case.baseline == "gunicorn-gthread.sync-view.20ms.c200"
    assert decide.WaitCase("gunicorn-gthread", 20, 200).baseline is None
    assert case.params()["wait_ms"] == 20


def test_a_quick_run_measures_nothing():
    assert decide.run({"mode": "quick"}, Progress()) == {}


def test_the_command_line_profile_overrides_the_suites_own():
    for group in decide.GROUPS:
        assert decide.profile_for(FULL, group) == decide.PROFILES[group]
    explicit = ["values", "value_seconds"]
    settings = {**FULL, "explicit": explicit, "values": 1, "value_seconds": 0.1}
    # wrk measures whole seconds.
    expected = {**decide.PROFILES["decide-cpu"], "values": 1, "value_seconds": 1}
    assert decide.profile_for(settings, "decide-cpu") == expected


def test_a_short_wait_runs_for_one_second_and_a_long_one_for_the_profiles():
    profile = decide.PROFILES["decide-breakeven"]
    few, many = min(decide.CONNECTIONS), max(decide.CONNECTIONS)
    short = decide.WaitCase("gunicorn-gthread", decide.SHORT_RUN_MAX_WAIT_MS, few)
    long = decide.WaitCase("gunicorn-gthread", max(decide.WAITS_MS), few)
    assert decide.run_profile(short, profile, FULL)["value_seconds"] == 1
    assert decide.run_profile(long, profile, FULL) == profile
    # With more connections than threads requests queue: the profile's 2 s.
    queued = decide.WaitCase("uvicorn", 0, many)
    assert many > servers.GTHREAD_THREADS >= few
    assert decide.SHORT_RUN_MAX_CONNECTIONS == servers.GTHREAD_THREADS
    assert decide.run_profile(queued, profile, FULL) == profile
    # A run length given on the command line holds for every case.
    explicit = {**FULL, "explicit": ["value_seconds"]}
    assert decide.run_profile(short, profile, explicit) == profile


def test_without_wrk_every_case_is_skipped_and_no_server_starts(monkeypatch):
    monkeypatch.setenv("BENCH_WRK", "no-such-wrk-here")

    def no_server(*args, **kwargs):
        raise AssertionError("a server was started")

    monkeypatch.setattr(servers, "start", no_server)
    progress = Progress()
    groups = decide.run(FULL, progress)
    assert set(groups) == {"decide-breakeven", "decide-cpu"}
    assert all(not group["cases"] for group in groups.values())
    skipped = [item for group in groups.values() for item in group["skipped"]]
    assert len(skipped) == len(decide.KNOWN_CASES) - len(decide.CPU_SETUPS)
    assert {item["why"] for item in skipped} == {"wrk not found (apt-get install wrk)"}
    assert any("decide: skipped" in line for line in progress.lines)


def test_a_missing_server_package_skips_its_cases(monkeypatch):
    tools.need("wrk")
    missing = servers.Server("uvicorn", "uvicorn", "asgi", "uvicorn", "no_such_mod")
    monkeypatch.setitem(servers.SERVERS, "uvicorn", missing)
    monkeypatch.setattr(servers, "start", lambda *a, **k: pytest.fail("started"))
    monkeypatch.setattr(decide, "CONTENDERS", {"uvicorn": "async"})
    monkeypatch.setattr(
        decide,
        "CPU_SETUPS",
        {"uvicorn.async-view": decide.CPU_SETUPS["uvicorn.async-view"]},
    )
    groups = decide.run(FULL, Progress())
    skipped = [item for group in groups.values() for item in group["skipped"]]
    assert skipped
    assert {item["why"] for item in skipped} == {"uvicorn is not installed"}


def test_a_small_run_records_both_groups_and_stops_every_server(monkeypatch):
    tools.need("wrk")
    started = []
    original = servers.running_server

    def recording(*args, **kwargs):
        context = original(*args, **kwargs)
        running = context.__enter__()
        started.append(running.process.pid)

        class Context:
            def __enter__(self):
                return running

            def __exit__(self, *exc_info):
                return context.__exit__(*exc_info)

        return Context()

    monkeypatch.setattr(servers, "running_server", recording)
    monkeypatch.setattr(decide, "WAITS_MS", (0, 50))
    monkeypatch.setattr(decide, "CONNECTIONS", (4,))
    setups = ("uvicorn.async-view", "gunicorn-gthread.sync-view")
    monkeypatch.setattr(
        decide, "CPU_SETUPS", {name: decide.CPU_SETUPS[name] for name in setups}
    )
    explicit = ["values", "value_seconds"]
    settings = {**FULL, "explicit": explicit, "values": 1, "value_seconds": 1}
    groups = decide.run(settings, Progress())
    stats.add_summaries(groups)

    assert len(started) == 2
    assert all(not servers.group_members(pid) for pid in started)
    wait = groups["decide-breakeven"]
    assert set(wait["cases"]) == {
        f"{server}.{view}-view.{ms}ms.c4"
        for server, view in decide.CONTENDERS.items()
        for ms in (0, 50)
    }
    waited = wait["cases"]["uvicorn.async-view.50ms.c4"]
    assert waited["latency_ms"]["p50"] >= 50
    assert waited["ratio"]["of"] == "gunicorn-gthread.sync-view.50ms.c4"
    assert "loop_lag_ms" in waited
    cpu = groups["decide-cpu"]["cases"]
    assert set(cpu) == {
        f"{name}.{kind}" for name in setups for kind in ("alone", "beside-cpu")
    }
    beside = cpu["uvicorn.async-view.beside-cpu"]
    assert beside["load"]["requests_per_second"] > 0
    assert beside["ratio"]["of"] == "uvicorn.async-view.alone"
    assert beside["params"]["compute_path"] == f"/compute/async/{decide.CPU_MS}/"
    assert groups["decide-cpu"]["setup"]["cpu_ms"] == decide.CPU_MS
    assert groups["decide-breakeven"]["setup"]["profile"]["value_seconds"] == 1


# The views.


@pytest.mark.parametrize(
    "view",
    [
        server_views.wait_sync,
        server_views.compute_sync,
    ],
)
def test_a_sync_view_refuses_more_than_a_second_with_a_400(view):
    response = view(RequestFactory().get("/"), server_views.MAX_MS + 1)
    assert response.status_code == 400
    assert response.content == b"at most 1000 ms, not 1001\n"


@pytest.mark.parametrize(
    "view",
    [
        server_views.wait_async,
        server_views.compute_async,
        server_views.compute_async_in_thread,
    ],
)
def test_an_async_view_refuses_more_than_a_second_with_a_400(view):
    response = asyncio.run(view(RequestFactory().get("/"), server_views.MAX_MS + 1))
    assert response.status_code == 400


def test_the_urls_route_to_the_views(settings, client):
    settings.ROOT_URLCONF = "bench.server_urls"
    assert client.get("/wait/sync/5/").content == b"ok"
    assert client.get("/compute/sync/5/").content == b"ok"
    assert client.get("/wait/async/5000/").status_code == 400


def test_compute_uses_the_cpu_time_it_is_given():
    started = time.thread_time()
    server_views.compute(50)
    assert 0.05 <= time.thread_time() - started < 0.1


async def worst_loop_lag(coroutine) -> float:
    """The longest the event loop was late, in seconds, while ``coroutine`` ran."""
    worst, done = 0.0, False

    async def probe():
        nonlocal worst
        while not done:
            asked = time.perf_counter()
            await asyncio.sleep(0.002)
            worst = max(worst, time.perf_counter() - asked - 0.002)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)  # the probe is running
    response = await coroutine
    done = True
    await task
    assert response.content == b"ok"
    return worst


def test_an_async_view_that_computes_holds_the_event_loop_throughout():
    view = server_views.compute_async(RequestFactory().get("/"), COMPUTE_MS)
    lag = asyncio.run(worst_loop_lag(view))
    # Nothing else on the loop ran for the whole computation.
    assert lag >= COMPUTE_MS / 1000 * 0.9


def test_an_async_view_that_sends_the_computation_to_a_thread_leaves_the_loop_free():
    view = server_views.compute_async_in_thread(RequestFactory().get("/"), COMPUTE_MS)
    lag = asyncio.run(worst_loop_lag(view))
    # The loop runs between the thread's turns at the GIL (a few ms each).
    assert lag < COMPUTE_MS / 1000 / 3
