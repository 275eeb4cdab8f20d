"""``python -m bench run``: run the cases in worker processes and write JSON.

Each case is measured by ``--processes`` fresh worker processes (see
:mod:`bench.worker`), interleaved: every case's first process, then every
case's second, and so on, so that a slow moment on the machine spreads over
all cases instead of landing on one. Progress goes to stderr; a summary, with
every figure whose coefficient of variation is above 5% flagged, goes to
stdout; the results, every value of every process included, go to the JSON
file.

Suites (Django versions, asgiref releases, real servers) run after the cases,
each in its own way; :mod:`bench.cases` says how one registers.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import environment, stats
from bench.cases import GROUPS, SUITES, Case, select_all

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_VERSION = 1
# The in-process cases take about 70 s of a full run (suite_seconds in the
# results has each part's time), a good part of it starting processes: a
# worker spends about 0.45 s importing and setting up Django before its first
# value. Three processes of four values, down from five of five, to keep the
# whole run under ten minutes. In a full run of five by five (2026-12-05),
# these cases' CVs recomputed from the first three processes' first four
# values had a median of 2.0% (2.8% from all) and 7 of 21 above 3% (10 from
# all). The spread did not grow; fewer processes only catch fewer of the slow
# ones a shared host makes now and then, and the flag names those it catches.
PROFILES = {
    "full": {
        "processes": 3,
        "values": 4,
        "value_seconds": 0.1,
        "warmup_seconds": 0.2,
        "pin": True,
    },
    "quick": {
        "processes": 2,
        "values": 2,
        "value_seconds": 0.02,
        "warmup_seconds": 0.05,
        "pin": True,
    },
}
# A worker that has not finished after this long is stuck, not slow.
WORKER_TIMEOUT_SECONDS = 120


class BenchError(Exception):
    """A failure reported as one line on stderr, with exit status 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block: the options are in --help.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 60, got {text}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{run,restat}"
    )
    run = commands.add_parser(
        "run",
        help="measure and write the results as JSON",
        description="Measure the cases and write the results as JSON.",
    )
    run.error = parser.error  # one-line errors here too
    run.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: fewer processes and shorter values (under a minute)",
    )
    run.add_argument(
        "--only",
        nargs="+",
        metavar="GROUP",
        help=f"groups ({', '.join(GROUPS)}), suites ({', '.join(SUITES)})"
        " or single cases (bridges/async-to-sync)",
    )
    run.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="where to write the JSON (default: bench/results/full-<UTC time>.json,"
        " or _build/bench/quick.json with --quick)",
    )
    run.add_argument("--processes", type=count, help="worker processes per case")
    run.add_argument("--values", type=count, help="values measured by each process")
    run.add_argument(
        "--value-seconds", type=seconds, help="about how long one value takes"
    )
    run.add_argument("--warmup-seconds", type=seconds, help="warm-up of each process")
    run.add_argument(
        "--no-pin",
        dest="pin",
        action="store_const",
        const=False,
        help="let in-process workers use every core (default: each on one core)",
    )
    run.add_argument(
        "--django-versions",
        nargs="+",
        metavar="X.Y",
        help="versions suite: the Django feature releases to run (default: all)",
    )
    run.add_argument(
        "--python",
        action="append",
        type=python_option,
        default=[],
        metavar="X.Y=PATH",
        help="versions and asgiref suites: the interpreter to use for Python X.Y"
        " (default: discovered from pyenv and PATH); repeatable",
    )
    restat = commands.add_parser(
        "restat",
        help="recompute a results file's summaries and reasons from its values",
        description="Recompute every figure's statistics, flags and unstable"
        " reasons from the values a results file holds, with this checkout's"
        " bench/stats.py, and write them back. The values stay as measured.",
    )
    restat.error = parser.error
    restat.add_argument("file", type=Path, metavar="FILE", help="a results file")
    return parser


def python_option(text: str) -> tuple[str, str]:
    version, sep, path = text.partition("=")
    parts = version.split(".")
    if not sep or not path or len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected X.Y=PATH, got {text!r}")
    return version, path


def default_output(mode: str, started: datetime) -> Path:
    if mode == "quick":
        return ROOT / "_build" / "bench" / "quick.json"
    return ROOT / "bench" / "results" / f"full-{started:%Y%m%dT%H%M%SZ}.json"


