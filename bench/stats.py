"""Summaries of repeated measurements, and the figures derived from them."""

from __future__ import annotations

import statistics

from bench.cases import CASES, baseline, counterpart

# A figure whose coefficient of variation exceeds this is flagged as unstable,
# and says why in its unstable_reason.
CV_THRESHOLD = 0.03


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


def spread(runs: list[dict]) -> dict:
    """Where a figure's spread comes from: inside processes, or between them.

    ``within_cv`` is the median, over processes, of the coefficient of
    variation of one process's values; ``process_cv`` is the coefficient of
    variation of the processes' means. The pooled ``cv`` grows with either.
    """
    per_process = [run["values_us"] for run in runs if len(run["values_us"]) > 1]
    means = [statistics.fmean(run["values_us"]) for run in runs if run["values_us"]]
    out = {}
    if per_process:
        out["within_cv"] = statistics.median(
            summarize(values)["cv"] for values in per_process
        )
    if len(means) > 1:
        out["process_cv"] = summarize(means)["cv"]
    return out


# Why a flagged figure's values spread. Each flagged in-process figure of the
# runs before workers were pinned passed work to another thread (asgiref's
# executors); the sync views under WSGI, which do not, were not flagged. How
# long waking that thread takes depends on the core it runs on and on what
# else runs there (tests/bench/test_harness.py times a hop on either core).
HAND_OFF = (
    "each request hands work to another thread, and how long waking it takes"
    " depends on the core it runs on and what else runs there"
)
SERVICE = "each request waits for another process (a database or cache server)"
UNEXPLAINED = "spread with no hand-off named; compare a rerun on a quiet machine"


# A value whose share of its core (bench.portable.core_share) is this much
# below the case's best value's lost that time to another process. Relative to
# the case's best, because a case that starts threads idles a little on its
# own in every value.
SHARE_DIP = 0.03


def interference(case: dict) -> str | None:
    """What another process took from the core, if any value lost time to it."""
    shares = [share for run in case["runs"] for share in run.get("core_share", [])]
    if not shares:
        return None
    best = max(shares)
    hit = [share for share in shares if share < best - SHARE_DIP]
    if not hit:
        return None
    return (
        f"another process took the core: {len(hit)} of {len(shares)} values got"
        f" {min(hit):.1%} of it at the least, against {best:.1%} for the best"
    )


def one_process_apart(case: dict) -> str | None:
    """The process whose mean stands apart, if the others agree without it.

    On a shared machine a whole process now and then runs slower (or faster)
    than the rest from its first value to its last, with its core to itself
    by ``core_share``: something outside the process, not the case's own
    mechanism. Named only when leaving that one process out brings the
    figure's coefficient of variation within the threshold.
    """
    runs = [run["values_us"] for run in case["runs"] if run["values_us"]]
    if len(runs) < 3:
        return None
    left_out = []
    for index in range(len(runs)):
        rest = [value for other in runs[:index] + runs[index + 1 :] for value in other]
        left_out.append((summarize(rest)["cv"], index))
    cv, index = min(left_out)
    if cv > CV_THRESHOLD:
        return None
    means = [statistics.fmean(values) for values in runs]
    apart = means[index] / statistics.median(means[:index] + means[index + 1 :]) - 1
    return (
        f"one process of {len(runs)} stands apart, its mean {apart:+.1%} from the"
        f" others' median; without it the coefficient of variation is {cv:.1%}"
    )


def process_cvs(case: dict) -> list[float] | None:
    """Each process's own coefficient of variation, in order; None unless the
    case has two processes or more and each has two values or more."""
    runs = [run["values_us"] for run in case["runs"]]
    if len(runs) < 2 or any(len(values) < 2 for values in runs):
        return None
    return [summarize(values)["cv"] for values in runs]


def processes_apart(case: dict) -> str | None:
    """Processes, each steady on its own, whose means differ.

    The same thing as :func:`one_process_apart` where no majority says which
    process is the odd one: two processes, or more that all sit apart.
    Named only when each process's own values stay within the threshold.
    """
    own_cvs = process_cvs(case)
    if own_cvs is None:
        return None
    own = max(own_cvs)
    if own > CV_THRESHOLD:
        return None
    means = [statistics.fmean(run["values_us"]) for run in case["runs"]]
    return (
        f"the {len(means)} processes disagree: each is steady on its own (CV"
        f" {own:.1%} at most), and their means are {max(means) / min(means) - 1:.1%}"
        " apart"
    )


