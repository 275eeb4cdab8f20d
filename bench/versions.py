"""The ``versions`` and ``asgiref`` suites: the request paths on other releases.

``versions`` runs the four request paths with a trivial view on every Django
feature release from 2.2 to 6.1, each in a virtual environment of its own
under ``.venv/bench/`` (created on first use, reused after), in two series:

- series A, on Python 3.9 (or 3.8), Django 2.2 to 4.2;
- series B, on Python 3.12 (or 3.13), Django 4.2 to 6.1.

4.2 runs in both, which joins them: figures are given as a ratio to a sync view
via WSGI measured by the same process, which the Python version moves far less
than absolute times, and the results record ``join``, the factor from series A's
absolute times to series B's, measured on 4.2.

``asgiref`` runs the four paths and the bridges on Django 6.1 with the oldest
asgiref that Django 6.1 accepts (read from Django's own metadata) and with the
newest, and counts the threads that requests and hops start.

Both run :mod:`bench.portable` as a script inside those environments. The
Pythons come from ``--python X.Y=PATH`` or are discovered (``pyenv root``,
then ``pythonX.Y`` on ``PATH``), each one run once to check that it works.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from uv import find_uv_bin

from bench.cli import ROOT, BenchError, Progress, Workers

# The newest patch release of each feature release, checked on PyPI on
# 2026-11-25 (`pip index versions django`).
DJANGO = {
    "2.2": "2.2.28",
    "3.0": "3.0.14",
    "3.1": "3.1.14",
    "3.2": "3.2.25",
    "4.0": "4.0.10",
    "4.1": "4.1.13",
    "4.2": "4.2.30",
    "5.0": "5.0.14",
    "5.1": "5.1.15",
    "5.2": "5.2.19",
    "6.0": "6.0.10",
    "6.1": "6.1.3",
}
# A series: the Pythons it accepts, in order of preference, and its releases.
SERIES = {
    "A": (("3.9", "3.8"), ("2.2", "3.0", "3.1", "3.2", "4.0", "4.1", "4.2")),
    "B": (("3.12", "3.13"), ("4.2", "5.0", "5.1", "5.2", "6.0", "6.1")),
}
JOIN = "4.2"  # the release both series run
# The newest asgiref on PyPI on 2026-11-25; the oldest is Django 6.1's bound.
ASGIREF_NEWEST = "3.13.0"
ASGIREF_DJANGO = "6.1"
ASGIREF_SERIES = "B"

PATH_LABELS = {
    "wsgi-sync": "sync view via WSGIHandler",
    "wsgi-async": "async view via WSGIHandler",
    "asgi-sync": "sync view via ASGIHandler",
    "asgi-async": "async view via ASGIHandler",
}
# Which paths a release has: 2.2 WSGI only, 3.0 adds ASGIHandler, 3.1 async views.
FIRST = {"wsgi-sync": (2, 2), "asgi-sync": (3, 0), "wsgi-async": (3, 1)}
FIRST["asgi-async"] = (3, 1)
BRIDGE_LABELS = {
    "sync-to-async-sensitive": "sync_to_async, thread-sensitive",
    "sync-to-async-sensitive-new-context": "sync_to_async, first hop in a new context",
    "sync-to-async-insensitive": "sync_to_async, thread_sensitive=False",
    "async-to-sync": "async_to_sync",
}
# Two processes per environment: each one times every path, so one more costs
# about 2 s per environment. Recomputed from a run of three, the figures' CVs
# from two processes had the same median (1.1-1.3%).
PROFILES = {
    "full": {
        "processes": 2,
        "values": 4,
        "value_seconds": 0.05,
        "warmup_seconds": 0.1,
        "count_threads": 100,
    },
    "quick": {
        "processes": 1,
        "values": 2,
        "value_seconds": 0.01,
        "warmup_seconds": 0.02,
        "count_threads": 10,
    },
}
# BENCH_VENVS moves them, e.g. to time a first run without losing the cache.
VENVS = Path(os.environ.get("BENCH_VENVS") or ROOT / ".venv" / "bench")
PORTABLE = Path(__file__).resolve().parent / "portable.py"
# uv, not pip, creates the environments and installs into them: from an empty
# cache, the 13 versions environments and asgiref's newest took 16.6 s with uv
# against 33 s with pip (four at a time, 2026-12-05), which resolve the same
# packages; and listing one environment takes 0.02 s against pip's 0.7 s.
# --compile-bytecode, as pip does: each worker process would otherwise compile
# Django again where PYTHONDONTWRITEBYTECODE is set.
UV = find_uv_bin()
INSTALL_TIMEOUT = 600
PROBE_TIMEOUT = 20


def key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def paths_of(release: str) -> list[str]:
    return [path for path, first in FIRST.items() if key(release) >= first]


# Finding Pythons.


def probe(path: str) -> str | None:
    """``X.Y`` of the Python at ``path`` if it runs, else None."""
    try:
        result = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and re.fullmatch(r"\d+\.\d+", text) else None


def candidates(wanted: str) -> list[str]:
    """Where a Python ``wanted`` may be: pyenv's installs, then ``pythonX.Y``."""
    found = []
    try:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, timeout=PROBE_TIMEOUT
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = ""
    if root:
        pattern = os.path.join(root, "versions", f"{wanted}.*", "bin", "python3")
        found += sorted(glob.glob(pattern), key=_patch_level, reverse=True)
    on_path = shutil.which(f"python{wanted}")
    if on_path:
        found.append(on_path)
    return found


