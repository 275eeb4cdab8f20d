"""What the harness measures: groups of cases, each a name and its parameters.

Pure data, with no Django import, so the command line can list and check the
cases before any worker starts.

Two kinds of thing run: the in-process **cases** below (one worker process per
case and repetition, run by :mod:`bench.cli` itself), and **suites**, which
measure in their own way (other virtual environments, real servers) and hand
back finished result groups.

How a suite registers: add one line to ``SUITES`` at the end of this file::

    Suite("servers", "Through real servers", "bench.servers:run"),

``"module:function"`` is imported only when the suite runs. The function is
called as ``run(settings, progress)`` and returns ``{group name: group}``:

- ``settings`` is a dict: the run's profile (``processes``, ``values``,
  ``value_seconds``, ``warmup_seconds``, already overridden by the command
  line), ``mode`` (``"full"`` or ``"quick"``), ``explicit`` (the names of the
  profile values given on the command line, so that a suite can keep its own
  defaults for the others) and ``options`` (the suite-specific command-line
  options, e.g. ``django_versions``, ``pythons``).
- ``progress`` is the :class:`bench.cli.Progress`: call ``progress.add(n)``
  once the suite knows how many steps it has, ``progress.step(text)`` after
  each, ``progress.note(text)`` for a line that must stay visible (a skipped
  series, say).
- A group is ``{"title": ..., "cases": {name: case}}`` plus any keys of the
  suite's own (recorded as they are). A case is ``{"label", "params", "unit",
  "runs": [{"process": i, "values_us": [...]}, ...]}``, optionally with
  ``"baseline": "<case name in the same group>"`` to get a ``ratio``.
  :func:`bench.stats.add_summaries` then adds ``stats`` and ``unstable`` to
  every case that has ``runs``; a case without ``runs`` must carry its own
  ``stats`` and ``unstable``. A suite that cannot run something records it
  under the group's ``"skipped"`` list (``{"what", "why"}`` items) rather than
  failing; a bad option raises :class:`bench.cli.BenchError` (one line, exit 1).
- Worker processes a suite starts go through :class:`bench.cli.Workers`, so
  none outlives the harness.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    label: str
    # request-paths and middleware: "wsgi" or "asgi"; bridges: "bridge".
    handler: str
    view: str = ""  # "sync" or "async"
    workload: str = ""  # "trivial" or "orm"
    # "sync" or "async" (that many pass-through middleware), or a whole list:
    # "startproject" or "async-native" (bench/settings.py).
    middleware: str = ""
    middleware_count: int = 0
    bridge: str = ""

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def needs_db(self) -> bool:
        return self.workload == "orm"

    @property
    def path(self) -> str:
        """The URL the case requests."""
        prefix = "services" if self.workload == "orm" else "trivial"
        return f"/{prefix}/{self.view}/"

    def params(self) -> dict:
        fields = {
            "handler": self.handler,
            "view": self.view,
            "workload": self.workload,
            "middleware": self.middleware,
            "middleware_count": self.middleware_count,
            "bridge": self.bridge,
        }
        return {k: v for k, v in fields.items() if v or k == "middleware_count"}


GROUPS = {
    "request-paths": "Request paths through Django's handlers",
    "middleware": "Middleware adaptation on the async path",
    "bridges": "The bridges alone",
}

WORKLOADS = {"trivial": "trivial view", "orm": "ORM read and template render"}
HANDLERS = {"wsgi": "WSGIHandler", "asgi": "ASGIHandler"}
MIDDLEWARE_COUNTS = (1, 5, 10)
# The seven middleware startproject writes, as Django ships them and async-native.
STARTPROJECT_COUNT = 7
STARTPROJECT_LISTS = {
    "startproject": "startproject's 7 middleware",
    "async-native": "startproject's 7, async-native",
}
BRIDGES = {
    "sync-to-async-sensitive": "sync_to_async, thread-sensitive, one long-lived thread",
    "sync-to-async-sensitive-new-context": (
        "sync_to_async, thread-sensitive, first hop in a new ThreadSensitiveContext"
    ),
    "sync-to-async-insensitive": "sync_to_async, thread_sensitive=False",
    "async-to-sync": "async_to_sync from a thread with no event loop",
}


def _cases() -> list[Case]:
    cases = []
    for workload, workload_label in WORKLOADS.items():
        for handler, handler_label in HANDLERS.items():
            for view in ("sync", "async"):
                cases.append(
                    Case(
                        "request-paths",
                        f"{handler}-{view}-{workload}",
                        f"{view} view via {handler_label}, {workload_label}",
                        handler,
                        view=view,
                        workload=workload,
                    )
                )
    mw = dict(handler="asgi", view="async", workload="trivial")
    cases.append(Case("middleware", "none", "no middleware", **mw))
    for kind, kind_label in (("sync", "sync-only"), ("async", "async-capable")):
        for count in MIDDLEWARE_COUNTS:
            cases.append(
                Case(
                    "middleware",
                    f"{kind}-{count}",
                    f"{count} {kind_label} middleware",
                    **mw,
                    middleware=kind,
                    middleware_count=count,
                )
            )
    for kind, kind_label in STARTPROJECT_LISTS.items():
        cases.append(
            Case(
                "middleware",
                kind,
                kind_label,
                **mw,
                middleware=kind,
                middleware_count=STARTPROJECT_COUNT,
            )
        )
    for name, label in BRIDGES.items():
        cases.append(Case("bridges", name, label, "bridge", bridge=name))
    return cases


CASES = {case.key: case for case in _cases()}


def baseline(case: Case) -> str | None:
    """The case this one is given as a ratio to, within the same run."""
    if case.group == "request-paths":
        return f"wsgi-sync-{case.workload}"
    if case.group == "middleware":
        return "none"
    return None


def counterpart(case: Case) -> str | None:
    """The case a middleware case's ``extra`` is measured against: for a
    sync-only chain the async-capable one, for startproject's list its
    async-native version."""
    if case.group == "middleware" and case.middleware == "sync":
        return f"async-{case.middleware_count}"
    if case.group == "middleware" and case.middleware == "startproject":
        return "async-native"
    return None


def select(names: list[str] | None) -> list[Case]:
    """The cases named by group (``bridges``) or key (``bridges/async-to-sync``).

    Raises ``KeyError`` with the first unknown name.
    """
    if not names:
        return list(CASES.values())
    wanted: set[str] = set()
    for name in names:
        if name in GROUPS:
            wanted.update(key for key, case in CASES.items() if case.group == name)
        elif name in CASES:
            wanted.add(name)
        else:
            raise KeyError(name)
    return [case for key, case in CASES.items() if key in wanted]


@dataclass(frozen=True)
class Suite:
    """A measurement that is not an in-process case; see the module docstring."""

    name: str
    title: str
    target: str  # "module:function", imported when the suite runs

    def load(self):
        from importlib import import_module

        module, _, function = self.target.partition(":")
        return getattr(import_module(module), function)


SUITES = {
    suite.name: suite
    for suite in (
        Suite("versions", "Across Django versions", "bench.versions:run_versions"),
        Suite("asgiref", "Across asgiref releases", "bench.versions:run_asgiref"),
        Suite("servers", "Through real servers", "bench.servers:run"),
        Suite("guide-data", "ORM and templates guides", "bench.guide_data:run"),
        Suite("guide-calls", "Sync calls and the cache", "bench.guide_calls:run"),
        Suite("streams", "Holding event streams", "bench.stream_recipe:run"),
        Suite("guide-migrating", "The migration guide", "bench.guide_migrating:run"),
        Suite("guide-apis", "REST API stacks", "bench.guide_apis:run"),
        Suite("decide", "The decision guide", "bench.decide:run"),
        Suite("attribution", "Where a request's time goes", "bench.attribution:run"),
        Suite("fanout", "The phases of one check-all", "bench.fanout:run"),
    )
}


def select_all(names: list[str] | None) -> tuple[list[Case], list[Suite]]:
    """The cases and the suites named by ``--only`` (everything when empty).

    Raises ``KeyError`` with the first unknown name.
    """
    if not names:
        return list(CASES.values()), list(SUITES.values())
    suites = [suite for name, suite in SUITES.items() if name in names]
    rest = [name for name in names if name not in SUITES]
    cases = select(rest) if rest else []
    return cases, suites
