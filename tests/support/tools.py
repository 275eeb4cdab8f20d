"""The outside tools and services some tests need, and what happens without them.

A reader's machine has Python, git and make; ``make test`` must pass there. So a
test that needs one of the tools below calls :func:`need`, which skips the test
when the tool is missing, and the suite ends with one line that names what was
skipped and how to enable it (:func:`summary_line`). CI must not pass with those
tests silently skipped: when ``CI`` is set (to anything but ``false`` or ``0``),
or ``REQUIRE_SERVICES`` names the tool, a missing tool fails the test instead.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass

import pytest

SKIP_PREFIX = "missing tool "


@dataclass(frozen=True)
class Tool:
    name: str
    # What tells us the tool is there: an executable on PATH (or the path in an
    # environment variable that overrides it), or a variable that must be set.
    executable: str = ""
    override: str = ""
    variable: str = ""
    enable: str = ""

    def find(self) -> str | None:
        if self.variable:
            return os.environ.get(self.variable) or None
        if self.override and os.environ.get(self.override):
            return os.environ[self.override]
        return shutil.which(self.executable)


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "chromium",
            executable="chromium",
            override="CHROMIUM",
            enable="apt-get install chromium",
        ),
        Tool(
            "wrk",
            executable="wrk",
            override="BENCH_WRK",
            enable="apt-get install wrk",
        ),
        Tool(
            "lighthouse",
            executable="lighthouse",
            override="LIGHTHOUSE",
            enable="npm ci in a copy of tools/lighthouse/, then "
            "LIGHTHOUSE=that/node_modules/.bin/lighthouse",
        ),
        Tool(
            "nginx",
            executable="nginx",
            override="NGINX",
            enable="apt-get install nginx-light (as root, or with /usr/sbin on PATH)",
        ),
        Tool(
            "postgres",
            variable="DATABASE_URL",
            enable="DATABASE_URL=postgres://USER@HOST:5432/statusboard make test",
        ),
        Tool(
            "redis",
            variable="REDIS_URL",
            enable="REDIS_URL=redis://HOST:6379/0 make test",
        ),
    )
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def required(name: str) -> bool:
    named = os.environ.get("REQUIRE_SERVICES", "").split(",")
    return in_ci() or name in named


def elsewhere() -> set[str]:
    """The tools whose tests another CI run covers (``TOOLS_ELSEWHERE=a,b``)."""
    return {name for name in os.environ.get("TOOLS_ELSEWHERE", "").split(",") if name}


def need(name: str) -> str:
    """The tool's path or setting; skip the test without it (fail in CI).

    A tool named in ``TOOLS_ELSEWHERE`` skips its tests even in CI: CI names the
    tools that one of its other runs covers, so no run repeats another's work.
    """
    if name in elsewhere():
        pytest.skip(f"{name}: another CI run covers it (TOOLS_ELSEWHERE)")
    tool = TOOLS[name]
    found = tool.find()
    if found:
        return found
    what = f"${tool.variable} is not set" if tool.variable else "not on PATH"
    if required(name):
        why = "CI=true" if in_ci() else "REQUIRE_SERVICES names it"
        pytest.fail(f"{name} is missing ({what}), and {why}: this run must have it")
    pytest.skip(f"{SKIP_PREFIX}{name}: {what}")


def summary_line(skip_reasons: list[str]) -> str:
    """One line: how many tests each missing tool skipped, and how to enable it."""
    counts = Counter(
        reason.removeprefix(SKIP_PREFIX).partition(":")[0]
        for reason in skip_reasons
        if reason.startswith(SKIP_PREFIX)
    )
    if not counts:
        return ""
    parts = [
        f"{name} ({counts[name]} tests; enable: {TOOLS[name].enable})"
        for name in TOOLS
        if counts[name]
    ]
    return "Skipped for missing tools: " + "; ".join(parts)
