"""Benchmark figures on the pages, taken from bench/ results at build time.

The newest file matching ``benchdata_results_glob`` (by the run date it
records; default ``bench/results/full-*.json``, relative to the configuration
directory) is loaded once per build. No file, or a file this extension cannot
read, stops the build with a message that says what to run.

````md
```{bench-table} request-paths
```

```{bench-environment}
```

The async view costs {bench}`request-paths/asgi-async-trivial/ratio` ...
````

``bench-table`` renders one group (``request-paths``, ``middleware``,
``bridges``, ``versions`` or ``asgiref``) as a table. ``bench-plot`` renders a
chart as inline SVG (``PLOTS`` names them; ``:alt:`` is required)::

    ```{bench-plot} versions
    :alt: The ratio of each path to a sync view via WSGI, Django 2.2 to 6.1
    ```
 ``bench-environment`` renders the machine, the
versions and the date of the run. The ``bench`` role renders one figure:
``GROUP/CASE/FIELD`` with FIELD one of ``mean``, ``median``, ``stdev``,
``min``, ``max`` (microseconds), ``cv`` (a percentage), ``n``, ``ratio``
(to the group's baseline), ``threads`` (threads started per request) or
``extra`` (a sync-only middleware chain minus the async-capable one, or
startproject's middleware minus their async-native versions, in
microseconds), ``hops`` (the ``sync_to_async`` calls per request of a
middleware case, ``thread_sensitive`` the thread-sensitive ones among them);
or a fact about the run: ``machine/cpu_model``,
``software/django``, ``settings/processes``, ``date``, or anything a suite
recorded in a group: ``groups/asgiref/asgiref_bound/oldest``.

A case that the harness defines (:data:`bench.cases.CASES`, or a suite's
``KNOWN_CASES``; a suite's group facts through its ``KNOWN_GROUPS``) but a run
of every case (no ``--only``) predates renders as "not in this run", with a
tooltip that says to rerun ``make bench``, so that a new case can land before
the next full run. A name the harness does not know, or a case missing from a
run of some cases, is still an error.

A figure whose coefficient of variation is above the run's threshold
(``settings/cv_threshold``), or
a ratio or difference computed from one, carries a visible dagger whose
tooltip says why; a table that has any says so under it. Outside the page
named by ``benchdata_page``, the role's figure links to the label named by
``benchdata_label``, where the run's machine and versions are shown.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.errors import SphinxError
from sphinx.util.docutils import SphinxDirective, SphinxRole

from _ext import benchservers, svgplot
from bench.cases import CASES

SERVER_CASES = benchservers.known_cases()


def suite_known() -> tuple[set[str], set[str]]:
    """The ``group/case`` names and the groups that suites declare.

    A suite module may list them in ``KNOWN_CASES`` and ``KNOWN_GROUPS``
    (bench/guide_calls.py does), so that a page can cite them before the next
    full run records them.
    """
    from importlib import import_module

    from bench.cases import SUITES

    cases: set[str] = set()
    groups: set[str] = set()
    for suite in SUITES.values():
        module = import_module(suite.target.partition(":")[0])
        cases |= set(getattr(module, "KNOWN_CASES", ()))
        groups |= set(getattr(module, "KNOWN_GROUPS", ()))
    return cases, groups


SUITE_CASES, SUITE_GROUPS = suite_known()

SCHEMA_VERSION = 1
STAT_FIELDS = ("mean", "median", "stdev", "min", "max", "cv", "n")
DERIVED_FIELDS = {"ratio": "ratio", "extra": "extra_us"}
UNSTABLE = "coefficient of variation above {:.0%}: repeated runs disagree"
DAGGER = "\u2020"
NBSP = "\u00a0"
TIMES = "\u00d7"
NOT_MEASURED = "not in this run"
NOT_MEASURED_WHY = (
    "the committed results predate this case: the next full run (make bench) adds it"
)
HOP_FIELDS = ("hops", "thread_sensitive")


class BenchDataError(SphinxError):
    category = "Benchmark data error"


class NotMeasured(LookupError):
    """A case the harness defines, missing from an older results file."""


def not_measured_nodes() -> list[nodes.Node]:
    marker = nodes.abbreviation(
        NOT_MEASURED, NOT_MEASURED, explanation=NOT_MEASURED_WHY
    )
    marker["classes"].append("bench-not-measured")
    return [marker]


# Loading.


def find_results(pattern: str, confdir: str) -> tuple[Path, dict]:
    full = pattern if Path(pattern).is_absolute() else str(Path(confdir) / pattern)
    paths = sorted(glob.glob(full))
    if not paths:
        raise BenchDataError(
            f"no benchmark results match {pattern!r}: the performance pages are"
            " built from a full run. Run `make bench` on a quiet machine (it"
            " writes bench/results/full-<time>.json), or point"
            " benchdata_results_glob at a results file."
        )
    loaded = [(load(Path(path)), Path(path)) for path in paths]
    data, path = max(loaded, key=lambda item: (item[0]["date"], str(item[1])))
    return path, data


def load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchDataError(f"cannot read benchmark results {path}: {exc}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise BenchDataError(
            f"{path}: schema_version {version!r}, this extension reads"
            f" {SCHEMA_VERSION}; rerun `make bench`"
        )
    missing = [
        key
        for key in ("date", "machine", "software", "settings", "groups")
        if key not in data
    ]
    if missing:
        raise BenchDataError(f"{path}: missing {', '.join(missing)}")
    return data


# The loaded results, by source directory: one build per process, but keyed
# so that the environment (which is pickled) never carries them.
_LOADED: dict[str, tuple[Path, dict]] = {}


def on_builder_inited(app) -> None:
    _LOADED[str(app.srcdir)] = find_results(
        app.config.benchdata_results_glob, app.confdir
    )


# Formatting.


def format_us(value: float) -> str:
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}{NBSP}µs"


def format_field(field: str, value) -> str:
    if field == "cv":
        return f"{value:.1%}"
    if field == "n":
        return str(value)
    if field in ("ratio", "factor"):
        return f"{value:.2f}{TIMES}"
    if field == "threads":
        return f"{value:g}"
    return format_us(value)


def format_memory(value: int | None) -> str:
    return "unknown" if value is None else f"{value / 2**30:.0f}{NBSP}GiB"


def figure_nodes(text: str, unstable: bool, threshold: float) -> list[nodes.Node]:
    """The figure, followed by a dagger with a tooltip when it is unstable."""
    result: list[nodes.Node] = [nodes.Text(text)]
    if unstable:
        marker = nodes.abbreviation(
            DAGGER, DAGGER, explanation=UNSTABLE.format(threshold)
        )
        marker["classes"].append("bench-unstable")
        result.append(marker)
    return result


def data_for(env) -> Data:
    """The run's data, for a role or directive of the document being read.

    Notes that the document shows it, so a newer results file rebuilds it.
    """
    data = Data(env)
    env.note_dependency(str(data.path))
    note_document(env)
    return data


class Data:
    """The loaded results, with lookups that fail with a useful message."""

    def __init__(self, env):
        self.path, self.data = _LOADED[str(env.srcdir)]
        self.threshold: float = self.data["settings"].get("cv_threshold", 0.05)
        # A run of every case, not of some (--only).
        self.complete = "--only" not in self.data.get("command", [])

    def group(self, name: str) -> dict:
        groups = self.data["groups"]
        if name not in groups:
            raise LookupError(
                f"no group {name!r} in {self.path.name}"
                f" (it has: {', '.join(groups) or 'none'})"
            )
        return groups[name]

    def case(self, group: str, name: str) -> dict:
        groups = self.data["groups"]
        # A run of every case that lacks one predates it; a run of some cases
        # (--only) is not what the pages are built from.
        key = f"{group}/{name}"
        known = key in CASES or key in SERVER_CASES or key in SUITE_CASES
        predates = known and self.complete
        if predates and name not in groups.get(group, {}).get("cases", {}):
            raise NotMeasured(f"{group}/{name}")
        cases = self.group(group)["cases"]
        if name not in cases:
            raise LookupError(
                f"no case {name!r} in group {group!r} of {self.path.name}"
                f" (it has: {', '.join(cases)})"
            )
        return cases[name]

    def figure(self, group: str, name: str, field: str) -> tuple[str, bool]:
        """The formatted figure and whether it is flagged as unstable."""
        case = self.case(group, name)
        if case.get("unit") in benchservers.UNITS:  # the servers suite's cases
            cases = self.group(group)["cases"]
            return benchservers.figure(group, name, case, field, cases)
        if field in STAT_FIELDS:
            return format_field(field, case["stats"][field]), case["unstable"]
        if field in DERIVED_FIELDS:
            derived = case.get(DERIVED_FIELDS[field])
            if derived is None:
                raise LookupError(f"case {group}/{name} has no {field!r} figure")
            return format_field(field, derived["value"]), derived["unstable"]
        if field in HOP_FIELDS:
            key = "sync_to_async" if field == "hops" else field
            counts = [run["hops"][key] for run in case["runs"] if "hops" in run]
            if not counts:
                missing = NotMeasured if self.complete else LookupError
                raise missing(f"case {group}/{name} has no hop count")
            return f"{max(counts):g}", False
        if field == "threads":
            if "threads_per_request" not in case:
                raise LookupError(f"case {group}/{name} has no thread count")
            return format_field(field, case["threads_per_request"]), False
        raise LookupError(
            f"unknown field {field!r}: use one of"
            f" {', '.join((*STAT_FIELDS, *DERIVED_FIELDS, 'threads', *HOP_FIELDS))}"
        )

    def fact(self, path: list[str]) -> str:
        if (
            path[0] == "groups"
            and len(path) > 1
            and path[1] in SUITE_GROUPS
            and path[1] not in self.data["groups"]
            and self.complete
        ):
            raise NotMeasured("/".join(path))  # a suite group newer than the run
        if path == ["date"]:
            return self.data["date"][:10]
        if path == ["machine", "memory"]:
            return format_memory(self.data["machine"].get("memory_bytes"))
        value = self.data
        for part in path:
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]  # groups/versions/series/0/python
                continue
            if not isinstance(value, dict) or part not in value:
                raise LookupError(f"no {'/'.join(path)!r} in {self.path.name}")
            value = value[part]
        if isinstance(value, dict | list) or value is None:
            raise LookupError(f"{'/'.join(path)!r} is not a single value")
        if isinstance(value, float):
            if path[-1] == "factor":
                return format_field("factor", value)
            if path[-1] == "cv_threshold":  # settings/cv_threshold: a percentage
                return f"{value:.0%}"
            if path[-1] == "suite_seconds":  # groups/<group>/suite_seconds
                return f"{value:.0f}{NBSP}s"
            return f"{value:.2f}"
        return str(value)


# The role.


class FigureRole(SphinxRole):
    """A role whose text names a figure of the run, linked to the run's details.

    A subclass names itself in ``name`` and returns the figure's nodes from
    :meth:`figure`, raising :class:`LookupError` for a text it cannot read
    and :class:`NotMeasured` for a figure the run does not have.
    """

    name = "bench"

    def figure(self, data: Data) -> list[nodes.Node]:
        raise NotImplementedError

    def run(self):
        data = data_for(self.env)
        try:
            figure = self.figure(data)
        except NotMeasured:
            figure = not_measured_nodes()
        except LookupError as exc:
            message = self.inliner.reporter.error(
                f"{{{self.name}}}`{self.text}`: {exc.args[0]}", line=self.lineno
            )
            problem = self.inliner.problematic(self.rawtext, self.rawtext, message)
            return [problem], [message]
        inline = nodes.inline("", "", *figure, classes=["bench-figure"])
        config = self.env.config
        if not config.benchdata_label or self.env.docname == config.benchdata_page:
            return [inline], []
        reference = addnodes.pending_xref(
            "",
            inline,
            refdomain="std",
            reftype="ref",
            reftarget=config.benchdata_label,
            refexplicit=True,
            refwarn=True,
            refdoc=self.env.docname,
        )
        return [reference], []


class BenchRole(FigureRole):
    def figure(self, data: Data) -> list[nodes.Node]:
        path = self.text.strip().split("/")
        if path[0] in ("date", "machine", "software", "settings", "mode", "groups"):
            return [nodes.Text(data.fact(path))]
        if len(path) == 3:
            text, unstable = data.figure(*path)
            return figure_nodes(text, unstable, data.threshold)
        raise LookupError("expected GROUP/CASE/FIELD, or machine/..., date")


# The directives.


def build_table(
    title: str, header: list[str], rows: list[list[list[nodes.Node]]]
) -> nodes.table:
    table = nodes.table(classes=["bench-table"])
    table += nodes.title(title, title)
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += _row([[nodes.Text(text)] for text in header])
    body = nodes.tbody()
    group += body
    for row in rows:
        body += _row(row)
    return table


def _row(cells: list[list[nodes.Node]]) -> nodes.row:
    row = nodes.row()
    for content in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", *content)
        row += entry
    return row


class BenchTable(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        data = data_for(self.env)
        name = self.arguments[0]
        builders = {
            "request-paths": self.request_paths,
            "middleware": self.middleware,
            "startproject-middleware": self.startproject_middleware,
            "bridges": self.bridges,
            "versions": self.versions,
            "asgiref": self.asgiref,
            **benchservers.tables(self, build_table),
        }
        if name not in builders:
            raise self.error(
                f"unknown benchmark table {name!r}: use one of {', '.join(builders)}"
            )
        self.flagged = False
        try:
            table = builders[name](data)
        except LookupError as exc:
            raise self.error(f"bench-table {name}: {exc.args[0]}") from None
        result = [table]
        if self.flagged:
            text = f" {UNSTABLE.format(data.threshold).capitalize()}; treat as rough."
            result.append(
                nodes.paragraph("", DAGGER + text, classes=["bench-unstable-note"])
            )
        return result

    def cell(self, data: Data, group: str, name: str, field: str) -> list[nodes.Node]:
        try:
            text, unstable = data.figure(group, name, field)
        except NotMeasured:
            return not_measured_nodes()
        self.flagged |= unstable
        return figure_nodes(text, unstable, data.threshold)

    def spread(self, data: Data, group: str, name: str) -> list[nodes.Node]:
        """``mean ± stdev``, flagged on the mean."""
        mean = self.cell(data, group, name, "mean")
        try:
            stdev, _ = data.figure(group, name, "stdev")
        except NotMeasured:
            return mean
        return [*mean, nodes.Text(f" ± {stdev}")]

    def request_paths(self, data: Data) -> nodes.table:
        group = "request-paths"
        rows = []
        for view in ("sync", "async"):
            for handler, handler_name in (("wsgi", "WSGI"), ("asgi", "ASGI")):
                row = [
                    [nodes.Text(f"{view} view")],
                    [nodes.literal(text=f"{handler_name}Handler")],
                ]
                for workload in ("trivial", "orm"):
                    name = f"{handler}-{view}-{workload}"
                    row.append(self.spread(data, group, name))
                    row.append(self.cell(data, group, name, "ratio"))
                rows.append(row)
        header = [
            "View",
            "Handler",
            "Trivial view, per request",
            "Ratio",
            "ORM read and template, per request",
            "Ratio",
        ]
        title = (
            "Time per request, mean ± standard deviation; ratio to a sync view via WSGI"
        )
        return build_table(title, header, rows)

    def middleware(self, data: Data) -> nodes.table:
        group = "middleware"
        rows = [
            [
                [nodes.Text("0")],
                self.spread(data, group, "none"),
                self.spread(data, group, "none"),
                [nodes.Text("—")],
            ]
        ]
        for count in (1, 5, 10):
            rows.append(
                [
                    [nodes.Text(str(count))],
                    self.spread(data, group, f"sync-{count}"),
                    self.spread(data, group, f"async-{count}"),
                    self.cell(data, group, f"sync-{count}", "extra"),
                ]
            )
        header = ["Middleware", "Sync-only", "Async-capable", "Sync-only costs more by"]
        title = "An async view via ASGIHandler, per request, mean ± standard deviation"
        return build_table(title, header, rows)

    def startproject_middleware(self, data: Data) -> nodes.table:
        group = "middleware"
        rows = []
        for name in ("none", "startproject", "async-native"):
            label = data.group(group)["cases"].get(name, {}).get("label")
            rows.append(
                [
                    [nodes.Text(label or CASES[f"{group}/{name}"].label)],
                    self.spread(data, group, name),
                    self.cell(data, group, name, "hops"),
                    self.cell(data, group, name, "ratio")
                    if name != "none"
                    else [nodes.Text("—")],
                ]
            )
        header = ["Middleware", "Per request", "sync_to_async per request", "Ratio"]
        title = (
            "An async view via ASGIHandler, mean ± standard deviation;"
            " ratio to no middleware"
        )
        return build_table(title, header, rows)

    def bridges(self, data: Data) -> nodes.table:
        group = "bridges"
        rows = []
        for name, case in data.group(group)["cases"].items():
            rows.append(
                [
                    [nodes.Text(case["label"])],
                    self.spread(data, group, name),
                    self.cell(data, group, name, "median"),
                    self.cell(data, group, name, "cv"),
                ]
            )
        header = ["Call", "Mean ± standard deviation", "Median", "Variation"]
        return build_table("Time per call", header, rows)

    def versions(self, data: Data) -> nodes.table:
        group = "versions"
        cases = data.group(group)["cases"]
        rows = []
        for name, case in cases.items():
            params = case["params"]
            if params["path"] != "wsgi-sync":
                continue
            prefix = name.removesuffix("-wsgi-sync")
            row = [
                [nodes.Text(params["django"])],
                [nodes.Text(params["python"])],
                self.spread(data, group, name),
            ]
            for path in ("wsgi-async", "asgi-sync", "asgi-async"):
                if f"{prefix}-{path}" in cases:
                    row.append(self.cell(data, group, f"{prefix}-{path}", "ratio"))
                else:
                    row.append([nodes.Text("—")])
            rows.append(row)
        header = [
            "Django",
            "Python",
            "Sync view via WSGI, per request",
            "Async view via WSGI",
            "Sync view via ASGI",
            "Async view via ASGI",
        ]
        title = (
            "A trivial view on each release: a sync view via WSGI per request,"
            " and each other path as a ratio to it"
        )
        return build_table(title, header, rows)

    def asgiref(self, data: Data) -> nodes.table:
        group = "asgiref"
        cases = data.group(group)["cases"]
        oldest, newest = asgiref_releases(data)
        rows = []
        for what, label in asgiref_items(data, oldest):
            row = [[nodes.Text(label)]]
            for release in (oldest, newest):
                name = f"asgiref-{release}-{what}"
                if name not in cases:
                    raise LookupError(f"no case {name!r} in group {group!r}")
                row.append(self.spread(data, group, name))
                row.append(self.cell(data, group, name, "threads"))
            rows.append(row)
        header = ["Path or call"]
        for release in (oldest, newest):
            header += [f"asgiref {release}", "Threads started"]
        title = "Time per request or call, and the threads each one starts"
        return build_table(title, header, rows)


def asgiref_releases(data: Data) -> tuple[str, str]:
    bound = data.group("asgiref").get("asgiref_bound")
    if not bound:
        raise LookupError("group 'asgiref' has no asgiref_bound (was it skipped?)")
    return bound["oldest"], bound["newest"]


def asgiref_items(data: Data, release: str) -> list[tuple[str, str]]:
    """(path or bridge, label) measured on ``release``, in the group's order."""
    prefix = f"asgiref-{release}-"
    return [
        (name.removeprefix(prefix), case["label"].split(": ", 1)[-1])
        for name, case in data.group("asgiref")["cases"].items()
        if name.startswith(prefix)
    ]


