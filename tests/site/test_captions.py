"""A code block's caption names its file exactly as the reader must type it.

literalinclude parses a caption as inline markup: on a MyST page the ``__`` of
``__init__.py`` turns ``init`` bold and the underscores vanish, so the caption
says ``init.py``, a file that breaks the package when created.
"""

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from _ext.tutorialpage import parse_page
from tests.support.site import parsed
from tests.support.sphinx import ROOT

PAGES = sorted(
    [ROOT / "index.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("tutorial/*.md")]
)
SOURCE_OBJECT = re.compile(r"^```\{source-object\}\s+(\S+)", re.MULTILINE)
# A literalinclude fence, then its option lines, up to its :caption:.
LITERALINCLUDE_CAPTION = re.compile(
    r"^```\{literalinclude\}[^\n]*\n(?::[a-z-]+:[^\n]*\n)*?:caption:[ \t]+([^\n]+)$",
    re.MULTILINE,
)
SOURCE_CAPTION = re.compile(r"^(?P<object>\S+) in (?P<path>\S+) \(\S+ [^)]+\)$")


def captions(html_page: Path) -> list[BeautifulSoup]:
    return parsed(html_page).select(".code-block-caption .caption-text")


def html_for(page: Path, site: Path) -> Path:
    return site / page.relative_to(ROOT).with_suffix(".html")


def names_a_file(caption: str) -> bool:
    """Whether a caption starts with a repository path ("a/b.py: both", say)."""
    first = re.split(r"[\s:]", caption, maxsplit=1)[0]
    return (ROOT / first).is_file()


def test_no_caption_has_inline_markup_but_code(built_site):
    formatted = [
        f"{page.relative_to(built_site)}: {caption}"
        for page in sorted(built_site.rglob("*.html"))
        if not page.relative_to(built_site).parts[0].startswith("_")
        for caption in captions(page)
        if caption.find(["strong", "em", "b", "i"])
    ]
    assert formatted == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_captions_equal_the_path(built_site, page):
    text = page.read_text()
    shown = [caption.get_text() for caption in captions(html_for(page, built_site))]
    destinations = [
        step.destination for step in parse_page(text) if step.kind == "file"
    ]
    included = [
        caption
        for caption in LITERALINCLUDE_CAPTION.findall(text)
        if names_a_file(caption)
    ]
    for expected in [*destinations, *included]:
        assert expected in shown
    quoted = SOURCE_OBJECT.findall(text)
    source_captions = [SOURCE_CAPTION.match(caption) for caption in shown]
    source_captions = [match for match in source_captions if match]
    assert len(source_captions) == len(quoted)
    for dotted, match in zip(quoted, source_captions, strict=True):
        assert dotted.endswith("." + match["object"])
        module = dotted.removesuffix("." + match["object"]).replace(".", "/")
        assert match["path"] in (f"{module}.py", f"{module}/__init__.py")


def test_the_check_sees_every_kind_of_file_caption(built_site):
    """Guard against a regexp that matches nothing: each kind occurs."""
    tutorial = captions(built_site / "tutorial" / "01-asgi.html")
    assert "sampleproject/board/views/__init__.py" in [
        caption.get_text() for caption in tutorial
    ]
    quoted = captions(built_site / "docs" / "internals" / "db-connections.html")
    assert any(
        caption.get_text().startswith("close_old_connections in django/db/__init__.py")
        for caption in quoted
    )
    included = LITERALINCLUDE_CAPTION.findall(
        (ROOT / "docs" / "guides" / "database-connections.md").read_text()
    )
    assert "snippets/guides/database_connections.py" in included
