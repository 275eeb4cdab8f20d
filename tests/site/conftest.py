"""Fixtures for checks of the built site."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sphinx import ROOT

# SITE_BUILD=/some/dir builds there instead (to check a tree without touching
# its _build/), as html/ and doctrees/ like the Makefile's.
BUILD = Path(os.environ.get("SITE_BUILD", ROOT / "_build"))
HTML = BUILD / "html"
DOCTREES = BUILD / "doctrees"


@pytest.fixture(scope="session")
def built_site():
    """The site as `make html` builds it (incremental: quick after `make html`)."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "-n"]
    command += ["-d", str(DOCTREES)]
    subprocess.run([*command, str(ROOT), str(HTML)], check=True, cwd=ROOT)
    return HTML