# The plots.


def _labelled(data: Data, group: str, name: str, field: str) -> str:
    text, unstable = data.figure(group, name, field)
    return text + (DAGGER if unstable else "")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


Plotted = tuple[list[str], list[svgplot.Series]]  # categories, series


def plot_request_paths(data: Data) -> Plotted:
    group = "request-paths"
    paths = [(v, h) for v in ("sync", "async") for h in ("wsgi", "asgi")]
    categories = [f"{v} view, {h.upper()}Handler" for v, h in paths]
    series = []
    workloads = (("trivial", "trivial view"), ("orm", "ORM read and template"))
    for number, (workload, label) in enumerate(workloads):
        names = [f"{h}-{v}-{workload}" for v, h in paths]
        values = []
        for name in names:
            if "ratio" not in data.case(group, name):
                raise LookupError(f"case {group}/{name} has no 'ratio' figure")
            values.append(data.case(group, name)["ratio"]["value"])
        labels = [_labelled(data, group, n, "ratio") for n in names]
        series.append(
            svgplot.Series(label, values, color=number, dash=number, labels=labels)
        )
    return categories, series


def plot_middleware(data: Data) -> Plotted:
    group = "middleware"
    counts = (0, 1, 5, 10)
    series = []
    kinds = (("sync", "sync-only middleware"), ("async", "async-capable middleware"))
    for number, (kind, label) in enumerate(kinds):
        names = ["none" if n == 0 else f"{kind}-{n}" for n in counts]
        values = [data.case(group, n)["stats"]["mean"] for n in names]
        series.append(
            svgplot.Series(label, values, color=number, dash=number, marker=number)
        )
    return [str(n) for n in counts], series