def _patch_level(path: str) -> tuple[int, ...]:
    match = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)/", path)
    return tuple(map(int, match.groups())) if match else (0,)


def find_pythons(wanted: list[str], given: list[tuple[str, str]]) -> dict[str, str]:
    """``{X.Y: path}`` for each wanted version that runs here.

    ``given`` (from ``--python``) comes first and must work: a given path that
    does not run, or runs another version, is an error, not a skip.
    """
    found: dict[str, str] = {}
    for version, path in given:
        actual = probe(path)
        if actual is None:
            raise BenchError(f"--python {version}={path}: it does not run")
        if actual != version:
            raise BenchError(f"--python {version}={path}: it is Python {actual}")
        found[version] = path
    for version in wanted:
        if version in found:
            continue
        for path in candidates(version):
            if probe(path) == version:
                found[version] = path
                break
    return found


# Virtual environments.


def environment(python: str, version: str, packages: dict[str, str]) -> Path:
    """A cached venv for ``packages`` on Python ``version``; created if missing."""
    name = "-".join(f"{n}-{v}" for n, v in packages.items()) + f"-py{version}"
    venv = VENVS / name
    marker = venv / ".installed"
    if marker.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    pins = [f"{n}=={v}" for n, v in packages.items()]
    steps = [
        [UV, "venv", "--quiet", "--python", python, str(venv)],
        [*uv_pip("install", venv), "--compile-bytecode", *pins],
    ]
    for command in steps:
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            lines = [] if result is None else result.stderr.strip().splitlines()
            detail = lines[-1].strip() if lines else "timed out"
            raise BenchError(f"cannot create {venv.name}: {detail}")
    marker.write_text(" ".join(pins) + "\n")
    return venv


# Creating an environment is mostly the installer waiting on files: with pip,
# the versions suite's 13 took 38 s one after another and 22 s four at a time.
# Nothing is measured while they are created.
ENVIRONMENTS_AT_ONCE = 4


def environments(wanted: list[tuple[str, str, dict[str, str]]]) -> list[Path]:
    """:func:`environment` for each ``(python, version, packages)``, at once.

    The first failure is raised, once the others have finished.
    """
    with ThreadPoolExecutor(ENVIRONMENTS_AT_ONCE) as pool:
        return list(pool.map(lambda args: environment(*args), wanted))


def uv_pip(command: str, venv: Path) -> list[str]:
    return [UV, "pip", command, "--quiet", "--python", str(venv / "bin" / "python")]


def installed(venv: Path) -> dict[str, str]:
    """What uv installed in ``venv``, as ``{name: version}``."""
    result = subprocess.run(
        [*uv_pip("list", venv), "--format=json"],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT * 3,
    )
    if result.returncode != 0:
        return {}
    skip = {"pip", "setuptools", "wheel"}
    return {
        item["name"].lower(): item["version"]
        for item in json.loads(result.stdout)
        if item["name"].lower() not in skip
    }


def asgiref_bound(venv: Path) -> str:
    """The oldest asgiref the Django in ``venv`` accepts, from its metadata."""
    code = "from importlib.metadata import requires; print(requires('django'))"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
    )
    return parse_bound(result.stdout)


def parse_bound(requires: str) -> str:
    match = re.search(r"asgiref\s*(?:\([^)]*)?>=\s*([0-9][0-9.]*)", requires)
    if not match:
        raise BenchError(f"no asgiref lower bound in Django's metadata: {requires!r}")
    return match.group(1).rstrip(".")


# Running.


