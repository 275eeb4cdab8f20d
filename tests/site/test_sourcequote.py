"""Quoting installed source by name, and linking claims to their tests."""

import posixpath
from html.parser import HTMLParser
from pathlib import Path

import django
import pytest

from _ext.sourcequote import find_test_problem, locate
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.sourcequote"]
source_suffix = {".md": "markdown"}
"""


class ClaimLinks(HTMLParser):
    """The "(test)" links of a page: their href, title and text."""

    def __init__(self):
        super().__init__()
        self.links: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and "claim-test-link" in (attributes.get("class") or ""):
            self._open = {
                "href": attributes["href"],
                "title": attributes.get("title"),
                "text": "",
            }

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.links.append(self._open)
            self._open = None


def claim_links(html: str) -> list[dict[str, str]]:
    parser = ClaimLinks()
    parser.feed(html)
    return parser.links


def broken_claim_links(site: Path) -> list[str]:
    """Each "(test)" link whose page or anchor is not in the built site."""
    broken = []
    for page in site.rglob("*.html"):
        relative = page.relative_to(site).as_posix()
        if relative.startswith("_tests/"):
            continue
        for link in claim_links(page.read_text()):
            target, _, fragment = link["href"].partition("#")
            path = posixpath.normpath(
                posixpath.join(posixpath.dirname(relative), target)
            )
            file = site / path
            if not file.is_file() or f'id="{fragment}"' not in file.read_text():
                broken.append(f"{relative}: {link['href']}")
    return broken


def build(tmp_path, page):
    srcdir = write_project(tmp_path / "src", CONF, {"index.md": page})
    return sphinx_build(srcdir, "html")


def test_quotes_the_installed_object_with_file_and_version(tmp_path):
    dotted = "django.core.handlers.base.BaseHandler.adapt_method_mode"
    page = f"# Page\n\n```{{source-object}} {dotted}\n```\n"
    result = build(tmp_path, page)
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert "adapt_method_mode" in html
    assert "Synchronous handler adapted for " in html  # its real body
    caption = (
        '<span class="pre">BaseHandler.adapt_method_mode</span></code> in '
        f"django/core/handlers/base.py (django {django.get_version()})"
    )
    assert caption in html


def test_a_missing_object_fails_the_build(tmp_path):
    page = (
        "# Page\n\n```{source-object} django.core.handlers.base.BaseHandler.gone\n```\n"
    )
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "django.core.handlers.base has no BaseHandler.gone" in result.output


def test_an_unimportable_name_fails_the_build(tmp_path):
    result = build(tmp_path, "# Page\n\n```{source-object} nosuchpackage.thing\n```\n")
    assert result.returncode != 0
    assert "cannot import any module from 'nosuchpackage.thing'" in result.output


def test_claim_links_to_an_existing_test(tmp_path):
    test_id = "tests/site/test_sourcequote.py::test_claim_links_to_an_existing_test"
    result = build(tmp_path, f"# Page\n\nDjango adapts it.{{test}}`{test_id}`\n")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    href = (
        "_tests/tests/site/test_sourcequote.py.html"
        "#test_claim_links_to_an_existing_test"
    )
    (link,) = claim_links(html)
    assert link == {"href": href, "title": test_id, "text": "(test)"}
    assert broken_claim_links(result.outdir) == []


def test_the_linked_page_shows_the_test_file_with_an_anchor_per_test(tmp_path):
    nested = "tests/site/test_sourcequote.py::TestNested::test_inside_a_class"
    result = build(tmp_path, f"# Page\n\nA claim.{{test}}`{nested}`\n")
    assert result.returncode == 0, result.output
    (link,) = claim_links((result.outdir / "index.html").read_text())
    assert link["href"].endswith(
        "test_sourcequote.py.html#TestNested.test_inside_a_class"
    )
    page = (result.outdir / "_tests/tests/site/test_sourcequote.py.html").read_text()
    assert '<span id="TestNested"></span>' in page
    assert '<span id="TestNested.test_inside_a_class"></span>' in page
    assert '<span id="test_claim_links_to_an_existing_test"></span>' in page
    assert '<div class="highlight">' in page  # highlighted as the site's code is
    assert broken_claim_links(result.outdir) == []


@pytest.mark.parametrize(
    "source",
    [
        "Django adapts it.{test}`ID`",  # no space in the source
        "Django adapts it. {test}`ID`",
        "Django adapts it.\n{test}`ID`",
    ],
)
def test_one_no_break_space_before_the_marker(tmp_path, source):
    test_id = (
        "tests/site/test_sourcequote.py::test_one_no_break_space_before_the_marker"
    )
    result = build(tmp_path, "# Page\n\n" + source.replace("ID", test_id) + "\n")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert 'it.\u00a0<span class="claim-test">' in html


def test_two_markers_in_a_row_have_one_space_each(tmp_path):
    first = "tests/site/test_sourcequote.py::test_one_no_break_space_before_the_marker"
    second = "tests/site/test_sourcequote.py::test_claim_links_to_an_existing_test"
    page = f"# Page\n\nA claim\n{{test}}`{first}`\n{{test}}`{second}`\n"
    result = build(tmp_path, page)
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert html.count('\u00a0<span class="claim-test">') == 2
    assert ' \u00a0<span class="claim-test">' not in html


def test_every_claim_link_of_the_site_resolves(built_site):
    pages = [
        path
        for path in built_site.rglob("*.html")
        if path.relative_to(built_site).parts[0] != "_tests"
    ]
    assert sum(len(claim_links(path.read_text())) for path in pages) > 100
    assert broken_claim_links(built_site) == []


@pytest.mark.parametrize(
    ("test_id", "problem"),
    [
        ("tests/site/test_sourcequote.py::test_nothing_here", "has no test"),
        ("tests/site/missing.py::test_x", "no test file"),
        ("tests/site/test_sourcequote.py", "expected path::name"),
    ],
)
def test_claim_to_a_missing_test_fails(tmp_path, test_id, problem):
    result = build(tmp_path, f"# Page\n\nA claim.{{test}}`{test_id}`\n")
    assert result.returncode != 0
    assert problem in result.output


class TestNested:
    def test_inside_a_class(self):
        assert (
            find_test_problem(
                "tests/site/test_sourcequote.py::TestNested::test_inside_a_class"
            )
            is None
        )


def test_locate_finds_module_file_and_object():
    path, pyobject, distribution = locate("asgiref.sync.SyncToAsync.__call__")
    assert path.name == "sync.py"
    assert (pyobject, distribution) == ("SyncToAsync.__call__", "asgiref")