def _version_runs(data: Data) -> tuple[list[str], list[tuple[str, dict]]]:
    """The releases in order, and per Python (in order) its cases by (release, path)."""
    cases = data.group("versions")["cases"]
    by_python: dict[str, dict] = {}
    for name, case in cases.items():
        params = case["params"]
        key = (params["django"], params["path"])
        by_python.setdefault(params["python"], {})[key] = name
    releases = sorted({c["params"]["django"] for c in cases.values()}, key=_version_key)
    pythons = sorted(by_python.items(), key=lambda item: _version_key(item[0]))
    return releases, pythons


def plot_versions(data: Data) -> Plotted:
    releases, pythons = _version_runs(data)
    paths = (
        ("asgi-sync", "sync view via ASGI"),
        ("asgi-async", "async view via ASGI"),
        ("wsgi-async", "async view via WSGI"),
    )
    series = []
    for dash, (python, cases) in enumerate(pythons):
        for color, (path, label) in enumerate(paths):
            values = []
            for release in releases:
                name = cases.get((release, path))
                ratio = data.case("versions", name).get("ratio") if name else None
                values.append(ratio["value"] if ratio else None)
            if any(value is not None for value in values):
                name = f"{label}, Python {python}"
                series.append(
                    svgplot.Series(name, values, color=color, dash=dash, marker=color)
                )
    return releases, series


