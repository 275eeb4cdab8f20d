"""How steady a run's figures are, and how long each suite took, from its data.

````md
```{bench-steadiness}
```

```{bench-steadiness} flagged
```

```{bench-suite-times}
```
````

``bench-steadiness`` renders one row per group of figures that have a
coefficient of variation: how many, the median, and how many are above 3 %
and 5 %. With the argument ``flagged`` it lists each in-process figure above
the run's threshold with the reason the harness recorded
(``unstable_reason``, :func:`bench.stats.reason`). ``bench-suite-times``
renders the run's ``suite_seconds``: how long the in-process cases and each
suite took. A run that predates these records renders a sentence saying so.
"""

from __future__ import annotations

import statistics

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from _ext import benchdata

NBSP = "\u00a0"


def in_process(case: dict) -> bool:
    """Measured by the harness's own workers, not by a suite against a server."""
    return "runs" in case


def figures_with_cv(group: dict) -> list[tuple[str, dict]]:
    return [
        (name, case)
        for name, case in group["cases"].items()
        if isinstance(case.get("stats"), dict) and case["stats"].get("cv") is not None
    ]


def percent(value: float) -> str:
    return f"{value * 100:.1f}{NBSP}%"


def steadiness_rows(data: dict) -> list[list[str]]:
    rows = []
    for name, group in data["groups"].items():
        found = figures_with_cv(group)
        if not found:
            continue
        cvs = [case["stats"]["cv"] for _, case in found]
        kind = "in process" if all(in_process(c) for _, c in found) else "suite"
        rows.append(
            [
                name,
                kind,
                str(len(cvs)),
                percent(statistics.median(cvs)),
                str(sum(cv > 0.03 for cv in cvs)),
                str(sum(cv > 0.05 for cv in cvs)),
            ]
        )
    return rows


def flagged_rows(data: dict) -> list[list[str]]:
    rows = []
    for group_name, group in data["groups"].items():
        for name, case in figures_with_cv(group):
            if in_process(case) and case.get("unstable"):
                reason = case.get("unstable_reason", "no reason recorded")
                rows.append(
                    [f"{group_name}/{name}", percent(case["stats"]["cv"]), reason]
                )
    return rows


def text_rows(rows: list[list[str]]) -> list[list[list[nodes.Node]]]:
    return [[[nodes.Text(cell)] for cell in row] for row in rows]


class BenchSteadiness(SphinxDirective):
    optional_arguments = 1
    has_content = False

    def run(self):
        data = benchdata.data_for(self.env)
        which = self.arguments[0] if self.arguments else "groups"
        if which == "groups":
            header = ["Group", "Measured", "Figures", "Median CV", "Above 3 %"]
            header.append("Above 5 %")
            rows = steadiness_rows(data.data)
            title = "The coefficient of variation of each group's figures"
        elif which == "flagged":
            header = ["Figure", "CV", "Why, as the harness recorded it"]
            rows = flagged_rows(data.data)
            title = "Each in-process figure above the threshold"
            if not rows:
                text = "No in-process figure of this run is above the threshold."
                return [nodes.paragraph("", text)]
        else:
            raise self.error(f"use no argument or 'flagged', not {which!r}")
        return [benchdata.build_table(title, header, text_rows(rows))]


class BenchSuiteTimes(SphinxDirective):
    has_content = False

    def run(self):
        data = benchdata.data_for(self.env)
        times = data.data.get("suite_seconds")
        if not times:
            text = "This run predates the harness recording each suite's time."
            return [nodes.paragraph("", text)]
        rows = [[name, f"{seconds:.0f}{NBSP}s"] for name, seconds in times.items()]
        rows.append(["all of it", f"{data.data['duration_seconds']:.0f}{NBSP}s"])
        title = "How long each part of the run took"
        return [benchdata.build_table(title, ["Part", "Time"], text_rows(rows))]


def setup(app):
    app.add_directive("bench-steadiness", BenchSteadiness)
    app.add_directive("bench-suite-times", BenchSuiteTimes)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
