"""Version labels link to Django's release notes; version-specific doctests skip."""

import django

from tests.support.sphinx import ROOT, sphinx_build, write_project

INVENTORY = ROOT / "_inv" / "django-6.1.inv"
CONF = f"""
extensions = ["myst_parser", "sphinx.ext.intersphinx", "_ext.versionlabels"]
source_suffix = {{".md": "markdown"}}
django_docs = "https://docs.djangoproject.com/en/6.1/"
intersphinx_mapping = {{"django": (django_docs, {str(INVENTORY)!r})}}
"""


def build(tmp_path, page):
    srcdir = write_project(tmp_path / "src", CONF, {"index.md": page})
    return sphinx_build(srcdir, "html")


def test_versionadded_renders_like_django_and_links_release_notes(tmp_path):
    result = build(
        tmp_path,
        "# Page\n\n```{django-versionadded} 6.0\nAsync pagination.\n```\n",
    )
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert 'href="https://docs.djangoproject.com/en/6.1/releases/6.0/"' in html
    assert "New in Django 6.0:" in html
    assert "Async pagination." in html


def test_versionchanged_and_inline_role(tmp_path):
    page = (
        "# Page\n\n```{django-versionchanged} 5.1\nNow async.\n```\n\n"
        "Pooling is {django-new}`5.1`.\n"
    )
    result = build(tmp_path, page)
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert "Changed in Django 5.1:" in html
    assert "New in Django 5.1</span>" in html
    assert html.count("releases/5.1/") == 2


def test_unknown_release_fails_the_nitpicky_build(tmp_path):
    result = build(tmp_path, "# Page\n\n```{django-versionadded} 9.9\nFuture.\n```\n")
    assert result.returncode != 0
    assert "releases/9.9" in result.output


def test_malformed_version_is_an_error(tmp_path):
    result = build(tmp_path, "# Page\n\n```{django-versionadded} six\nX.\n```\n")
    assert result.returncode != 0
    assert "expected a Django version like 6.0, got 'six'" in result.output


def test_malformed_version_in_role_is_an_error(tmp_path):
    result = build(tmp_path, "# Page\n\nText {django-new}`later`.\n")
    assert result.returncode != 0
    assert "expected a Django version like 6.0, got 'later'" in result.output


def test_skipif_skips_examples_for_newer_django(tmp_path):
    conf = """
    extensions = ["_ext.asyncdoctest"]
    doctest_global_setup = "from _ext.doctest_django import django_before"
    """
    page = """
    Page
    ====

    .. doctest::
       :skipif: django_before(99, 0)

       >>> "this example would fail"
       'if it ran'

    .. doctest::
       :skipif: django_before(5, 2)

       >>> "runs on every supported Django"
       'runs on every supported Django'
    """
    srcdir = write_project(tmp_path / "src", conf, {"index.rst": page})
    result = sphinx_build(srcdir, "doctest")
    assert result.returncode == 0, result.output + result.doctest_report
    assert "1 tests" in result.doctest_report or "1 test" in result.doctest_report


def test_needs_django_marker_skips_on_older_versions(pytester, monkeypatch):
    # The suite's conftest imports tests.support: the subprocess needs the root.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_django(99, 0)
        def test_future():
            raise AssertionError("must not run")

        @pytest.mark.needs_django(5, 2)
        def test_now():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:django",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:cov",
        "-rs",
        "-o",
        "addopts=",
        "-o",
        "markers=needs_django",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [f"*needs Django 99.0+, this is {django.get_version()}*"]
    )
