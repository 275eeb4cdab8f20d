"""The board end to end: uvicorn, a real browser, the fake upstream, live updates.

A fresh SQLite database in a temporary directory gets one service, pointing at
the fake upstream, and a superuser. uvicorn serves the project; chromium opens
the dashboard and its EventSource connects. An httpx client logs in and asks
the board to check everything; the tile changes in the open page, with no
reload, first to ``up`` and then, once the upstream answers 500, to ``down``
with an open incident.
"""

import re
import sys

import httpx
import pytest

from sampleproject.upstream import UpstreamThread
from tests.support.browser import chromium_browser
from tests.support.servers import board_database, free_port, running_server

pytestmark = pytest.mark.browser

USERNAME = "admin"
PASSWORD = "browser-test-password"
UPDATE_TIMEOUT_MS = 5000
ONE_CLASS = r"(^|\s){}(\s|$)"


def has_class(name: str) -> re.Pattern:
    return re.compile(ONE_CLASS.format(name))


@pytest.fixture
def upstream():
    with UpstreamThread() as running:
        yield running


@pytest.fixture
def board(tmp_path, upstream):
    """The board's URL, served by uvicorn over a fresh database."""
    board_env = board_database(
        str(tmp_path), USERNAME, PASSWORD, upstream.service_url("payments")
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "sampleproject.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    # An event stream stays open: do not wait long for it on the way out.
    command += ["--timeout-graceful-shutdown", "1"]
    with running_server(command, f"{url}/api/summary/", env=board_env, timeout=20):
        yield url


@pytest.fixture
def browser():
    with chromium_browser() as context:
        yield context


def log_in(client: httpx.Client) -> None:
    form = client.get("/admin/login/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login form"
    response = client.post(
        "/admin/login/?next=/",
        data={
            "username": USERNAME,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"
    assert "sessionid" in client.cookies


def check_all(client: httpx.Client) -> dict:
    # Logging in rotated the CSRF token: send the current cookie's value.
    headers = {"X-CSRFToken": client.cookies["csrftoken"]}
    response = client.post("/api/check-all/", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_tiles_update_live_without_reload(board, browser, upstream):
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} ({m.location['url']})")
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    navigations: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: (
            navigations.append(frame.url) if frame == page.main_frame else None
        ),
    )

    script = httpx.get(f"{board}/static/board/board.js")
    assert script.status_code == 200, (
        "uvicorn does not serve the board's static files, so the dashboard's"
        " script never runs (sampleproject.asgi serves no /static/)"
    )
    page.goto(f"{board}/")
    tile = page.locator("#tile-payments")
    expect(tile).to_have_class(has_class("unknown"))
    expect(tile.locator(".detail")).to_have_text("not checked yet")
    expect(page.locator("#stream-state")).to_have_text(
        "Live", timeout=UPDATE_TIMEOUT_MS
    )
    page.evaluate("window.marker = 1")

    with httpx.Client(base_url=board, timeout=10) as client:
        log_in(client)
        # Anonymous requests are refused: the session is what lets this through.
        assert httpx.post(f"{board}/api/check-all/").status_code == 403

        report = check_all(client)
        assert report["checked"] == 1
        assert report["ok"] == 1
        assert report["results"][0]["slug"] == "payments"
        assert report["results"][0]["status"] == 200
        assert report["incidents"] == []
        assert upstream.behaviours.hits("payments") == 1

        expect(
            tile, "the tile did not turn up: are the receivers connected?"
        ).to_have_class(has_class("up"), timeout=UPDATE_TIMEOUT_MS)
        expect(tile.locator(".state")).to_have_text("up")
        expect(tile.locator(".detail")).to_have_text(
            re.compile(r"^HTTP 200 in \d+ ms$")
        )
        expect(tile.locator(".incident")).to_have_count(0)

        upstream.behaviours.set("payments", status=500)
        report = check_all(client)
        assert report["ok"] == 0
        assert report["results"][0]["status"] == 500
        assert report["results"][0]["error"] == "status"
        assert [change["state"] for change in report["incidents"]] == ["opened"]

        expect(tile).to_have_class(has_class("down"), timeout=UPDATE_TIMEOUT_MS)
        expect(tile).not_to_have_class(has_class("up"))
        expect(tile.locator(".detail")).to_have_text("Unexpected status (HTTP 500)")
        expect(tile.locator(".incident")).to_have_text("incident open")

    assert page.evaluate("window.marker") == 1  # the same document: no reload
    assert navigations == [f"{board}/"]
    expect(page.locator("#stream-state")).to_have_text("Live")
    # Chromium asks for /favicon.ico by itself and the project has none; a 404
    # for it is the only console error tolerated.
    assert [error for error in errors if not error.endswith("/favicon.ico)")] == []
    page.close()


def add_service(client: httpx.Client, name: str, slug: str, url: str) -> None:
    form = client.get("/services/add/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the service form"
    data = {"name": name, "slug": slug, "url": url, "expected_status": 200}
    data |= {"timeout": 2, "interval_seconds": 60}
    data["csrfmiddlewaretoken"] = token.group(1)
    response = client.post("/services/add/", data=data)
    assert response.status_code == 302, response.text


def test_a_service_added_elsewhere_appears_on_an_open_board(board, browser, upstream):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{board}/")
    expect(page.locator("#stream-state")).to_have_text(
        "Live", timeout=UPDATE_TIMEOUT_MS
    )
    expect(page.locator(".tile")).to_have_count(1)

    with httpx.Client(base_url=board, timeout=10) as client:
        log_in(client)
        add_service(client, "Search", "search", upstream.service_url("search"))
        # Its first check is the first the open page hears of it.
        assert check_all(client)["checked"] == 2

    tile = page.locator("#tile-search")
    expect(tile, "the new service never showed up").to_have_class(
        has_class("up"), timeout=UPDATE_TIMEOUT_MS
    )
    expect(tile.locator(".name")).to_have_text("Search")
    expect(page.locator(".tile")).to_have_count(2)
    expect(page.locator("#stream-state")).to_have_text(
        "Live", timeout=UPDATE_TIMEOUT_MS
    )
    page.close()