def check_writable(path: Path) -> None:
    """Fail before a long run, not after it, if the results cannot be written."""
    if path.is_dir():
        raise BenchError(f"cannot write {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise BenchError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise BenchError(f"cannot write {path}: permission denied")


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the worker gets SIGKILL if the harness dies, however it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def one_cpu() -> int | None:
    """The core a pinned worker runs on: the last one this process may use.

    None where affinity cannot be set (not Linux) or only one core is allowed.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[-1] if len(allowed) > 1 else None


class Workers:
    """Starts one worker at a time and makes sure none outlives the harness.

    ``pin=True`` keeps each worker, and every thread it starts, on one core.
    A thread that asgiref wakes on another core costs more per hop than one
    on the same core (how much more depends on the processor: 1.3 to 1.7
    times on the Intel Xeon of 2026-12-05, several times on an AMD EPYC
    before it), and which core the scheduler picks
    depends on what else the machine runs; on one core every hop is the same
    kind of switch. Suites whose workers measure threads running side by side
    (an executor's throughput, a server) leave it off.
    """

    def __init__(self, env: dict, pin: bool = False):
        self.env = env
        self.cpu = one_cpu() if pin else None
        self.current: subprocess.Popen | None = None

    def _preexec(self) -> None:  # pragma: no cover - runs in the child
        die_with_parent()
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})

    def run(self, args: list[str], what: str, command: list[str] | None = None) -> str:
        """Run ``bench.worker`` with ``args`` (or ``command``); return its stdout."""
        command = command or [sys.executable, "-m", "bench.worker", *args]
        preexec = self._preexec if sys.platform == "linux" else None
        self.current = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,  # safe: the harness has one thread
        )
        try:
            out, err = self.current.communicate(timeout=WORKER_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(
                f"{what}: worker did not finish in {WORKER_TIMEOUT_SECONDS} s"
            ) from None
        finally:
            if self.current is not None and self.current.poll() is None:
                self.stop()
        code, self.current = self.current.returncode, None
        if code != 0:
            lines = [line for line in err.splitlines() if line.strip()]
            detail = lines[-1] if lines else f"exit status {code}"
            raise BenchError(f"{what}: worker failed: {detail}")
        return out

    def stop(self) -> None:
        process = self.current
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        self.current = None


class Progress:
    """One line per worker on stderr; rewritten in place on a terminal."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.started = time.monotonic()

    def show(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        eta = ""
        if self.done:
            eta = f", about {elapsed / self.done * (self.total - self.done):.0f} s left"
        line = f"[{self.done:>3}/{self.total}] {elapsed:5.0f} s{eta}  {text}"
        if self.tty:
            self.stream.write(
                f"\r\033[K{line[: shutil.get_terminal_size().columns - 1]}"
            )
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def add(self, steps: int) -> None:
        """A suite announces the steps it will take."""
        self.total += steps

    def note(self, text: str) -> None:
        """A line that stays on screen, between the progress lines."""
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.stream.flush()

    def step(self, text: str) -> None:
        self.done += 1
        self.show(text)

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args: argparse.Namespace, argv: list[str]) -> int:
    mode = "quick" if args.quick else "full"
    settings = dict(PROFILES[mode])
    for name in settings:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    try:
        cases, suites = select_all(args.only)
    except KeyError as exc:
        raise BenchError(
            f"unknown group or case {exc.args[0]!r} (groups: {', '.join(GROUPS)};"
            f" suites: {', '.join(SUITES)})"
        ) from None
    suite_settings = {
        **settings,
        "mode": mode,
        "explicit": [name for name in settings if getattr(args, name) is not None],
        "options": {"django_versions": args.django_versions, "pythons": args.python},
    }
    runners = [(suite, suite.load()) for suite in suites]
    started = datetime.now(UTC)
    output = args.output or default_output(mode, started)
    if args.output is None:
        output.parent.mkdir(parents=True, exist_ok=True)
    check_writable(output)

    try:
        tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    except OSError as exc:
        raise BenchError(f"cannot create a temporary directory: {exc}") from None
    env = dict(os.environ, BENCH_DB=str(tmp / "bench.sqlite3"), PYTHONPATH=str(ROOT))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    workers = Workers(env, pin=settings["pin"])
    total = len(cases) * settings["processes"] + bool(cases)
    progress = Progress(total)
    load_before = environment.load_average()
    runs: dict[str, list] = {case.key: [] for case in cases}
    # How long each part took (the in-process cases as "cases"), so that the
    # time of a full run can be reported and its parts compared.
    suite_seconds: dict[str, float] = {}
    try:
        if cases:
            progress.show("preparing the database")
        if any(case.needs_db for case in cases):
            workers.run(["--prepare-db", env["BENCH_DB"]], "preparing the database")
        if cases:
            progress.step("database ready")
        cases_started = time.monotonic()
        for process in range(settings["processes"]):
            for case in cases:
                record = json.loads(workers.run(worker_args(case, settings), case.key))
                record["process"] = process
                runs[case.key].append(record)
                mean = sum(record["values_us"]) / len(record["values_us"])
                progress.step(
                    f"{case.key} (process {process + 1}/{settings['processes']})"
                    f" {mean:.1f} µs"
                )
        groups = group_results(cases, runs)
        if cases:
            suite_seconds["cases"] = round(time.monotonic() - cases_started, 1)
        for suite, function in runners:
            suite_started = time.monotonic()
            found = function(suite_settings, progress)
            seconds_taken = round(time.monotonic() - suite_started, 1)
            suite_seconds[suite.name] = seconds_taken
            for name, group in found.items():
                group.setdefault("suite", suite.name)
                group["suite_seconds"] = seconds_taken
                groups[name] = group
    finally:
        workers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    progress.finish()

    results = {
        "schema_version": SCHEMA_VERSION,
        "date": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mode": mode,
        "command": ["python", "-m", "bench", *argv],
        "duration_seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "suite_seconds": suite_seconds,
        "machine": environment.machine(),
        "load_average": {"before": load_before, "after": environment.load_average()},
        "software": environment.software(),
        "settings": {**settings, "cv_threshold": stats.CV_THRESHOLD},
        "groups": groups,
    }
    summarize_results(results)
    write_results(results, output)
    print_summary(results, output)
    return 0


def summarize_results(results: dict) -> None:
    """Each figure's stats, flags and reasons, and the count of flags."""
    pinned = bool(results["settings"].get("pin"))
    results["unstable_count"] = stats.add_summaries(results["groups"], pinned=pinned)


def write_results(results: dict, output: Path) -> None:
    text = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    try:
        output.write_text(text)
    except OSError as exc:
        raise BenchError(f"cannot write {output}: {exc.strerror}") from None


def worker_args(case: Case, settings: dict) -> list[str]:
    return [
        case.key,
        "--values",
        str(settings["values"]),
        "--value-seconds",
        str(settings["value_seconds"]),
        "--warmup-seconds",
        str(settings["warmup_seconds"]),
    ]


def group_results(cases: list[Case], runs: dict) -> dict:
    groups: dict = {}
    for case in cases:
        group = groups.setdefault(
            case.group, {"title": GROUPS[case.group], "cases": {}}
        )
        group["cases"][case.name] = {
            "label": case.label,
            "params": case.params(),
            "unit": "us",
            "runs": runs[case.key],
        }
    return groups


def print_summary(results: dict, output: Path) -> None:
    threshold = results["settings"]["cv_threshold"]
    for group in results["groups"].values():
        print(group["title"])
        for name, case in group["cases"].items():
            s = case["stats"]
            flag = "!" if case["unstable"] else " "
            ratio = case.get("ratio")
            ratio_text = f"  {ratio['value']:5.2f}x {ratio['of']}" if ratio else ""
            unit = {"us": "µs"}.get(case.get("unit", "us"), case.get("unit", ""))
            print(
                f" {flag} {name:<38} {s['mean']:9.1f} {unit} ± {s['stdev']:7.1f}"
                f"  median {s['median']:9.1f}  CV {s['cv']:6.1%}{ratio_text}"
            )
        for skipped in group.get("skipped", []):
            print(f" - skipped {skipped['what']}: {skipped['why']}")
    flagged = results["unstable_count"]
    if flagged:
        above = f"a coefficient of variation above {threshold:.0%}"
        print(f"! {flagged} figure(s) with {above}")
    print(f"wrote {output} in {results['duration_seconds']:.0f} s")


def restat(path: Path) -> int:
    """``python -m bench restat FILE``: the summaries of ``FILE``, recomputed.

    For when the rules that summarize a run change (a new reason for a
    flagged figure, say) and the values need no new measurement. The file
    records each restatement, with the count of flagged figures before it.
    """
    try:
        results = json.loads(path.read_text())
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BenchError(f"{path} is not JSON: {exc}") from None
    if not isinstance(results, dict) or not {"groups", "settings"} <= results.keys():
        raise BenchError(f"{path} is not a results file: no groups or settings")
    before = results.get("unstable_count")
    summarize_results(results)
    results.setdefault("restated", []).append(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "unstable_count_before": before,
        }
    )
    check_writable(path)
    write_results(results, path)
    print(
        f"restated {path}: {results['unstable_count']} figure(s) flagged"
        f" (before: {before})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if args.command == "restat":
            return restat(args.file)
        return run(args, argv)
    except BenchError as exc:
        print(f"python -m bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npython -m bench: interrupted; no results written", file=sys.stderr)
        return 130
