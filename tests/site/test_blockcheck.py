"""The guard behind "every code block runs" catches what it promises to."""

import pytest

from _ext.blockcheck import orphans
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.blockcheck"]
source_suffix = {".md": "markdown"}
"""
SNIPPET = "def greet():\n    return 'hello'\n"


def build(tmp_path, page: str, snippets: dict[str, str] | None = None):
    files = {"index.md": page}
    for name, text in (snippets or {"snippets/greeting.py": SNIPPET}).items():
        files[name] = text
    srcdir = write_project(tmp_path / "src", CONF, files)
    return sphinx_build(srcdir, "html")


INCLUDED = """
# Page

```{literalinclude} snippets/greeting.py
:language: python
:pyobject: greet
```
"""


def test_included_block_passes(tmp_path):
    result = build(tmp_path, INCLUDED)
    assert result.returncode == 0, result.output


def test_unmarked_python_block_fails(tmp_path):
    page = INCLUDED + "\n```python\nprint('never run')\n```\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "index.md:9" in result.output  # the fence line
    assert "Python code block is neither included from a tested file" in result.output


@pytest.mark.parametrize("language", ["pycon", "py"])
def test_other_python_languages_are_checked_too(tmp_path, language):
    page = INCLUDED + f"\n```{language}\n>>> 1 + 1\n2\n```\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "Python code block is neither" in result.output


def test_block_without_language_fails(tmp_path):
    page = INCLUDED + "\n```\nsomething\n```\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "code block without a language" in result.output


def test_not_runnable_with_reason_passes(tmp_path):
    page = INCLUDED + (
        "\n```{not-runnable} python\n:reason: a settings fragment\nDEBUG = False\n```\n"
    )
    result = build(tmp_path, page)
    assert result.returncode == 0, result.output


def test_not_runnable_without_reason_fails(tmp_path):
    page = INCLUDED + "\n```{not-runnable} python\nDEBUG = False\n```\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "not-runnable needs a :reason:" in result.output


def test_console_block_needs_no_marking(tmp_path):
    page = INCLUDED + "\n```console\n$ make test\n```\n"
    result = build(tmp_path, page)
    assert result.returncode == 0, result.output


def test_orphan_snippet_fails(tmp_path):
    result = build(
        tmp_path,
        INCLUDED,
        {"snippets/greeting.py": SNIPPET, "snippets/unused.py": "X = 1\n"},
    )
    assert result.returncode != 0
    assert "snippet snippets/unused.py is included by no page (orphan)" in result.output


def test_include_by_line_numbers_fails(tmp_path):
    page = INCLUDED + (
        "\n```{literalinclude} snippets/greeting.py\n"
        ":language: python\n:lines: 1-2\n```\n"
    )
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "literalinclude by line numbers" in result.output


def test_orphans_ignores_package_files(tmp_path):
    (tmp_path / "pkg").mkdir()
    for name in ("__init__.py", "conftest.py", "used.py", "unused.py"):
        (tmp_path / "pkg" / name).write_text("")
    used = str((tmp_path / "pkg" / "used.py").resolve())
    assert orphans(tmp_path, {used}) == [tmp_path / "pkg" / "unused.py"]