def plot_versions_wsgi(data: Data) -> Plotted:
    releases, pythons = _version_runs(data)
    series = []
    for number, (python, cases) in enumerate(pythons):
        values = []
        for release in releases:
            name = cases.get((release, "wsgi-sync"))
            case = data.case("versions", name) if name else None
            values.append(case["stats"]["mean"] if case else None)
        series.append(
            svgplot.Series(
                f"Python {python}", values, color=number, dash=number, marker=number
            )
        )
    return releases, series


def plot_asgiref(data: Data) -> Plotted:
    oldest, newest = asgiref_releases(data)
    items = asgiref_items(data, oldest)
    series = []
    for number, release in enumerate((oldest, newest)):
        names = [f"asgiref-{release}-{what}" for what, _ in items]
        values = [data.case("asgiref", n)["stats"]["mean"] for n in names]
        labels = [_labelled(data, "asgiref", n, "mean") for n in names]
        series.append(
            svgplot.Series(
                f"asgiref {release}", values, color=number, dash=number, labels=labels
            )
        )
    return [label for _, label in items], series


# name: (what gives the data, chart kind, title, x axis label, y axis label)
PLOTS = {
    "request-paths": (
        plot_request_paths,
        svgplot.bars,
        "Time per request, as a multiple of a sync view via WSGIHandler",
        f"ratio to a sync view via WSGIHandler ({TIMES})",
        "",
    ),
    "middleware": (
        plot_middleware,
        svgplot.lines,
        "An async view via ASGIHandler behind a chain of middleware",
        "middleware in the chain",
        "time per request (µs)",
    ),
    "versions": (
        plot_versions,
        svgplot.lines,
        "Each path as a multiple of a sync view via WSGI, by Django release",
        "Django release",
        f"ratio to a sync view via WSGI ({TIMES})",
    ),
    "versions-wsgi": (
        plot_versions_wsgi,
        svgplot.lines,
        "A trivial sync view via WSGIHandler, by Django release",
        "Django release",
        "time per request (µs)",
    ),
    "asgiref": (
        plot_asgiref,
        svgplot.bars,
        "The same Django on two asgiref releases",
        "time per request or call (µs)",
        "",
    ),
}


