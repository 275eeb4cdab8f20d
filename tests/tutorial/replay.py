"""Replay the tutorial as a reader would: write each file, run each command.

The pages (tutorial/NN-*.md) are the script. Each ``tutorial-file`` step writes
the repository file it shows into the reader's project; each ``tutorial-shell``
step runs its commands with bash in a fresh directory and compares what they
print with what the page says (see :mod:`_ext.tutorialpage` for the matching
rules). Servers a page starts run in their own process group and are stopped at
the end of the part, whatever happens.

What the replay changes, and only this: ports 8000 and 8001 become free ports,
in the commands and the output the pages show, and in the ``BOARD_PORT`` and
``UPSTREAM_PORT`` environment variables, which the reader's files read (part 1
tells the reader to set them when those ports are taken); ``pip install`` and
other ``:replay: skip`` blocks do not run (the site's own virtual environment,
which has the same pins, is first on PATH); and a block's ``:replay-env:`` is
added to its environment; part 8's database, ``statusboard_tutorial``, gets a
name of its own per run (see :mod:`tests.tutorial.databases`, which also fails
the part if it drops a database it did not create). Files are written byte for
byte as the pages show them: a file that hard-codes a port fails the replay.

From a shell, to see a part fail the way the test sees it::

    python -m tests.tutorial.replay --upto 03 --keep /tmp/replay
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _ext.tutorialpage import FileStep, PageError, ShellStep, output_matches, parse_page
from tests.support import tools
from tests.support.servers import ROOT, free_port, running_server
from tests.tutorial import databases

TUTORIAL = ROOT / "tutorial"
PAGE_PORTS = (8000, 8001)
# The environment variables that move the reader's ports (see part 1).
PORT_VARIABLES = {8000: "BOARD_PORT", 8001: "UPSTREAM_PORT"}
PORT = re.compile(r"(?<=[:= ])(8000|8001)(?!\d)")
SERVICE_PORTS = {"postgres": 5432, "redis": 6379}
# Inherited settings that would point the reader's project somewhere the page
# did not say; a command that needs one sets it itself.
DROPPED_ENV = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "PYTHONPATH")
# (BOARD_PORT and UPSTREAM_PORT are always set, to this reader's free ports.)


class ReplayError(AssertionError):
    """The page and what the commands did disagree."""


def parts() -> list[Path]:
    return sorted(TUTORIAL.glob("[0-9][0-9]-*.md"))


def part_named(prefix: str) -> Path:
    matches = [page for page in parts() if page.name.startswith(prefix)]
    if len(matches) != 1:
        raise ReplayError(f"no single tutorial part starts with {prefix!r}")
    return matches[0]


def service_up(name: str) -> bool:
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", SERVICE_PORTS[name]), timeout=1),
    ):
        return True
    return False


def required_services() -> set[str]:
    return {name for name in SERVICE_PORTS if tools.required(name)}


@dataclass
class Replay:
    """One reader: a home directory, a virtual environment and open servers."""

    home: Path
    venv_bin: Path = field(default_factory=lambda: Path(sys.executable).parent)
    log: object = print
    cwd: Path = field(init=False)
    ports: dict[int, int] = field(init=False)
    database: str = field(init=False)
    django_version: tuple[int, int] = field(init=False)
    skipped: list[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        self.home.mkdir(parents=True, exist_ok=True)
        self.cwd = self.home
        self.ports = {port: free_port() for port in PAGE_PORTS}
        self.database = databases.run_name()
        version = subprocess.run(
            [
                str(self.venv_bin / "python"),
                "-c",
                "import django; print(*django.VERSION[:2])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        self.django_version = (int(version[0]), int(version[1]))

    # -- what the replay changes ------------------------------------------------
    def remap(self, text: str) -> str:
        text = text.replace(databases.TUTORIAL_DATABASE, self.database)
        return PORT.sub(lambda m: str(self.ports[int(m[1])]), text)

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in DROPPED_ENV and not name.startswith("COV_CORE_")
        }
        env["PATH"] = f"{self.venv_bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv_bin.parent)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for port, variable in PORT_VARIABLES.items():
            env[variable] = str(self.ports[port])
        env.update({name: self.remap(value) for name, value in extra.items()})
        return env

    # -- running a part ------------------------------------------------------------
    def run_part(self, page: Path) -> None:
        try:
            steps = parse_page(page.read_text(encoding="utf-8"))
        except PageError as exc:
            raise ReplayError(f"{page.name}: {exc}") from None
        self.log(f"== {page.name}")
        guard = (
            databases.guarded(self.database)
            if any(getattr(step, "needs", "") == "postgres" for step in steps)
            else contextlib.nullcontext()
        )
        try:
            with guard:
                self.run_steps(page, steps)
        except databases.DatabaseLost as exc:
            raise ReplayError(f"{page.name}: {exc}") from None

    def run_steps(self, page: Path, steps) -> None:
        with contextlib.ExitStack() as servers:
            started: dict[int, contextlib.ExitStack] = {}
            for step in steps:
                where = f"{page.name}:{step.lineno}"
                if isinstance(step, FileStep):
                    self.write_file(step, where)
                else:
                    self.run_shell(step, where, servers, started)

    def write_file(self, step: FileStep, where: str) -> None:
        source = ROOT / step.source
        if not source.is_file():
            raise ReplayError(f"{where}: :source: {step.source} does not exist")
        target = self.cwd / step.destination
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        self.log(f"   {'downloaded' if step.ready else 'wrote'} {step.destination}")

    def run_shell(self, step: ShellStep, where, servers, started) -> None:
        if step.skip_reason:
            self.log(f"   skip ({step.skip_reason}): {step.commands[0].line}")
            return
        if not step.applies_to(self.django_version):
            self.log(
                f"   not for Django {self.django_version}: {step.commands[0].line}"
            )
            return
        if step.needs and not service_up(step.needs):
            if step.needs in required_services():
                raise ReplayError(f"{where}: {step.needs} is required but unreachable")
            self.skipped.append(f"{where} needs {step.needs}")
            self.log(f"   skip (no {step.needs}): {step.commands[0].line}")
            return
        env = self.environment(step.replay_env)
        if step.server:
            self.start_server(step, env, servers, started, where)
            return
        for command in step.commands:
            self.run_command(command.line, command.expected, step, env, where)

    def run_command(self, line, expected, step: ShellStep, env, where) -> None:
        line = self.remap(line)
        self.log(f"   $ {line}")
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "cd":
            target = (self.cwd / words[1]).resolve()
            if not target.is_dir():
                raise ReplayError(f"{where}: cd {words[1]}: no such directory")
            self.cwd = target
            return
        try:
            result = subprocess.run(
                ["bash", "-c", line],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=step.timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReplayError(
                f"{where}: `{line}` did not finish in {step.timeout:g} s;"
                f" output so far:\n{exc.output or ''}"
            ) from None
        output = result.stdout
        if result.returncode != step.exit_status:
            raise ReplayError(
                f"{where}: `{line}` exited with {result.returncode},"
                f" the page expects {step.exit_status}; output:\n{output}"
            )
        wanted = [self.remap(text) for text in expected]
        if wanted and not output_matches(wanted, output):
            shown = "\n".join(wanted)
            raise ReplayError(
                f"{where}: `{line}` printed:\n{output}\nthe page says:\n{shown}"
            )

    def start_server(self, step, env, servers, started, where) -> None:
        url = self.remap(step.server)
        port = int(url.split(":")[2].split("/")[0])
        if port in started:
            # A new server on the same port replaces the old one, as Ctrl-C would.
            started.pop(port).close()
        line = self.remap(step.commands[0].line)
        self.log(f"   $ {line}   (server, waiting for {url})")
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(
                running_server(
                    ["bash", "-c", line],  # the whole process group is stopped
                    url,
                    env=env,
                    inherit_env=False,
                    timeout=min(step.timeout, 30.0),
                    cwd=self.cwd,
                )
            )
        except (RuntimeError, TimeoutError) as exc:
            raise ReplayError(
                f"{where}: server `{line}` did not start: {exc}"
            ) from None
        started[port] = stack
        servers.callback(stack.close)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tutorial.replay", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--upto", default="99", help="last part to replay, e.g. 03")
    parser.add_argument(
        "--keep", type=Path, required=True, help="directory to replay into (emptied)"
    )
    parser.add_argument(
        "--python-venv",
        type=Path,
        help="virtual environment to use (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.keep.exists() and any(args.keep.iterdir()):
        shutil.rmtree(args.keep)
    venv_bin = (
        (args.python_venv / "bin") if args.python_venv else Path(sys.executable).parent
    )
    if not (venv_bin / "python").exists():
        print(f"replay: error: no python in {venv_bin}", file=sys.stderr)
        return 2
    replay = Replay(args.keep.resolve(), venv_bin=venv_bin.absolute())
    started = time.monotonic()
    for page in parts():
        if page.name[:2] > args.upto:
            break
        try:
            replay.run_part(page)
        except ReplayError as exc:
            print(f"\nFAILED {exc}", file=sys.stderr)
            return 1
    print(f"replayed in {time.monotonic() - started:.1f} s into {args.keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
