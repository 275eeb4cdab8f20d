"""What the built site contains, read from its HTML."""

import re

from bs4 import BeautifulSoup

from tests.support.sphinx import ROOT


def test_only_the_site_sources_become_pages(built_site):
    pages = {
        str(path.relative_to(built_site))
        for path in built_site.rglob("*.html")
        if not path.relative_to(built_site).parts[0].startswith("_")
    }
    assert {"index.html", "docs/quickstart.html"} <= pages
    assert {"genindex.html", "search.html"} <= pages
    allowed_roots = {"docs", "tutorial"}
    strays = sorted(
        p for p in pages if "/" in p and p.split("/")[0] not in allowed_roots
    )
    assert strays == []
    assert not (built_site / "README.html").exists()


def test_theme_and_extensions_are_wired(built_site):
    html = (built_site / "docs" / "quickstart.html").read_text()
    assert "furo" in html
    assert "site.css" in html
    assert "copybutton.js" in html
    assert "sphinx-design" in html


def test_copybutton_strips_prompts_and_output(built_site):
    script = (built_site / "_static" / "copybutton.js").read_text()
    # The configured prompt regexp, and "copy only prompt lines", "remove prompts".
    assert r">>> |\\.\\.\\. |\\$ " in script
    assert re.search(r"formatCopyText\(.*, true, true, true", script)


def test_references_point_at_pinned_docs(built_site):
    html = (built_site / "docs" / "quickstart.html").read_text()
    assert (
        'href="https://docs.djangoproject.com/en/6.1/ref/models/querysets/'
        '#django.db.models.query.QuerySet.acount"'
    ) in html
    assert "docs.djangoproject.com/en/dev" not in html


def diagrams(built_site):
    """Every diagram on the built pages, as (page, div.graphviz) pairs."""
    for html in sorted((built_site / "docs").rglob("*.html")):
        soup = BeautifulSoup(html.read_text(), "html.parser")
        for div in soup.select("div.graphviz"):
            yield html.relative_to(built_site), div


def test_diagrams_follow_the_theme(built_site):
    found = list(diagrams(built_site))
    assert found
    for page, div in found:
        # Inline, so the page's CSS reaches it: an <object> keeps it out of reach.
        assert div.find("object") is None, page
        svg = str(div.svg)
        # Lines and labels take the theme's text color.
        assert "black" not in svg, page
        assert 'stroke="currentColor"' in svg, page
        assert all(text.get("fill") == "currentColor" for text in div.find_all("text"))
        # Every colored fill carries the dark twin that site.css applies.
        fills = div.svg.find_all(fill=re.compile("^#"))
        assert all("--dark-fill: #" in shape.get("style", "") for shape in fills)
        # Two diagrams on a page would otherwise repeat Graphviz's ids.
        assert div.svg.find_all(id=True) == [], page
    css = (built_site / "_static" / "site.css").read_text()
    assert css == (ROOT / "_static" / "site.css").read_text()
    assert 'body[data-theme="dark"] .graphviz [style*="--dark-fill"]' in css
    assert "fill: var(--dark-fill)" in css


def test_diagrams_carry_their_alt_text_for_assistive_technology(built_site):
    found = list(diagrams(built_site))
    for page, div in found:
        assert div.svg is not None, page
        label = div.svg.get("aria-label", "")
        assert div.svg.get("role") == "img", page
        # Sphinx falls back to the dot source when a diagram has no :alt:.
        assert label, page
        assert "digraph" not in label, page
    labels = [div.svg["aria-label"] for _, div in found]
    assert (
        "A chain of Django releases from 3.0 to 6.1, each with its main async "
        "feature; four dashed boxes for unshipped plans." in labels
    )


def test_setting_role_links_to_djangos_settings_reference(built_site):
    html = (built_site / "tutorial" / "08-production.html").read_text()
    assert (
        'href="https://docs.djangoproject.com/en/6.1/ref/settings/'
        '#std-setting-CONN_MAX_AGE"' in html
    )


def test_tutorial_pages_show_files_under_the_readers_path(built_site):
    html = (built_site / "tutorial" / "02-models.html").read_text()
    assert "sampleproject/board/models.py" in html
    assert "tutorial-shell" in html
    # A diff names the reader's file, not the machine that built the site.
    settings = (built_site / "tutorial" / "03-concurrency.html").read_text()
    assert "sampleproject/settings.py (after)" in settings
    assert str(ROOT) not in settings


def test_diagrams_are_drawn_by_graphviz_pure_from_the_venv(built_site):
    # A reader's machine has no Graphviz: the renderer comes from requirements.txt.
    pages = [
        page
        for page in (ROOT / "docs").rglob("*.md")
        if "```{graphviz}" in page.read_text()
    ]
    svgs = [str(div) for _, div in diagrams(built_site)]
    assert pages
    assert len(svgs) >= len(pages)
    for svg in svgs:
        assert "(graphviz-pure)" in svg
        # Laid out with Verdana's metrics: see graphviz_dot_args in conf.py.
        assert 'font-family="Verdana"' in svg


def test_scrolling_code_blocks_and_tables_take_keyboard_focus(built_site):
    blocks = tables = 0
    for html in sorted(built_site.rglob("*.html")):
        soup = BeautifulSoup(html.read_text(), "html.parser")
        for element in soup.select("div.highlight > pre, div.table-wrapper"):
            assert element.get("tabindex") == "0", (html, str(element)[:80])
            blocks += element.name == "pre"
            tables += element.name == "div"
    assert blocks > 100
    assert tables > 5


def test_headings_in_navigation_have_a_level(built_site):
    captions = 0
    for html in sorted(built_site.rglob("*.html")):
        soup = BeautifulSoup(html.read_text(), "html.parser")
        for heading in soup.select('[role="heading"]'):
            assert heading.get("aria-level") == "2", (html, str(heading)[:80])
            captions += 1
    assert captions > 0


def test_pages_name_a_favicon(built_site):
    html = (built_site / "index.html").read_text()
    icon = BeautifulSoup(html, "html.parser").find("link", rel="icon")
    assert icon is not None
    assert icon["href"] == "_static/favicon.svg"
    assert (built_site / "_static" / "favicon.svg").read_text().startswith("<svg")