PLOTS.update(benchservers.PLOTS)


class BenchPlot(SphinxDirective):
    """An SVG chart from the data, rendered at build time; ``:alt:`` is required."""

    required_arguments = 1
    has_content = False
    option_spec = {"alt": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        if name not in PLOTS:
            raise self.error(
                f"unknown benchmark plot {name!r}: use one of {', '.join(PLOTS)}"
            )
        alt = " ".join(self.options.get("alt", "").split())
        if not alt:
            raise self.error(
                f"bench-plot {name}: the :alt: option is required"
                " (what the chart shows, in words)"
            )
        data = data_for(self.env)
        plot, render, title, x_label, y_label = PLOTS[name]
        try:
            categories, series = plot(data)
            chart = svgplot.Chart(title, alt, categories, series, x_label, y_label)
            svg = render(chart)
        except LookupError as exc:
            raise self.error(f"bench-plot {name}: {exc.args[0]}") from None
        container = nodes.container(classes=["bench-plot-figure"])
        container += nodes.raw("", svg, format="html")
        return [container]


class BenchEnvironment(SphinxDirective):
    has_content = False

    def run(self):
        data = data_for(self.env)
        run = data.data
        machine, software, settings = run["machine"], run["software"], run["settings"]
        items = [
            ("Date", f"{run['date']} ({run.get('mode', 'full')} run)"),
            (
                "Machine",
                f"{machine['cpu_model']}, {machine['cpu_count']} cores,"
                f" {format_memory(machine.get('memory_bytes'))} of memory",
            ),
            ("Kernel", machine.get("kernel", "unknown")),
            (
                "Software",
                f"{software.get('python_implementation', 'CPython')}"
                f" {software['python']}, Django {software['django']},"
                f" asgiref {software['asgiref']}",
            ),
            (
                "Repetitions",
                f"{settings['processes']} processes per case, each measuring"
                f" {settings['values']} values of about"
                f" {settings['value_seconds'] * 1000:.0f}{NBSP}ms after a"
                f" {settings['warmup_seconds'] * 1000:.0f}{NBSP}ms warm-up",
            ),
            ("Command", " ".join(run.get("command", []))),
            ("Results file", f"bench/results/{data.path.name}"),
        ]
        if "duration_seconds" in run:
            items.insert(6, ("Run time", f"{run['duration_seconds']:.0f}{NBSP}s"))
        fields = nodes.field_list(classes=["bench-environment"])
        for name, value in items:
            field = nodes.field()
            field += nodes.field_name(name, name)
            body = nodes.field_body()
            literal = name in ("Command", "Results file")
            body += nodes.paragraph(
                "", "", nodes.literal(text=value) if literal else nodes.Text(value)
            )
            field += body
            fields += field
        return [fields]


# Rebuilding the pages that show figures when a newer results file appears.


def note_document(env) -> None:
    if not hasattr(env, "benchdata_docs"):
        env.benchdata_docs = set()
    env.benchdata_docs.add(env.docname)


def on_env_get_outdated(app, env, added, changed, removed):
    current = str(_LOADED[str(app.srcdir)][0])
    previous = getattr(env, "benchdata_source", None)
    env.benchdata_source = current
    if previous is not None and previous != current:
        return sorted(getattr(env, "benchdata_docs", set()))
    return []


def on_env_purge_doc(app, env, docname):
    getattr(env, "benchdata_docs", set()).discard(docname)


def on_env_merge_info(app, env, docnames, other):
    if not hasattr(env, "benchdata_docs"):
        env.benchdata_docs = set()
    env.benchdata_docs |= getattr(other, "benchdata_docs", set())


def setup(app):
    app.add_config_value(
        "benchdata_results_glob", "bench/results/full-*.json", "env", types=[str]
    )
    app.add_config_value(
        "benchdata_page", "docs/performance/results", "env", types=[str]
    )
    app.add_config_value("benchdata_label", "bench-environment", "env", types=[str])
    app.connect("builder-inited", on_builder_inited)
    app.connect("env-get-outdated", on_env_get_outdated)
    app.connect("env-purge-doc", on_env_purge_doc)
    app.connect("env-merge-info", on_env_merge_info)
    app.add_role("bench", BenchRole())
    app.add_directive("bench-table", BenchTable)
    app.add_directive("bench-environment", BenchEnvironment)
    app.add_directive("bench-plot", BenchPlot)
    app.setup_extension("_ext.benchdecide")  # the decision guide's plots and role
    app.setup_extension("_ext.benchattribution")  # the attribution page's
    app.setup_extension("_ext.benchsteadiness")  # the methodology page's
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
