"""The built site in a real browser: copying code, the dark theme, diagrams."""

import re
import sys

import pytest
from a11y_pygments.utils.wcag_contrast import contrast_ratio

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


def rgb01(css_color, under=(1.0, 1.0, 1.0)):
    """A computed CSS color as 0-1 channels, blended over ``under`` if translucent."""
    red, green, blue, *alpha = map(float, re.findall(r"[\d.]+", css_color))
    opacity = alpha[0] if alpha else 1.0
    return tuple(
        opacity * channel / 255 + (1 - opacity) * base
        for channel, base in zip((red, green, blue), under, strict=True)
    )


# The colors a reader sees in the first diagram of a page: its lines, its
# labels, and each filled box with the label drawn on it.
DIAGRAM_COLORS = """() => {
  const svg = document.querySelector(".graphviz svg");
  const style = (element) => getComputedStyle(element);
  const boxes = [...svg.querySelectorAll("g.node")].filter(
    (node) => node.querySelector("path[style], polygon[style]")
  ).map((node) => [
    style(node.querySelector("path[style], polygon[style]")).fill,
    style(node.querySelector("text")).fill,
  ]);
  return {
    page: style(document.body).backgroundColor,
    line: style(svg.querySelector("g.edge path")).stroke,
    label: style(svg.querySelector("text")).fill,
    boxes: boxes,
  };
}"""


def diagram_colors(browser, url, theme):
    page = browser.new_page()
    page.goto(url)
    page.evaluate(f"localStorage.setItem('theme', '{theme}')")
    page.reload()
    colors = page.evaluate(DIAGRAM_COLORS)
    page.close()
    return colors


def test_diagrams_follow_the_theme(site_url, browser):
    url = site_url + "docs/internals/request-journey.html"
    seen = {}
    for theme in ("light", "dark"):
        colors = diagram_colors(browser, url, theme)
        page = rgb01(colors["page"])
        line, label = rgb01(colors["line"], page), rgb01(colors["label"], page)
        # Lines and labels stand out from the page (3:1, WCAG's non-text contrast).
        assert contrast_ratio(line, page) >= 3, (theme, colors)
        assert contrast_ratio(label, page) >= 3, (theme, colors)
        # A label on a filled box is text: 4.5:1 (WCAG AA).
        assert colors["boxes"], theme
        for fill, text in colors["boxes"]:
            box = rgb01(fill, page)
            assert contrast_ratio(rgb01(text, box), box) >= 4.5, (theme, fill, text)
        seen[theme] = colors
    assert seen["light"]["line"] != seen["dark"]["line"]
    assert seen["light"]["boxes"] != seen["dark"]["boxes"]


def test_pages_load_without_errors(site_url, browser):
    page = browser.new_page()
    failures = []
    page.on("console", lambda m: m.type == "error" and failures.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failures.append(r.url))
    page.goto(site_url + "docs/internals/request-journey.html")
    page.wait_for_load_state("networkidle")
    # Headless Chromium fetches no icon, but a browser with tabs asks for the
    # one the page names, or /favicon.ico if it names none: a 404 in the console.
    icon_status = page.evaluate("""async () => {
      const icon = document.querySelector("link[rel~=icon]");
      const response = await fetch(icon ? icon.href : "/favicon.ico");
      return response.status;
    }""")
    page.close()
    assert failures == []
    assert icon_status == 200
