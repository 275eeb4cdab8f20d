"""The built site in a real browser: copying code, and the dark theme."""

import sys

import pytest

from tests.support.browser import chromium_browser
from tests.support.servers import free_port, running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_url(built_site):
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port)]
    command += ["--bind", "127.0.0.1", "--directory", str(built_site)]
    url = f"http://127.0.0.1:{port}/"
    with running_server(command, url):
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        yield context


def test_copy_button_copies_code_without_prompts_or_output(site_url, browser):
    page = browser.new_page()
    page.goto(site_url + "docs/quickstart.html")
    block = page.locator("div.highlight-pycon, div.doctest").filter(
        has_text="Service.objects.count()"
    )
    block.first.hover()
    block.first.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (
        "from sampleproject.board.models import Service\nService.objects.count()"
    )
    page.close()


def test_dark_theme_applies(site_url, browser):
    page = browser.new_page()
    page.goto(site_url + "index.html")
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.reload()
    assert page.locator("body").get_attribute("data-theme") == "dark"
    background = page.evaluate(
        "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number)"
    )
    assert sum(background[:3]) / 3 < 64, background
    page.close()
