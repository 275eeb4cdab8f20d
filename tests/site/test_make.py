"""The Makefile's entry points that a reader uses first."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.servers import free_port, running_server
from tests.support.sphinx import ROOT

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", f"PYTHON={BASE_PYTHON}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_help_lists_every_target_with_a_line():
    result = make("help")
    assert result.returncode == 0
    for target in ("serve", "html", "doctest", "lint", "test", "clean"):
        assert f"  {target} " in result.stdout
    assert "Using " in result.stdout


def test_a_python_that_does_not_run_is_a_clear_error():
    result = subprocess.run(
        ["make", "help", "PYTHON=/nonexistent/python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "PYTHON=/nonexistent/python3 does not run" in result.stderr


def test_serve_answers_with_the_built_site():
    port = free_port()
    command = [
        "make",
        "--no-print-directory",
        f"PYTHON={BASE_PYTHON}",
        "serve",
        f"PORT={port}",
    ]
    url = f"http://127.0.0.1:{port}/"
    with running_server(command, url, timeout=120):
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "<title>Async Django, executed" in page.text
        quickstart = httpx.get(url + "docs/quickstart.html", timeout=10)
        assert "Quickstart: your first async view" in quickstart.text
        assert "websocket-reload" in quickstart.text  # rebuilds reload the page


def fake_interpreter(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_find_python_skips_a_shim_that_does_not_run(tmp_path):
    # A pyenv-style shim that exists on PATH but fails, and a working 3.12.
    fake_interpreter(
        tmp_path,
        "python3.13",
        "echo 'pyenv: python3.13: command not found' >&2; exit 127\n",
    )
    fake_interpreter(tmp_path, "python3.12", f'exec {sys.executable} "$@"\n')
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(
        [str(ROOT / "scripts" / "find-python")], env=env, capture_output=True, text=True
    )
    picked = result.stdout.strip()
    if sys.version_info >= (3, 12):
        assert picked == str(tmp_path / "python3.12")
    else:
        assert picked == "python3"


def test_find_python_falls_back_to_python3(tmp_path):
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(
        [str(ROOT / "scripts" / "find-python")], env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "python3"


def test_help_names_every_variable_run_takes():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n")[0]
    # The variables a reader sets on the command line, that run's recipe reads.
    settable = set(re.findall(r"^(\w+) \?=", makefile, re.MULTILINE))
    variables = settable & set(re.findall(r"\$\((\w+)\)", recipe)) - {"PYTHON"}
    assert {"PORT", "UPSTREAM_PORT"} <= variables
    (line,) = [line for line in make("help").stdout.splitlines() if "  run " in line]
    for name in variables:
        assert f"({name}=...)" in line


def test_html_keeps_sphinxs_doctrees_out_of_the_published_site():
    result = make("-n", "html")
    assert result.returncode == 0, result.stderr
    command = next(
        line for line in result.stdout.splitlines() if "sphinx-build" in line
    )
    assert "-d _build/doctrees " in command
    assert command.endswith(" . _build/html")
