"""Quoting installed source by name, and linking claims to their tests."""

import django
import pytest

from _ext.sourcequote import find_test_problem, locate
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.sourcequote"]
source_suffix = {".md": "markdown"}
"""


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
    assert f'<abbr title="{test_id}">(test)</abbr>' in html


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
