"""Fixtures for checks of the built site."""

import subprocess
import sys

import pytest

from tests.support.sphinx import ROOT

HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def built_site():
    """The site as `make html` builds it (incremental: quick after `make html`)."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "-n"]
    subprocess.run([*command, str(ROOT), str(HTML)], check=True, cwd=ROOT)
    return HTML
