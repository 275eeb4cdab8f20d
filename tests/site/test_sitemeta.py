"""The metadata and page-weight extensions, alone."""

import pytest
from bs4 import BeautifulSoup

from _ext import sitea11y, sitemeta, siteweight
from tests.support.sphinx import sphinx_build, write_project


def test_robots_txt_names_the_sitemap_by_its_absolute_url():
    text = sitemeta.robots_txt("https://example.org/en/latest/", "sitemap.xml")
    assert text == (
        "User-agent: *\nAllow: /\n\nSitemap: https://example.org/en/latest/sitemap.xml\n"
    )


def test_the_docutils_viewport_tag_is_dropped_and_others_kept():
    context = {
        "metatags": '<meta name="viewport" content="width=device-width, '
        'initial-scale=1" />\n<meta name="description" content="x" />\n'
    }
    sitemeta.one_viewport(None, "index", "page.html", context, None)
    assert context["metatags"] == '<meta name="description" content="x" />\n'


CONF = """
extensions = ["sphinxext.opengraph", "notfound.extension", "_ext.sitemeta"]
html_baseurl = {baseurl!r}
"""


@pytest.mark.parametrize(
    "baseurl", ["", "http://example.org/", "https://example.org/en/latest"]
)
def test_a_bad_base_url_stops_the_build_with_what_it_must_be(tmp_path, baseurl):
    srcdir = write_project(
        tmp_path / "src", CONF.format(baseurl=baseurl), {"index.rst": "T\n=\n"}
    )
    result = sphinx_build(srcdir, "html")
    assert result.returncode != 0
    assert "html_baseurl must be an https:// URL ending in '/'" in result.output
    assert "Traceback" not in result.output


def test_the_404_page_links_absolutely_under_the_base_path(tmp_path):
    pages = {
        "index.rst": "Home\n====\n\n.. toctree::\n\n   deep/page\n",
        "deep/page.rst": "Deep\n====\n",
        "404.rst": "Not found\n=========\n\nSee :doc:`deep/page` or `x <https://e.org/>`_.\n",
    }
    conf = CONF.format(baseurl="https://example.org/en/v1/")
    conf += 'notfound_urls_prefix = "/en/v1/"\n'
    srcdir = write_project(tmp_path / "src", conf, pages)
    result = sphinx_build(srcdir, "html")
    assert result.returncode == 0, result.output
    soup = BeautifulSoup((result.outdir / "404.html").read_text(), "html.parser")
    links = [a["href"] for a in soup.select("a.reference")]
    assert "/en/v1/deep/page.html" in links
    assert "https://e.org/" in links
    robots = (result.outdir / "robots.txt").read_text()
    assert "Sitemap: https://example.org/en/v1/sitemap.xml" in robots


def test_design_assets_are_dropped_from_a_page_without_design_classes():
    class Asset:
        def __init__(self, filename):
            self.filename = filename

    css = [Asset("furo.css"), Asset("sphinx-design.min.css")]
    js = [Asset("copybutton.js"), Asset("design-tabs.js")]
    plain = {"body": '<p class="x">Hi</p>', "css_files": css, "script_files": js}
    siteweight.design_only_where_used(None, "p", "page.html", plain, None)
    assert [a.filename for a in plain["css_files"]] == ["furo.css"]
    assert [a.filename for a in plain["script_files"]] == ["copybutton.js"]
    tabs = {"body": '<div class="sd-tab-set docutils">', "css_files": css}
    siteweight.design_only_where_used(None, "p", "page.html", tabs, None)
    assert tabs["css_files"] == css


def test_a_diagrams_min_width_keeps_its_smallest_label_at_11px():
    svg = (
        '<svg width="400pt" viewBox="0.00 0.00 400.00 100.00">'
        '<text font-size="14.00">a</text><text font-size="10.00">b</text></svg>'
    )
    assert sitea11y.legible_min_width(svg) == pytest.approx(440.0)
    assert sitea11y.legible_min_width("<svg><g/></svg>") is None


def test_furos_landmarks_get_names():
    page = (
        '<aside class="sidebar-drawer">x</aside>'
        '<div class="content-icon-container">y</div>'
        '<aside class="toc-drawer no-toc">z</aside>'
    )
    named = BeautifulSoup(sitea11y.named_landmarks(page), "html.parser")
    labels = [tag.get("aria-label") for tag in named.find_all(["aside", "div"])]
    assert labels == ["Site navigation", "Page source and color theme", "On this page"]
    assert named.div["role"] == "region"
