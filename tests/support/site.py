"""Serve the built site as its host would, for checks in a real browser."""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from bs4 import BeautifulSoup

from tests.support.servers import free_port, running_server

# One page of each kind the site has (WRITING.md's kinds, and the home page).
PAGE_KINDS = {
    "home": "index.html",
    "guide": "docs/guides/cache.html",
    "tutorial": "tutorial/03-concurrency.html",
    "internals": "docs/internals/bridges.html",
    "performance": "docs/performance/results.html",
    "reference": "docs/reference/async-api.html",
}


def parsed(page: Path) -> BeautifulSoup:
    """A built page, parsed once for the whole test session.

    The site's checks read every page, several times over, and html.parser
    takes seconds for the whole site. The cache is keyed on the file's size and
    modification time as well, so a rebuilt page is parsed again. Callers must
    not change the tree they get.
    """
    stat = page.stat()
    return _parse(page.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _parse(page: Path, mtime_ns: int, size: int) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(), "html.parser")


def base_path(built_site: Path) -> str:
    """The path the site is published under (/en/latest/ on Read the Docs)."""
    index = parsed(built_site / "index.html")
    path = urlparse(index.find("link", rel="canonical")["href"]).path
    return path.removesuffix("index.html")


@contextlib.contextmanager
def served_site(built_site: Path) -> Iterator[str]:
    """The site on a free loopback port, under its published path, where the
    404 page's absolute links point; yields the URL of its root."""
    prefix = base_path(built_site)
    with tempfile.TemporaryDirectory() as root:
        mount = Path(root) / prefix.strip("/")
        mount.parent.mkdir(parents=True, exist_ok=True)
        mount.symlink_to(built_site, target_is_directory=True)
        port = free_port()
        command = [sys.executable, "-m", "http.server", str(port)]
        command += ["--bind", "127.0.0.1", "--directory", root]
        url = f"http://127.0.0.1:{port}{prefix}"
        with running_server(command, url + "index.html"):
            yield url