def profile(settings: dict) -> dict:
    chosen = dict(PROFILES[settings.get("mode", "full")])
    for name in settings.get("explicit", []):
        chosen[name] = settings[name]
    chosen["pin"] = settings.get("pin", False)  # as the in-process cases
    return chosen


def portable_command(venv: Path, timing: dict, paths, bridges=()) -> list[str]:
    # -I: isolated, so that bench/ (the script's directory) is not on sys.path.
    command = [str(venv / "bin" / "python"), "-I", str(PORTABLE)]
    if paths:
        command += ["--paths", *paths]
    if bridges:
        command += ["--bridges", *bridges]
    for name in ("values", "value_seconds", "warmup_seconds", "count_threads"):
        command += [f"--{name.replace('_', '-')}", str(timing[name])]
    return command


def plan_versions(
    requested: list[str] | None, mode: str, pythons: dict[str, str]
) -> tuple[list[dict], list[dict]]:
    """The (series, release) runs to make, and what is skipped and why."""
    if requested:
        unknown = [name for name in requested if name not in DJANGO]
        if unknown:
            raise BenchError(
                f"unknown Django version {unknown[0]!r} (known: {', '.join(DJANGO)})"
            )
    runs, skipped = [], []
    for series, (wanted, releases) in SERIES.items():
        python = next((v for v in wanted if v in pythons), None)
        if python is None:
            skipped.append(
                {
                    "what": f"series {series} (Django {releases[0]} to {releases[-1]})",
                    "why": f"no working Python {' or '.join(wanted)} found;"
                    " give one with --python X.Y=PATH",
                }
            )
            continue
        for release in releases:
            runs.append({"series": series, "python": python, "release": release})
    if requested:
        runs = [run for run in runs if run["release"] in requested]
    elif mode == "quick":
        # A smoke run: the oldest release that runs here, and the newest.
        runs = [runs[0], runs[-1]] if len(runs) > 1 else runs
    return runs, skipped


def case_name(run: dict, path: str) -> str:
    return f"django-{run['release']}-py{run['python']}-{path}"


def run_versions(settings: dict, progress: Progress) -> dict:
    options = settings.get("options", {})
    mode = settings.get("mode", "full")
    timing = profile(settings)
    wanted = sorted({v for wanted, _ in SERIES.values() for v in wanted}, key=key)
    pythons = find_pythons(wanted, options.get("pythons") or [])
    plan, skipped = plan_versions(options.get("django_versions"), mode, pythons)
    chosen = {
        series: next((v for v in accepted if v in pythons), None)
        for series, (accepted, _) in SERIES.items()
    }
    for item in skipped:
        progress.note(f"versions: skipped {item['what']}: {item['why']}")
    progress.add(len(plan) * (timing["processes"] + 1))
    progress.show(f"versions: {len(plan)} environments")
    wanted = [
        (pythons[run["python"]], run["python"], {"django": DJANGO[run["release"]]})
        for run in plan
    ]
    for run, venv in zip(plan, environments(wanted), strict=True):
        run["venv"] = venv
        run["installed"] = installed(venv)
        progress.step(f"versions: Django {run['release']} on Python {run['python']}")
    records = measure(plan, timing, progress, "versions")
    cases = {}
    for run in plan:
        base = case_name(run, "wsgi-sync")
        for path in paths_of(run["release"]):
            cases[case_name(run, path)] = case_entry(
                f"Django {run['release']}, Python {run['python']}: {PATH_LABELS[path]}",
                {
                    "django": run["release"],
                    "python": run["python"],
                    "series": run["series"],
                    "path": path,
                },
                [
                    rec["paths"][path] | {"process": rec["process"]}
                    for rec in records[id(run)]
                ],
                base,
            )
    return {
        "versions": {
            "title": "Across Django versions: the request paths with a trivial view",
            "cases": cases,
            "series": [
                {
                    "name": series,
                    "python": chosen.get(series),
                    "python_path": pythons.get(chosen.get(series, "")),
                    "releases": list(releases),
                }
                for series, (_, releases) in SERIES.items()
            ],
            "join": {
                "release": JOIN,
                "path": "wsgi-sync",
                "factor": join_factor(plan, records),
                "how": "ratios to wsgi-sync within each release and process;"
                " factor = series B's wsgi-sync mean / series A's, on this release",
            },
            "environments": {
                f"django-{run['release']}-py{run['python']}": {
                    "python": records[id(run)][0]["python"],
                    "packages": run["installed"],
                }
                for run in plan
            },
            "settings": {k: v for k, v in timing.items()},
            "skipped": skipped,
        }
    }


