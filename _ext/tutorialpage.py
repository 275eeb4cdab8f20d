"""The steps a tutorial page is made of, read from its MyST source.

A tutorial page tells the reader to write files, download ready ones
(``tutorial-download``, a :class:`FileStep` with ``ready`` set) and run
commands, in order. All live in fenced directives, which the Sphinx extension
(:mod:`_ext.tutorial`) renders and the replay test (``tests/tutorial/replay.py``)
executes, so what a reader sees and what the test does come from the same text::

    ```{tutorial-file} sampleproject/board/models.py
    :source: sampleproject/board/models.py
    ```

    ```{tutorial-shell}
    $ python manage.py check
    System check identified no issues (0 silenced).
    ```

This module has no Sphinx import: the replay harness reads pages with it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Options each directive accepts, with a checker returning an error or "".
SERVICES = ("postgres", "redis")
# "since 6.0" or "before 6.0" (MyST reads options as YAML, where ">" is syntax).
VERSION_SPEC = re.compile(r"^(since|before) (\d+)\.(\d+)$")

FENCE = re.compile(
    r"^(?P<fence>`{3,})\{(?P<name>tutorial-file|tutorial-download|tutorial-shell)\}"
    r"[ \t]*(?P<arg>.*?)[ \t]*\n"
    r"(?P<body>.*?)"
    r"^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
OPTION = re.compile(r"^:(?P<name>[a-z-]+):(?:[ \t]+(?P<value>.*))?$")

SUFFIX_LANGUAGES = {
    ".py": "python",
    ".html": "html+django",
    ".js": "javascript",
    ".css": "css",
    ".txt": "text",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".json": "json",
    ".sh": "bash",
    ".lua": "lua",
}


class PageError(ValueError):
    """A tutorial directive the replay could not execute faithfully."""


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)


@dataclass
class FileStep:
    destination: str
    source: str
    diff_from: str = ""
    language: str = ""
    lineno: int = 0
    # A ready file: downloaded, not written; ``interface`` names what the page
    # shows of it.
    ready: bool = False
    interface: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "download" if self.ready else "file"


@dataclass
class ShellStep:
    commands: list[Command]
    server: str = ""
    skip_reason: str = ""
    replay_env: dict[str, str] = field(default_factory=dict)
    django: tuple[str, tuple[int, int]] | None = None  # ("since", (6, 0))
    exit_status: int = 0
    timeout: float = 60.0
    needs: str = ""
    lineno: int = 0

    @property
    def kind(self) -> str:
        return "shell"

    def applies_to(self, django_version: tuple[int, int]) -> bool:
        if self.django is None:
            return True
        operator, version = self.django
        if operator == "since":
            return django_version >= version
        return django_version < version


def language_for(path: str) -> str:
    for suffix, language in SUFFIX_LANGUAGES.items():
        if path.endswith(suffix):
            return language
    return "text"


def split_options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """MyST-style leading ``:name: value`` lines, then the content."""
    options: dict[str, str] = {}
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        match = OPTION.match(line)
        if not match:
            break
        options[match["name"]] = (match["value"] or "").strip()
    else:
        index = len(lines)
    return options, lines[index:]


def parse_commands(lines: list[str]) -> list[Command]:
    """``$ command`` lines, each followed by the output it should print."""
    commands: list[Command] = []
    for line in lines:
        if line.startswith("$ "):
            commands.append(Command(line[2:].strip()))
        elif not commands:
            if line.strip():
                raise PageError(f"output before any '$ ' command: {line!r}")
        else:
            commands[-1].expected.append(line.rstrip())
    for command in commands:
        while command.expected and not command.expected[-1]:
            command.expected.pop()
    if not commands:
        raise PageError("a tutorial-shell block needs at least one '$ ' command")
    return commands


def parse_env(text: str) -> dict[str, str]:
    env = {}
    for item in text.split():
        name, equals, value = item.partition("=")
        if not equals or not name.isidentifier():
            raise PageError(f":replay-env: expects NAME=value items, got {item!r}")
        env[name] = value
    return env


def number(options: dict[str, str], name: str, kind, wanted: str, default):
    if name not in options:
        return default
    try:
        return kind(options[name])
    except ValueError:
        raise PageError(f":{name}: expects {wanted}, got {options[name]!r}") from None


def shell_step(
    options: dict[str, str], content: list[str], lineno: int = 0
) -> ShellStep:
    known = {"server", "replay", "reason", "replay-env", "django", "exit", "timeout"}
    known.add("needs")
    unknown = set(options) - known
    if unknown:
        raise PageError(
            f"unknown tutorial-shell option(s): {', '.join(sorted(unknown))}"
        )
    step = ShellStep(commands=parse_commands(content), lineno=lineno)
    step.server = options.get("server", "")
    if step.server:
        if not step.server.startswith("http://127.0.0.1:"):
            raise PageError(
                f":server: must be an http://127.0.0.1:PORT/ URL, got {step.server!r}"
            )
        if len(step.commands) != 1 or step.commands[0].expected:
            raise PageError("a :server: block holds one command and no output")
    replay = options.get("replay")
    if replay is not None:
        if replay != "skip":
            raise PageError(f":replay: accepts only 'skip', got {replay!r}")
        step.skip_reason = options.get("reason", "")
        if not step.skip_reason:
            raise PageError(":replay: skip needs a :reason: saying what replaces it")
    elif "reason" in options:
        raise PageError(":reason: belongs with :replay: skip")
    step.replay_env = parse_env(options.get("replay-env", ""))
    if "django" in options:
        match = VERSION_SPEC.match(options["django"])
        if not match:
            wanted = "'since 6.0' or 'before 6.0'"
            raise PageError(f":django: expects {wanted}, got {options['django']!r}")
        step.django = (match[1], (int(match[2]), int(match[3])))
    step.exit_status = number(options, "exit", int, "a number", step.exit_status)
    step.timeout = number(options, "timeout", float, "seconds", step.timeout)
    step.needs = options.get("needs", "")
    if step.needs and step.needs not in SERVICES:
        raise PageError(f":needs: accepts {' or '.join(SERVICES)}, got {step.needs!r}")
    return step


FILE_OPTIONS = {"source", "diff-from", "language"}
DOWNLOAD_OPTIONS = {"source", "interface"}


def file_step(
    destination: str, options: dict[str, str], lineno: int = 0, ready: bool = False
) -> FileStep:
    directive = "tutorial-download" if ready else "tutorial-file"
    unknown = set(options) - (DOWNLOAD_OPTIONS if ready else FILE_OPTIONS)
    if unknown:
        raise PageError(f"unknown {directive} option(s): {', '.join(sorted(unknown))}")
    if not destination or destination.startswith("/") or ".." in destination.split("/"):
        raise PageError(
            f"{directive} needs a relative destination path, got {destination!r}"
        )
    source = options.get("source", "")
    if not source:
        raise PageError(f"{directive} {destination} needs :source: (a repository path)")
    return FileStep(
        destination=destination,
        source=source,
        diff_from=options.get("diff-from", ""),
        language=options.get("language") or language_for(destination),
        lineno=lineno,
        ready=ready,
        interface=tuple(options.get("interface", "").split()),
    )


def parse_page(text: str) -> list[FileStep | ShellStep]:
    """Every tutorial step of a page, in page order."""
    steps: list[FileStep | ShellStep] = []
    for match in FENCE.finditer(text):
        lineno = text.count("\n", 0, match.start()) + 1
        options, content = split_options(match["body"].splitlines())
        try:
            if match["name"] in ("tutorial-file", "tutorial-download"):
                if any(line.strip() for line in content):
                    raise PageError(
                        f"{match['name']} takes no content: the file is :source:"
                    )
                ready = match["name"] == "tutorial-download"
                steps.append(file_step(match["arg"], options, lineno, ready))
            else:
                if match["arg"]:
                    raise PageError("tutorial-shell takes no argument")
                steps.append(shell_step(options, content, lineno))
        except PageError as exc:
            raise PageError(f"line {lineno}: {exc}") from None
    return steps


def output_pattern(expected: list[str]) -> re.Pattern:
    """``...`` alone matches any lines; ``...`` inside a line matches any text."""
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = [re.escape(piece) for piece in line.split("...")]
            parts.append("[^\n]*".join(pieces) + r"\n")
    return re.compile("".join(parts))


def normalize_output(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def output_matches(expected: list[str], actual: str) -> bool:
    return bool(output_pattern(expected).fullmatch(normalize_output(actual)))
