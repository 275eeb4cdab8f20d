"""Launch Debian's chromium through Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

from tests.support import tools

# Without the background-networking flags chromium keeps calling home, and this
# machine's closed network refuses it, many times a second.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    return tools.need("chromium")


@contextlib.contextmanager
def chromium_browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()
