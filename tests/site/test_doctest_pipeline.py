"""The site's doctests run against the sample project, and a wrong output fails."""

import re

from tests.support.sphinx import ROOT, sphinx_build

QUICKSTART = ROOT / "docs" / "quickstart.md"


def copy_site(tmp_path, quickstart_text: str):
    """A site of one page, the quickstart, built with the site's own conf.py.

    The doctest builder runs the page's doctests and resolves no links, so the
    other pages need not be read: a toctree of one page is enough. The other
    pages' snippets are then included by no page: build() turns that check off.
    """
    srcdir = tmp_path / "src"
    (srcdir / "docs").mkdir(parents=True)
    (srcdir / "index.md").write_text("# Site\n\n```{toctree}\ndocs/quickstart\n```\n")
    (srcdir / "docs" / "quickstart.md").write_text(quickstart_text)
    # literalinclude paths on the page are relative: give the copy the code.
    for code in ("snippets", "sampleproject", "tests", "bench"):
        (srcdir / code).symlink_to(ROOT / code)
    return srcdir


def build(srcdir):
    return sphinx_build(
        srcdir, "doctest", "-D", "blockcheck_snippets_dir=no-such-dir", confdir=ROOT
    )


def test_quickstart_doctests_pass_with_await(tmp_path):
    srcdir = copy_site(tmp_path, QUICKSTART.read_text())
    result = build(srcdir)
    assert result.returncode == 0, result.output + result.doctest_report
    tries = int(re.search(r"(\d+) tests", result.doctest_report).group(1))
    assert tries >= 5
    assert "0 failures in tests" in result.doctest_report
    assert ">>> await " in QUICKSTART.read_text()


def test_an_edited_output_fails_the_build_at_its_line(tmp_path):
    original = QUICKSTART.read_text()
    wrong = original.replace(">>> search.name\n'Search'", ">>> search.name\n'Serch'")
    assert wrong != original
    srcdir = copy_site(tmp_path, wrong)
    result = build(srcdir)
    assert result.returncode != 0
    report = result.doctest_report
    line = 1 + wrong.splitlines().index(">>> search.name")
    assert f'quickstart.md", line {line}, in default' in report, report
    assert "Expected:\n    'Serch'\nGot:\n    'Search'" in report


def test_an_edited_exception_message_fails_the_build(tmp_path):
    # Sphinx ignores exception details by default; the site's conf.py does not.
    original = QUICKSTART.read_text()
    wrong = original.replace(
        "SynchronousOnlyOperation: You cannot call this from an async context",
        "SynchronousOnlyOperation: You cannot call this from a sync context",
    )
    assert wrong != original
    result = build(copy_site(tmp_path, wrong))
    assert result.returncode != 0
    assert "from a sync context" in result.doctest_report
