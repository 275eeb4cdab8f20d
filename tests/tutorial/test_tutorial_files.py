"""The tutorial's own files: pins, step files, the fake upstream, the pages' shape.

The replay (test_replay.py) proves the commands print what the pages say. These
tests catch what a replay cannot: a step file no page uses, a pin that drifted
from the site's, a step version of a module that silently drifted from the
final one, a part that lost its "Try it" or its link onward.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import re
from pathlib import Path

import pytest

from _ext.tutorialpage import FileStep, ShellStep, parse_page
from _ext.tutorialproject import interface
from tests.support.servers import ROOT
from tests.tutorial.replay import parts

TUTORIAL = ROOT / "tutorial"
STEPS = TUTORIAL / "steps"
READER_REQUIREMENTS = STEPS / "01-asgi" / "requirements.txt"
FIRST_PARTS = ("01-asgi", "02-models", "03-concurrency", "04-caching")
REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(?P<version>\S+?)"
    r"(?:\s*;\s*(?P<marker>.+))?$"
)


def requirements(path: Path) -> dict[tuple[str, str], str]:
    """``{(normalised name, marker): version}`` for each ``==`` pin in a file."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = REQUIREMENT.match(line)
        assert match, f"{path.name}: not an exact pin: {raw!r}"
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        marker = (match["marker"] or "").replace("'", '"').strip()
        pins[(name, marker)] = match["version"]
    return pins


def page_steps(slug: str):
    return parse_page((TUTORIAL / f"{slug}.md").read_text())


def all_file_steps() -> list[FileStep]:
    return [
        step
        for page in parts()
        for step in parse_page(page.read_text())
        if isinstance(step, FileStep)
    ]


# Requirements.


def test_reader_pins_equal_the_site_pins():
    site = requirements(ROOT / "requirements.txt")
    reader = requirements(READER_REQUIREMENTS)
    assert reader, "the reader's requirements file pins nothing"
    for key, version in reader.items():
        assert key in site, (
            f"{key[0]} ({key[1] or 'no marker'}) is not pinned by the site"
        )
        assert version == site[key], f"{key[0]}: reader {version}, site {site[key]}"


def test_reader_gets_django_on_both_supported_pythons():
    site = requirements(ROOT / "requirements.txt")
    reader = requirements(READER_REQUIREMENTS)
    site_django = {key: v for key, v in site.items() if key[0] == "django"}
    reader_django = {key: v for key, v in reader.items() if key[0] == "django"}
    assert reader_django == site_django


def test_the_pin_parser_rejects_what_it_cannot_compare(tmp_path):
    loose = tmp_path / "requirements.txt"
    loose.write_text("Django>=6.0\n")
    with pytest.raises(AssertionError, match="not an exact pin"):
        requirements(loose)


# Step files.


def test_every_step_file_is_used_by_a_page():
    used = set()
    for step in all_file_steps():
        used.add(step.source)
        if step.diff_from:
            used.add(step.diff_from)
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for path in STEPS.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not on_disk - used, f"step files no page writes: {sorted(on_disk - used)}"


def test_every_source_exists():
    for step in all_file_steps():
        assert (ROOT / step.source).is_file(), step.source
        if step.diff_from:
            assert (ROOT / step.diff_from).is_file(), step.diff_from


def test_repository_files_go_to_the_same_path_in_the_reader_project():
    # The reader's project is the sample project: a repository file is written
    # where it lives in the repository, so the two layouts cannot diverge.
    for step in all_file_steps():
        if step.source.startswith("sampleproject/"):
            assert step.destination == step.source, step


@pytest.mark.parametrize("slug", FIRST_PARTS)
def test_step_versions_sit_in_their_part_and_keep_the_destination_path(slug):
    for step in page_steps(slug):
        if isinstance(step, FileStep) and step.source.startswith("tutorial/steps/"):
            assert step.source == f"tutorial/steps/{slug}/{step.destination}", step


