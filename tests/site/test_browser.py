"""The built site in a real browser: copying code, the dark theme, diagrams,
search, navigation, the 404 page, and axe-core's accessibility rules."""

import re

import pytest
from a11y_pygments.utils.wcag_contrast import contrast_ratio

from tests.support.browser import chromium_browser
from tests.support.site import PAGE_KINDS, served_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_url(built_site):
    with served_site(built_site) as url:
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


@pytest.mark.parametrize("path", [*PAGE_KINDS.values(), "404.html", "search.html"])
def test_pages_load_without_errors(site_url, browser, path):
    page = browser.new_page()
    failures = []
    page.on("console", lambda m: m.type == "error" and failures.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failures.append(r.url))
    page.goto(site_url + path)
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


def test_search_finds_pages(site_url, browser):
    page = browser.new_page()
    page.goto(site_url + "search.html?q=sync_to_async")
    # Sphinx's search lists its results one at a time, on timers, and says
    # "Search finished" after the last: count them only then.
    finished = page.locator("#search-results .search-summary", has_text="finished")
    finished.wait_for(timeout=15000)
    results = page.locator("#search-results ul.search > li")
    assert results.count() >= 5
    titles = " ".join(results.locator("a").all_inner_texts())
    assert "The bridges" in titles
    page.close()


# Per figure on the page, diagram or plot: the colors its labels and boxes take.
FIGURE_COLORS = """() => [...document.querySelectorAll(".graphviz svg, svg.bench-plot")]
  .map((svg) => {
    const box = svg.querySelector("[style*='--dark-fill'], rect[fill^='#']");
    return {
      text: getComputedStyle(svg.querySelector("text")).fill,
      box: box ? getComputedStyle(box).fill : null,
    };
  })"""


def figure_colors_after_toggling_to(page, theme):
    """Click furo's theme button until the page shows ``theme``."""
    for _ in range(3):
        if page.locator("body").get_attribute("data-theme") == theme:
            break
        page.locator(".theme-toggle-content .theme-toggle").click()
    assert page.locator("body").get_attribute("data-theme") == theme
    return page.evaluate(FIGURE_COLORS)


@pytest.mark.parametrize(
    "path", ["docs/internals/request-journey.html", "docs/performance/results.html"]
)
def test_the_theme_button_switches_every_diagram_and_plot(site_url, browser, path):
    page = browser.new_page()
    page.goto(site_url + path)
    light = figure_colors_after_toggling_to(page, "light")
    dark = figure_colors_after_toggling_to(page, "dark")
    page.close()
    assert len(light) >= 2
    for before, after in zip(light, dark, strict=True):
        assert before["text"] != after["text"], (before, after)
        if "graphviz" in path:
            # Boxes take their dark twins; plot bars keep their mid-tone colors.
            assert before["box"] != after["box"], (before, after)


def test_next_link_and_sidebar_navigate(site_url, browser):
    page = browser.new_page()
    page.goto(site_url + "index.html")
    page.locator("a.next-page").click()
    page.wait_for_load_state()
    assert page.url.endswith("docs/quickstart.html")
    page.locator(".sidebar-tree a", has_text="Tutorial: build").first.click()
    page.wait_for_load_state()
    assert page.url.endswith("tutorial/index.html")
    assert page.locator("h1").inner_text().startswith("Tutorial: build")
    page.close()


def test_the_404_page_is_styled_and_leads_back(site_url, browser):
    page = browser.new_page()
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    # A server shows this page for a missing URL at any depth.
    page.goto(site_url + "404.html")
    assert page.locator("h1").inner_text().startswith("Page not found")
    sidebar = page.locator(".sidebar-drawer")
    assert sidebar.is_visible()  # furo's stylesheet loaded
    page.locator("article a", has_text="The quickstart").click()
    page.wait_for_load_state()
    assert page.url == site_url + "docs/quickstart.html"
    page.close()
    assert failed == []


# The smallest label of each figure, in CSS pixels as drawn, and whether the
# figure's box scrolls sideways (the way a phone reaches the rest of it).
FIGURE_TEXT = """() => [...document.querySelectorAll(".graphviz svg, svg.bench-plot")]
  .map((svg) => {
    const scale = svg.getScreenCTM().a;
    const sizes = [...svg.querySelectorAll("text")].map(
      (t) => parseFloat(getComputedStyle(t).fontSize) * scale);
    const box = svg.parentElement;
    return {smallest: Math.min(...sizes), scrolls: box.scrollWidth > box.clientWidth,
            focusable: box.tabIndex === 0};
  })"""


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize(
    "path",
    [
        "docs/internals/async-safety.html",
        "docs/internals/bridges.html",
        "docs/internals/request-journey.html",
        "docs/performance/results.html",
        "docs/performance/versions.html",
    ],
)
def test_figure_labels_stay_legible(site_url, browser, path, width):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site_url + path)
    figures = page.evaluate(FIGURE_TEXT)
    page.close()
    assert figures
    for figure in figures:
        assert figure["smallest"] >= 10.9, figure  # 11 px, less rounding
        assert figure["focusable"], figure
    if width == 1280 and "async-safety" in path:
        # The guard diagram, drawn top to bottom, fits the page on a desktop.
        assert not any(figure["scrolls"] for figure in figures)


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_axe_finds_no_violations(site_url, browser, axe, kind, theme, width):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site_url + PAGE_KINDS[kind])
    page.evaluate(f"localStorage.setItem('theme', '{theme}')")
    page.reload()
    results = axe.run(page)
    page.close()
    violations = {
        violation["id"]: [node["target"] for node in violation["nodes"]][:5]
        for violation in results.response["violations"]
    }
    assert violations == {}


@pytest.mark.parametrize("width", [1264, 1280])
def test_in_page_contents_show_on_a_laptop_with_24px_targets(site_url, browser, width):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(site_url + "docs/internals/bridges.html")
    contents = page.locator(".toc-drawer")
    box = contents.bounding_box()
    # furo slides it off screen below 82em (1312 px); here it stays in view.
    assert box is not None
    assert box["x"] + box["width"] <= width + 1
    assert box["x"] >= 0
    heights = page.evaluate(
        """() => [...document.querySelectorAll(".toc-tree a.reference")]
             .filter((a) => a.offsetParent !== null)
             .map((a) => a.getBoundingClientRect().height)"""
    )
    page.close()
    assert len(heights) > 5
    assert min(heights) >= 24
