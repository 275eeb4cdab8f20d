"""Summaries of repeated measurements, and the figures derived from them."""

from __future__ import annotations

import statistics

from bench.cases import CASES, baseline, counterpart

# A figure whose coefficient of variation exceeds this is flagged as unstable.
CV_THRESHOLD = 0.05


def summarize(values: list[float]) -> dict:
    """Mean, median, standard deviation and coefficient of variation."""
    if not values:
        raise ValueError("no values to summarize")
    mean = statistics.fmean(values)
    stdev = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "n": len(values),
        "mean": mean,
        "median": statistics.median(values),
        "stdev": stdev,
        "cv": stdev / mean if mean else 0.0,
        "min": min(values),
        "max": max(values),
    }


def add_summaries(groups: dict) -> int:
    """Fill in each case's stats, flags and derived figures; count the flags.

    ``groups`` is the JSON's ``groups`` mapping, with each case's ``runs``.
    """
    flagged = 0
    for group, data in groups.items():
        cases = data["cases"]
        for case in cases.values():
            if "runs" not in case:  # a suite's case that carries its own stats
                flagged += bool(case.get("unstable"))
                continue
            values = [value for run in case["runs"] for value in run["values_us"]]
            case["stats"] = summarize(values)
            case["unstable"] = case["stats"]["cv"] > CV_THRESHOLD
            flagged += case["unstable"]
        for name, case in cases.items():
            definition = CASES.get(f"{group}/{name}")
            if definition is None:  # a suite's case names its own baseline
                base, other = case.get("baseline"), None
            else:
                base, other = baseline(definition), counterpart(definition)
            if base in cases and "stats" in cases[base]:
                case["ratio"] = _derived(case, cases[base], "ratio", base)
            if other in cases:
                case["extra_us"] = _derived(case, cases[other], "difference", other)
    return flagged


def _derived(case: dict, other: dict, how: str, other_name: str) -> dict:
    mine, theirs = case["stats"]["mean"], other["stats"]["mean"]
    value = mine / theirs if how == "ratio" else mine - theirs
    return {
        "value": value,
        "of": other_name,
        "unstable": case["unstable"] or other["unstable"],
    }
