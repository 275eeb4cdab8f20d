"""What the built site contains, read from its HTML."""

import re

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


def test_dark_mode_rules_for_diagrams_ship(built_site):
    css = (built_site / "_static" / "site.css").read_text()
    assert css == (ROOT / "_static" / "site.css").read_text()
    assert 'body[data-theme="dark"] .graphviz svg' in css


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
    # The images the pages use (a reused build directory keeps stale ones).
    names = {
        name
        for html in (built_site / "docs").rglob("*.html")
        for name in re.findall(r"graphviz-[0-9a-f]+\.svg", html.read_text())
    }
    svgs = [built_site / "_images" / name for name in sorted(names)]
    assert pages
    assert len(svgs) >= len(pages)
    for svg in svgs:
        text = svg.read_text()
        assert "(graphviz-pure)" in text, svg.name
        # Laid out with Verdana's metrics: see graphviz_dot_args in conf.py.
        assert 'font-family="Verdana"' in text, svg.name