def definitions(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {
        node.name: ast.dump(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


# Step versions of sample-project modules that differ from the final module on
# purpose, by name: everything else they define must be the final code.
INTENDED_DIFFERENCES = {
    # No ready() until part 8 connects the signal receivers.
    ("01-asgi", "sampleproject/board/apps.py"): {"BoardConfig"},
    # Part 2's dashboard reads the database on every request; part 4 caches.
    ("02-models", "sampleproject/board/views/dashboard.py"): {"dashboard"},
    # No URL policy on the model and the admin until part 6: urlsafety.py
    # arrives in part 3.
    ("02-models", "sampleproject/board/models.py"): {"Service"},
    ("02-models", "sampleproject/board/admin.py"): {"ServiceAdmin"},
    # Part 3's views do not drop the cached tiles: there is no cache yet.
    ("03-concurrency", "sampleproject/board/views/api.py"): {
        "check_all_view",
        "check_all_sync_view",
    },
}


@pytest.mark.parametrize("part", FIRST_PARTS)
def test_step_modules_share_the_final_code(part):
    compared = 0
    for path in sorted((STEPS / part / "sampleproject").rglob("*.py")):
        destination = path.relative_to(STEPS / part).as_posix()
        final = ROOT / destination
        if not final.is_file():
            continue
        step_defs, final_defs = definitions(path), definitions(final)
        allowed = INTENDED_DIFFERENCES.get((part, destination), set())
        for name, dump in step_defs.items():
            if name in final_defs and name not in allowed:
                compared += 1
                assert dump == final_defs[name], f"{destination}: {name} drifted"
        for name in allowed:
            assert step_defs.get(name) != final_defs.get(name), (
                f"{destination}: {name} no longer differs; drop it from the list"
            )
    if part in ("02-models", "03-concurrency"):
        assert compared, f"{part}: no shared definitions compared"


def test_drift_in_a_step_module_is_caught(tmp_path):
    final = definitions(ROOT / "sampleproject/board/state.py")
    drifted = tmp_path / "state.py"
    source = (ROOT / "sampleproject/board/state.py").read_text()
    drifted.write_text(source.replace("CACHE_SECONDS)", "CACHE_SECONDS + 1)"))
    assert definitions(drifted)["cached_tiles"] != final["cached_tiles"]


# The fake upstream, called as ASGI, without a server.


def load_fake_upstream(monkeypatch, delay_ms: str = "0"):
    monkeypatch.setenv("DELAY_MS", delay_ms)
    path = STEPS / "03-concurrency" / "fakeupstream.py"
    spec = importlib.util.spec_from_file_location("fakeupstream", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(app, path: str, query: str = "") -> tuple[int, str]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    assert start["type"] == "http.response.start"
    return start["status"], body["body"].decode()


def test_fake_upstream_answers_a_service(monkeypatch):
    upstream = load_fake_upstream(monkeypatch)
    assert call(upstream.app, "/svc/payments") == (200, "payments: 200\n")


def test_fake_upstream_status_and_delay_per_request(monkeypatch):
    upstream = load_fake_upstream(monkeypatch, delay_ms="5000")
    # ?delay=0 overrides the 5 s default, or this test would take 5 s.
    assert call(upstream.app, "/svc/search", "status=503&delay=0") == (
        503,
        "search: 503\n",
    )


@pytest.mark.parametrize("path", ["/", "/svc/", "/other/payments"])
def test_fake_upstream_refuses_other_paths(monkeypatch, path):
    upstream = load_fake_upstream(monkeypatch)
    assert call(upstream.app, path)[0] == 404


def test_fake_upstream_rejects_bad_numbers_with_400(monkeypatch):
    upstream = load_fake_upstream(monkeypatch)
    status, text = call(upstream.app, "/svc/payments", "delay=soon")
    assert (status, text) == (400, "delay and status must be integers\n")


def test_fake_upstream_ignores_lifespan(monkeypatch):
    upstream = load_fake_upstream(monkeypatch)

    async def unused(*args):
        raise AssertionError("lifespan must not receive or send")

    assert asyncio.run(upstream.app({"type": "lifespan"}, unused, unused)) is None


# The pages' shape (issue 6: what you build, Try it, the link onward).


@pytest.mark.parametrize("part", FIRST_PARTS)
def test_part_states_its_time_and_ends_with_a_checked_try_it(part):
    text = (TUTORIAL / f"{part}.md").read_text()
    minutes = re.search(r"takes about (\d+) minutes", text)
    assert minutes, f"{part}: no 'takes about N minutes'"
    assert 20 <= int(minutes[1]) <= 40
    assert "\n## Try it\n" in text, f"{part}: no 'Try it' section"
    try_it = text.split("\n## Try it\n", 1)[1]
    checked = [
        step
        for step in parse_page(try_it)
        if isinstance(step, ShellStep)
        and not step.skip_reason
        and any(command.expected for command in step.commands)
    ]
    assert checked, f"{part}: the Try it section checks no output"


@pytest.mark.parametrize(
    ("part", "following"),
    list(zip(FIRST_PARTS, [*FIRST_PARTS[1:], "05-live-updates"], strict=True)),
)
def test_part_links_to_the_next(part, following):
    text = (TUTORIAL / f"{part}.md").read_text()
    assert f"{{doc}}`{following}`" in text.split("\n## Try it\n", 1)[1]


# Ready files (issue 15): what the page shows of them exists in them.


def download_steps() -> list[FileStep]:
    return [step for step in all_file_steps() if step.ready]


def test_every_interface_name_is_in_its_ready_file():
    shown = 0
    for step in download_steps():
        if step.interface:
            text = interface((ROOT / step.source).read_text(), step.interface)
            shown += 1
            for name in step.interface:
                assert name in text, (step.source, name)
    assert shown >= 10


def test_an_interface_name_that_is_gone_is_an_error():
    with pytest.raises(KeyError, match="no top-level 'vanished'"):
        interface("def kept():\n    pass\n", ("kept", "vanished"))


def test_the_interface_shows_signatures_and_first_docstring_lines():
    source = (
        "LIMIT = 3\n\n\n"
        "@decorated\n"
        "async def fetch(\n    url: str,\n) -> int:\n"
        '    """Fetch it.\n\n    More.\n    """\n    return 1\n\n\n'
        "class Box:\n    size = 1\n"
    )
    assert interface(source, ("fetch", "Box", "LIMIT")) == (
        '@decorated\nasync def fetch(\n    url: str,\n) -> int:\n    """Fetch it."""'
        "\n\nclass Box:\n    ..."
        "\n\nLIMIT = 3"
    )


# Ports (issue 15): one environment variable per port moves every file.

HARD_CODED_PORT = re.compile(r"127\.0\.0\.1:(8000|8001)\b")


def test_no_file_the_reader_gets_hard_codes_a_port():
    for step in all_file_steps():
        text = (ROOT / step.source).read_text()
        assert not HARD_CODED_PORT.search(text), (
            f"{step.source} names a port: read BOARD_PORT or UPSTREAM_PORT instead"
        )


# Databases (issue 15): the tutorial drops nothing it did not create.

DROP = re.compile(r"\bdropdb\b|drop\s+database", re.IGNORECASE)


def test_no_command_drops_a_database():
    for page in parts():
        for step in parse_page(page.read_text()):
            if isinstance(step, ShellStep):
                for command in step.commands:
                    assert not DROP.search(command.line), (page.name, command.line)


def test_the_postgres_database_is_the_tutorials_own():
    commands = [
        command.line
        for step in page_steps("08-production")
        if isinstance(step, ShellStep) and step.needs == "postgres"
        for command in step.commands
    ]
    created = [line for line in commands if line.startswith("createdb ")]
    assert len(created) == 1
    assert " statusboard_tutorial " in created[0]
    assert all("/statusboard_tutorial " in line for line in commands if "5432" in line)