def run_asgiref(settings: dict, progress: Progress) -> dict:
    options = settings.get("options", {})
    timing = profile(settings)
    wanted, _ = SERIES[ASGIREF_SERIES]
    pythons = find_pythons(list(wanted), options.get("pythons") or [])
    python = next((v for v in wanted if v in pythons), None)
    group = {
        "title": f"Across asgiref releases, on Django {ASGIREF_DJANGO}",
        "cases": {},
        "settings": dict(timing),
        "skipped": [],
    }
    if python is None:
        why = f"no working Python {' or '.join(wanted)} found"
        progress.note(f"asgiref: skipped: {why}")
        group["skipped"].append({"what": "asgiref releases", "why": why})
        return {"asgiref": group}
    django = DJANGO[ASGIREF_DJANGO]
    progress.add(2 + 2 * timing["processes"])
    progress.show(f"asgiref: environment for asgiref {ASGIREF_NEWEST}")
    newest = environment(
        pythons[python], python, {"django": django, "asgiref": ASGIREF_NEWEST}
    )
    progress.step(f"asgiref: asgiref {ASGIREF_NEWEST} ready")
    oldest_version = asgiref_bound(newest)
    oldest = environment(
        pythons[python], python, {"django": django, "asgiref": oldest_version}
    )
    progress.step(f"asgiref: asgiref {oldest_version} ready (Django's bound)")
    plan = [
        {"asgiref": oldest_version, "venv": oldest, "role": "oldest"},
        {"asgiref": ASGIREF_NEWEST, "venv": newest, "role": "newest"},
    ]
    records = measure(plan, timing, progress, "asgiref", bridges=list(BRIDGE_LABELS))
    items = [("paths", path, label) for path, label in PATH_LABELS.items()]
    items += [("bridges", bridge, label) for bridge, label in BRIDGE_LABELS.items()]
    for run in plan:
        prefix = f"asgiref-{run['asgiref']}"
        for kind, what, label in items:
            params = {"asgiref": run["asgiref"], "role": run["role"]}
            params["path" if kind == "paths" else "bridge"] = what
            group["cases"][f"{prefix}-{what}"] = case_entry(
                f"asgiref {run['asgiref']}: {label}",
                params,
                [r[kind][what] | {"process": r["process"]} for r in records[id(run)]],
                f"{prefix}-wsgi-sync" if kind == "paths" else None,
            )
    group["django"] = django
    group["python"] = python
    group["asgiref_bound"] = {
        "oldest": oldest_version,
        "newest": ASGIREF_NEWEST,
        "source": f"importlib.metadata.requires('django') for Django {django}",
    }
    group["environments"] = {
        run["asgiref"]: {
            "python": records[id(run)][0]["python"],
            "packages": installed(run["venv"]),
        }
        for run in plan
    }
    return {"asgiref": group}


def measure(plan, timing, progress, suite, bridges=()) -> dict:
    """Run the portable worker for each item of ``plan``, processes interleaved."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    workers = Workers(env, pin=timing.get("pin", False))
    records: dict[int, list] = {id(run): [] for run in plan}
    try:
        for process in range(timing["processes"]):
            for run in plan:
                paths = paths_of(run.get("release", ASGIREF_DJANGO))
                command = portable_command(run["venv"], timing, paths, bridges)
                what = f"{suite}: {run['venv'].name}"
                record = json.loads(workers.run([], what, command=command))
                record["process"] = process
                records[id(run)].append(record)
                progress.step(f"{what} (process {process + 1}/{timing['processes']})")
    finally:
        workers.stop()
    return records


def join_factor(plan: list[dict], records: dict) -> float | None:
    """Series B's sync-via-WSGI mean over series A's, on the release both run."""
    means = {}
    for run in plan:
        if run["release"] == JOIN:
            values = [
                value
                for record in records[id(run)]
                for value in record["paths"]["wsgi-sync"]["values_us"]
            ]
            means[run["series"]] = statistics.fmean(values)
    if len(means) < 2:
        return None
    return means["B"] / means["A"]


def case_entry(label, params, runs, baseline) -> dict:
    entry = {"label": label, "params": params, "unit": "us", "runs": runs}
    if baseline:
        entry["baseline"] = baseline
    threads = [run["threads"]["per_request"] for run in runs if "threads" in run]
    if threads:
        entry["threads_per_request"] = max(threads)
    return entry


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it through `python -m bench run --only versions asgiref`")