def one_process_moves(case: dict) -> str | None:
    """The one process whose values spread, if every other is steady.

    The case runs the same code in each process, so spread that its own
    mechanism causes shows in every one of them. When all but one process
    stay within the threshold, the spread came from something outside that
    one process while it ran: its values drift, or one of them jumps, and
    neither the offset nor the outlier rule can name it because that process
    also sits apart from the rest.
    """
    own = process_cvs(case)
    if own is None:
        return None
    moving = [index for index, cv in enumerate(own) if cv > CV_THRESHOLD]
    if len(moving) != 1:
        return None
    steady = max(cv for index, cv in enumerate(own) if index != moving[0])
    return (
        f"one process of {len(own)} moves on its own (CV {own[moving[0]]:.1%})"
        f" while the others are steady (CV {steady:.1%} at most)"
    )


# A value further than this many robust standard deviations (1.4826 times the
# median absolute deviation) from the figure's median is an outlier.
OUTLIER_MADS = 3.0


def values_apart(case: dict) -> str | None:
    """The outlying values, if the rest agree within the threshold without them.

    A burst of load from outside the process (another virtual machine on the
    same host, say) slows a value or two and leaves the rest alone.
    """
    values = [value for run in case["runs"] for value in run["values_us"]]
    if len(values) < 5:
        return None
    middle = statistics.median(values)
    bound = OUTLIER_MADS * 1.4826 * statistics.median(abs(v - middle) for v in values)
    apart, rest = [], []
    for value in values:
        (apart if abs(value - middle) > bound else rest).append(value)
    if not apart or len(rest) < 2:
        return None
    cv = summarize(rest)["cv"]
    if cv > CV_THRESHOLD:
        return None
    furthest = max(apart, key=lambda value: abs(value - middle)) / middle - 1
    return (
        f"{len(apart)} of {len(values)} values stand apart, up to {furthest:+.0%}"
        f" from the median; without them the coefficient of variation is {cv:.1%}"
    )


def hop_count(counted: dict) -> int:
    """The hops in a count of ``snippets.internals.hops.count_hops``: the
    ``params["hops"]`` a suite gives a case for :func:`reason` to read."""
    return counted["sync_to_async"] + counted["async_to_sync"]


def reason(case: dict, pinned: bool = False) -> str:
    """Why a flagged case spreads: what was measured, else what it runs.

    In that order: values that lost their core to another process, one
    process whose mean stands apart (or processes that all disagree), a few
    values that stand apart, one process that spreads while the others are
    steady, then what the case's requests do.

    ``pinned``: the workers ran on one core, so their CPU time over wall time
    measures what other processes took (without pinning, a thread waiting
    for another core lowers it too).
    """
    if pinned and "runs" in case:
        found = interference(case)
        if found:
            return found
    if "runs" in case:
        found = (
            one_process_apart(case)
            or processes_apart(case)
            or values_apart(case)
            or one_process_moves(case)
        )
        if found:
            return found
    params = case.get("params", {})
    path = params.get("path", "")
    if (
        params.get("bridge")
        or params.get("hops")  # counted by the suite: hops per call
        or params.get("handler") == "asgi"
        or (params.get("handler") == "wsgi" and params.get("view") == "async")
        or path.startswith("asgi-")
        or path == "wsgi-async"
    ):
        return HAND_OFF
    # "native" is guide-data's django-async-backend, on PostgreSQL too; a cache
    # case names its backend.
    database, backend = params.get("database"), params.get("backend", "")
    if database in ("postgresql", "native", "redis") or backend.startswith("redis"):
        return SERVICE
    return UNEXPLAINED


def add_summaries(groups: dict, pinned: bool = False) -> int:
    """Fill in each case's stats, flags and derived figures; count the flags.

    ``groups`` is the JSON's ``groups`` mapping, with each case's ``runs``;
    ``pinned`` says whether the workers ran on one core (see :func:`reason`).
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
            case["stats"].update(spread(case["runs"]))
            case["unstable"] = case["stats"]["cv"] > CV_THRESHOLD
            if case["unstable"]:
                case["unstable_reason"] = reason(case, pinned)
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
