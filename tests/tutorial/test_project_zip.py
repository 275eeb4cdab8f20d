"""Each part's zip is the project as the replay left it, and a reader can go on from it.

The zip (built by the HTML build with :func:`_ext.tutorialproject.project_zip`)
holds the files the pages had the reader write or download. The replay's project
after the same part holds those, byte for byte, plus what the reader's commands
made: startproject's and startapp's files, migrations, and data files.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _ext.tutorialproject import PROJECT_DIRECTORY, catch_up, project_zip, zip_name
from tests.support.servers import ROOT
from tests.tutorial.replay import DROPPED_ENV, parts

OFFERED = [page for page in parts() if "{tutorial-project}" in page.read_text()]
# Python files the reader's commands make, not the pages.
GENERATED_PY = {
    "manage.py",
    "sampleproject/__init__.py",
    "sampleproject/asgi.py",
    "sampleproject/settings.py",
    "sampleproject/urls.py",
    "sampleproject/wsgi.py",
    "sampleproject/board/__init__.py",
    "sampleproject/board/admin.py",
    "sampleproject/board/apps.py",
    "sampleproject/board/models.py",
    "sampleproject/board/migrations/__init__.py",
}


def unzipped(page: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(project_zip(page, ROOT))) as archive:
        return {
            name.removeprefix(f"{PROJECT_DIRECTORY}/"): archive.read(name)
            for name in archive.namelist()
        }


def made_by_a_command(name: str) -> bool:
    if not name.endswith(".py"):
        return True  # a database, a cookie jar, a saved response...
    return name in GENERATED_PY or name.startswith("sampleproject/board/migrations/0")


def test_every_part_offers_its_project():
    assert parts() == OFFERED


@pytest.mark.parametrize("page", OFFERED, ids=lambda page: page.stem)
def test_the_zip_holds_the_files_as_the_replay_left_them(page, tutorial_run):
    tutorial_run.through(page)
    state = tutorial_run.states[page.name]
    zipped = unzipped(page)
    assert sorted(set(zipped) - set(state)) == []
    assert [name for name in zipped if zipped[name] != state[name]] == []
    assert [
        name for name in set(state) - set(zipped) if not made_by_a_command(name)
    ] == []


def reader_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED_ENV and not name.startswith(("COV_", "COVERAGE_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("page", OFFERED, ids=lambda page: page.stem)
def test_a_reader_can_continue_from_the_zip(page, tmp_path):
    (tmp_path / zip_name(page)).write_bytes(project_zip(page, ROOT))
    script = "set -e\n" + "\n".join([*catch_up(page), "python manage.py check"])
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
