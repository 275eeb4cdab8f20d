"""Every endpoint, over a real ASGI server, never blocks the server's event loop.

uvicorn serves tests/support/guarded_asgi.py: the board under the blocking
guard of tests/support/blocking.py. The test logs in, adds a service, runs both
check-alls, opens the event stream, and asks for every page, a static file and
a missing one; then it reads what the guard found in the server and fails on
any call the allowlist does not name, listing each with where it was made.
"""

import json
import re
import sys

import httpx
import pytest

from sampleproject.upstream import UpstreamThread
from tests.support.blocking import Detection, failure_report, failures
from tests.support.servers import board_database, free_port, running_server

USERNAME = "admin"
PASSWORD = "smoke-test-password"


@pytest.fixture
def upstream():
    with UpstreamThread() as running:
        yield running


@pytest.fixture
def guarded_board(tmp_path, upstream):
    """The board on uvicorn under the guard; yields its URL and the report file."""
    report = tmp_path / "blocking.jsonl"
    report.touch()
    env = board_database(
        str(tmp_path),
        USERNAME,
        PASSWORD,
        upstream.service_url("payments"),
        BLOCKING_REPORT=str(report),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.support.guarded_asgi:application",
    ]
    # uvicorn's own start-up lines are written on its loop: keep them quiet.
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning"]
    # An event stream stays open: do not wait long for it on the way out.
    command += ["--timeout-graceful-shutdown", "1"]
    with running_server(command, f"{url}/api/summary/", env=env, timeout=30):
        yield url, report


def csrf_token(response: httpx.Response) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert found, "no CSRF token on the form"
    return found.group(1)


def exercise_every_endpoint(url: str, upstream_url: str) -> None:
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        assert client.get("/api/summary/").json() == {"services": 1, "enabled": 1}
        login = client.get("/admin/login/")
        assert login.status_code == 200
        response = client.post(
            "/admin/login/?next=/",
            data={
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf_token(login),
            },
        )
        assert response.status_code == 302, response.text
        assert client.get("/").status_code == 200
        assert client.get("/services/payments/").status_code == 200
        form = client.get("/services/add/")
        assert form.status_code == 200
        added = client.post(
            "/services/add/",
            data={
                "name": "Search",
                "slug": "search",
                "url": upstream_url,
                "expected_status": 200,
                "timeout": 2,
                "interval_seconds": 60,
                "csrfmiddlewaretoken": csrf_token(form),
            },
        )
        assert added.status_code == 302, added.text
        refused = client.post(
            "/services/add/",
            data={"slug": "x", "csrfmiddlewaretoken": csrf_token(form)},
        )
        assert refused.status_code == 400
        headers = {"X-CSRFToken": client.cookies["csrftoken"]}
        for endpoint in ("/api/check-all/", "/api/check-all-sync/"):
            checked = client.post(endpoint, headers=headers)
            assert checked.status_code == 200, checked.text
            assert checked.json()["checked"] == 2
        with client.stream("GET", "/events/") as stream:
            assert stream.status_code == 200
            assert next(stream.iter_text()).startswith("retry:")
        assert client.get("/static/board/board.css").status_code == 200
        assert client.get("/no-such-page/").status_code == 404
        assert client.get("/admin/").status_code == 200


def test_no_endpoint_blocks_the_servers_event_loop(guarded_board, upstream):
    url, report = guarded_board
    exercise_every_endpoint(url, upstream.service_url("search"))
    detections = [
        Detection(**{**record, "stack": [tuple(frame) for frame in record["stack"]]})
        for record in map(json.loads, report.read_text().splitlines())
    ]
    canaries = [d for d in detections if "guarded_asgi.py:canary (" in d.culprit]
    assert [d.call for d in canaries] == ["time.sleep"], "the guard was not on"
    found = [d for d in detections if d not in canaries]
    assert not failures(found), failure_report(found)
