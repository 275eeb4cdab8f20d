"""What the built site contains, read from its HTML."""

import itertools
import json
import re

from tests.support.site import parsed
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
        soup = parsed(html)
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
    # A changed file is shown whole under the reader's path, not the path on
    # the machine that built the site.
    settings = (built_site / "tutorial" / "03-concurrency.html").read_text()
    assert '<span class="caption-text">sampleproject/settings.py</span>' in settings
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
        soup = parsed(html)
        for element in soup.select("div.highlight > pre, div.table-wrapper"):
            assert element.get("tabindex") == "0", (html, str(element)[:80])
            blocks += element.name == "pre"
            tables += element.name == "div"
    assert blocks > 100
    assert tables > 5


def test_headings_in_navigation_have_a_level(built_site):
    captions = 0
    for html in sorted(built_site.rglob("*.html")):
        soup = parsed(html)
        for heading in soup.select('[role="heading"]'):
            assert heading.get("aria-level") == "2", (html, str(heading)[:80])
            captions += 1
    assert captions > 0


def test_pages_name_a_favicon(built_site):
    icon = parsed(built_site / "index.html").find("link", rel="icon")
    assert icon is not None
    assert icon["href"] == "_static/favicon.svg"
    assert (built_site / "_static" / "favicon.svg").read_text().startswith("<svg")


def pages(built_site):
    """The site's own pages (not Sphinx's search and index pages), parsed."""
    for html in sorted(built_site.rglob("*.html")):
        name = str(html.relative_to(built_site))
        if name.startswith("_") or name in ("search.html", "genindex.html"):
            continue
        yield name, parsed(html)


def baseurl(built_site):
    soup = parsed(built_site / "index.html")
    return soup.find("link", rel="canonical")["href"].removesuffix("index.html")


def test_every_page_has_a_description_canonical_url_and_social_tags(built_site):
    base = baseurl(built_site)
    assert base.startswith("https://")
    assert base.endswith("/")
    descriptions = set()
    for name, soup in pages(built_site):
        description = soup.find("meta", attrs={"name": "description"})
        assert description is not None, name
        assert len(description["content"]) > 50, name
        descriptions.add(description["content"])
        canonical = soup.find("link", rel="canonical")["href"]
        assert canonical == base + name, name
        og = {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}
        assert og["og:url"] == canonical, name
        assert og["og:title"], name
        assert og["og:description"], name
        assert og["og:image"].startswith(base), name
        assert soup.find("meta", attrs={"name": "twitter:card"}), name
        # docutils adds a second viewport tag that furo's template already has.
        assert len(soup.find_all("meta", attrs={"name": "viewport"})) == 1, name
    assert len(descriptions) > 30  # one of its own per page


def test_sitemap_lists_every_page_and_robots_txt_points_at_it(built_site):
    base = baseurl(built_site)
    sitemap = (built_site / "sitemap.xml").read_text()
    listed = set(re.findall(r"<loc>(.*?)</loc>", sitemap))
    expected = {base + name for name, _ in pages(built_site) if name != "404.html"}
    assert listed == expected
    robots = (built_site / "robots.txt").read_text()
    assert "User-agent: *\nAllow: /\n" in robots
    assert f"Sitemap: {base}sitemap.xml\n" in robots


def test_the_404_page_has_navigation_with_absolute_links(built_site):
    soup = parsed(built_site / "404.html")
    assert soup.find("h1").get_text(strip=True).startswith("Page not found")
    assert soup.find("meta", attrs={"name": "robots"})["content"] == "noindex"
    # Served for any missing URL, at any depth: its links cannot be relative.
    prefix = "/" + baseurl(built_site).split("/", 3)[3]
    article = soup.find("article")
    links = [a["href"] for a in article.find_all("a", href=True)]
    assert prefix + "docs/quickstart.html" in links
    assert prefix + "tutorial/index.html" in links
    sidebar = soup.select(".sidebar-tree a.reference")
    assert len(sidebar) > 20
    assert all(a["href"].startswith(prefix) for a in sidebar)
    styles = [link["href"] for link in soup.find_all("link", rel="stylesheet")]
    assert all(href.startswith(prefix + "_static/") for href in styles)


def test_pages_link_to_their_source_in_the_repository(built_site):
    soup = parsed(built_site / "docs" / "guides" / "cache.html")
    edit = soup.find("a", rel="edit")["href"]
    assert re.fullmatch(
        r"https://github\.com/[^/]+/[^/]+/edit/[^/]+/docs/guides/cache\.md", edit
    )
    view = soup.find("a", title="View this page")["href"]
    assert view == edit.replace("/edit/", "/blob/") + "?plain=true"


def test_sphinx_design_loads_only_on_pages_that_use_it(built_site):
    using = without = 0
    for name, soup in pages(built_site):
        assets = [
            t.get("href") or t.get("src") or ""
            for t in soup.find_all(["link", "script"])
        ]
        loaded = any("sphinx-design" in a or "design-tabs" in a for a in assets)
        used = soup.select_one('[class*="sd-"]') is not None
        assert loaded == used, name
        using += used
        without += not used
    assert using >= 5
    assert without > using


def test_the_build_keeps_its_doctrees_outside_the_site(built_site):
    assert not (built_site / ".doctrees").exists()
    assert (built_site.parent / "doctrees" / "index.doctree").is_file()


def test_every_table_on_a_page_has_a_header_row(built_site):
    for name, soup in pages(built_site):
        for table in soup.find_all("table"):
            assert table.find("th"), (name, str(table)[:120])


def test_diagrams_keep_their_labels_at_least_11px(built_site):
    for page, div in diagrams(built_site):
        style = div.svg.get("style", "")
        min_width = float(re.search(r"min-width: (\d+)px", style)[1])
        view_width = float(div.svg["viewbox"].split()[2])
        smallest = min(float(text["font-size"]) for text in div.find_all("text"))
        assert smallest * min_width / view_width >= 10.9, page
        assert div.get("tabindex") == "0", page  # it may scroll sideways


def search_index(built_site) -> dict:
    text = (built_site / "searchindex.js").read_text()
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


def test_search_index_keeps_plot_labels_apart(built_site):
    # Sphinx indexes a raw HTML block with its tags stripped: labels of adjacent
    # <text> elements in a plot once merged into words like async_to_syncasgiref.
    terms = search_index(built_site)["terms"]
    soup = parsed(built_site / "docs" / "performance" / "versions.html")
    labels = [
        t.get_text() for svg in soup.select("svg.bench-plot") for t in svg("text")
    ]
    assert len(labels) > 20
    glued = {
        (a.split()[-1] + b.split()[0]).lower()
        for a, b in itertools.pairwise(labels)
        if a.split() and b.split()
    }
    assert sorted(glued & set(terms)) == []
    assert "asgiref" in terms
