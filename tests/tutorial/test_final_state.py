"""After part 8 the reader's project is the repository's sample project.

The replayed ``statusboard/`` (see conftest.py) and the repository both hold a
package named ``sampleproject``, so everything that imports it runs in a
subprocess with the project's root as its working directory. The checks:

- the reader's app and settings files are the repository's, byte for byte,
  and no file is missing or extra;
- the two URL maps are the same: routes, names, and the view each one calls;
- both projects, each served by a real uvicorn with its own fake upstream and
  a fresh database, answer the same requests the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ROOT, free_port, running_server

PASSWORD = "correct-horse-battery"
DEMO_SLUGS = ["email", "login", "payments", "search"]
# Not the reader's to write: startproject/startapp make these, the reader's
# makemigrations makes the migrations, and the rest serve the site's own tests,
# demos and benchmarks.
GENERATED = {
    "sampleproject/__init__.py",
    "sampleproject/board/__init__.py",
    "sampleproject/board/migrations/0001_initial.py",
    "sampleproject/board/migrations/0002_alter_service_url.py",
}
REPOSITORY_ONLY = {
    "sampleproject/manage.py",
    "sampleproject/devasgi.py",
    "sampleproject/devserver.py",
    "sampleproject/settings/test.py",
}
REPOSITORY_ONLY_DIRS = ("sampleproject/upstream/",)

URL_MAP = """
import json

import django
from django.urls import URLResolver, get_resolver

django.setup()


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            view = getattr(entry.callback, "view_class", entry.callback)
            yield [
                prefix + str(entry.pattern),
                namespace + (entry.name or ""),
                f"{view.__module__}.{view.__qualname__}",
            ]


print(json.dumps(list(walk(get_resolver().url_patterns))))
"""


@pytest.fixture(scope="module")
def reader(tutorial_run) -> Path:
    return tutorial_run.project


def project_files(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in (root / "sampleproject").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def clean_env(root: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """This venv first on PATH; no inherited database, cache or settings."""
    dropped = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "PYTHONPATH")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in dropped and not name.startswith(("COV_", "COVERAGE_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "sampleproject.settings.dev"
    # base.py keeps the SQLite file here: neither project's own var/ is touched.
    env["STATUSBOARD_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def test_the_reader_wrote_the_repository_files(reader, tutorial_run):
    ours = {
        name
        for name in project_files(ROOT)
        if name not in REPOSITORY_ONLY and not name.startswith(REPOSITORY_ONLY_DIRS)
    }
    theirs = project_files(reader)
    assert sorted(theirs - ours) == []
    assert sorted(ours - theirs) == []
    differ = [
        name
        for name in sorted(ours - GENERATED)
        if (reader / name).read_bytes() != (ROOT / name).read_bytes()
    ]
    assert differ == []


def test_the_reader_migration_matches_the_models(reader, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=reader,
        env=clean_env(reader, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No changes detected"


def url_map(root: Path, data_dir: Path) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", URL_MAP],
        cwd=root,
        env=clean_env(root, data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_url_maps_are_the_same(reader, tmp_path):
    ours = url_map(ROOT, tmp_path / "ours")
    theirs = url_map(reader, tmp_path / "theirs")
    board = [route for route in ours if route[1].startswith("board:")]
    # The comparison means something only if the board's routes are there.
    assert [name for _, name, _ in board] == [
        "board:dashboard",
        "board:service-add",
        "board:service-detail",
        "board:summary",
        "board:check-all",
        "board:check-all-sync",
        "board:events",
    ]
    assert ("services/<slug:slug>/", "board:service-detail") in {
        (route, name) for route, name, _ in board
    }
    assert theirs == ours


# -- The same requests against both projects ----------------------------------------


@dataclass
class Board:
    name: str
    url: str


def manage(root: Path) -> list[str]:
    # The reader's manage.py is at the top, as startproject made it.
    return [sys.executable, "sampleproject/manage.py" if root == ROOT else "manage.py"]


def upstream_command(root: Path, port: int) -> list[str]:
    if root == ROOT:
        return [sys.executable, "-m", "sampleproject.upstream", "--port", str(port)]
    # The reader's own fake upstream from part 3.
    return [sys.executable, "-m", "uvicorn", "fakeupstream:app", "--port", str(port)]


@pytest.fixture(params=["repository", "reader"])
def board(request, tmp_path) -> Iterator[Board]:
    root = ROOT if request.param == "repository" else request.getfixturevalue("reader")
    env = clean_env(root, tmp_path, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    upstream_port, web_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    for arguments in (
        ["migrate", "-v", "0"],
        ["seed_demo", "--upstream", upstream],
        [
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
    ):
        subprocess.run(
            manage(root) + arguments, cwd=root, env=env, check=True, timeout=60
        )
    url = f"http://127.0.0.1:{web_port}"
    web = [sys.executable, "-m", "uvicorn", "sampleproject.asgi:application"]
    web += ["--host", "127.0.0.1", "--port", str(web_port)]
    # An event stream stays open: do not wait long for it on the way out.
    web += ["--timeout-graceful-shutdown", "1"]
    with (
        running_server(
            upstream_command(root, upstream_port),
            f"{upstream}/svc/payments",
            env=env,
            inherit_env=False,
            cwd=root,
            timeout=30,
        ),
        running_server(
            web,
            f"{url}/api/summary/",
            env=env,
            inherit_env=False,
            cwd=root,
            timeout=30,
        ),
    ):
        yield Board(request.param, url)


async def log_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login form"
    response = await client.post(
        "/admin/login/?next=/",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"


async def next_event(lines, kind: str) -> dict:
    """The data of the next event of this kind in an SSE stream."""
    current = ""
    async for line in lines:
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == kind:
            return json.loads(line.removeprefix("data: "))
    raise AssertionError(f"the stream ended before a {kind!r} event")


async def exercise(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:
        dashboard = await client.get("/")
        assert dashboard.status_code == 200
        assert re.findall(r'id="tile-([a-z]+)"', dashboard.text) == DEMO_SLUGS
        assert 'href="/services/payments/"' in dashboard.text

        summary = await client.get("/api/summary/")
        assert summary.json() == {"services": 4, "enabled": 4}

        add = await client.get("/services/add/")
        assert add.status_code == 302
        assert add.headers["location"] == "/admin/login/?next=/services/add/"

        await log_in(client)
        assert (await client.get("/services/add/")).status_code == 200

        async with client.stream("GET", "/events/") as stream:
            assert stream.headers["content-type"] == "text/event-stream"
            assert stream.headers["x-board-stream"] == "live"
            lines = stream.aiter_lines()
            assert await anext(lines) == "retry: 3000"
            headers = {"X-CSRFToken": client.cookies["csrftoken"]}
            checked = await client.post("/api/check-all/", headers=headers)
            async with asyncio.timeout(10):
                first = await next_event(lines, "check")
        assert checked.status_code == 200, checked.text
        report = checked.json()
        assert report["checked"] == 4
        assert report["ok"] == 4
        assert sorted(result["slug"] for result in report["results"]) == DEMO_SLUGS
        assert report["incidents"] == []
        assert first["slug"] == "email"
        assert first["state"] == "up"

        detail = await client.get("/services/payments/")
        assert detail.status_code == 200
        assert "<h1>Payments API</h1>" in detail.text
        assert "Page 1 of 1 (1 checks)" in detail.text
        missing = await client.get("/services/no-such-service/")
        assert missing.status_code == 404


def test_both_projects_answer_alike(board):
    asyncio.run(exercise(board.url))
