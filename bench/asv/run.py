"""Run the asv benchmarks here without asv, with the harness's own timing loop.

Standard library and Django only, like ``bench/portable.py`` (whose timing loop
it uses), so that it runs in the virtual environment of any Django from 4.2::

    python bench/asv/run.py [--values K] [--value-seconds S] [--warmup-seconds W]

It imports each benchmark class the way asv would, runs ``setup`` for every
combination of its ``params``, times ``time_call``, runs ``teardown``, and
prints one JSON line: the versions, and per benchmark and parameters the
microseconds per request (a call makes ``REQUESTS_PER_CALL`` of them).
"""

import argparse
import importlib
import itertools
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from portable import measure_sync  # noqa: E402  (needs the path above)

BENCHMARKS = (
    "benchmarks.req_resp_benchmarks.handler_call.benchmark:HandlerCall",
    "benchmarks.req_resp_benchmarks.middleware_adaptation.benchmark:MiddlewareAdaptation",
    "benchmarks.other_benchmarks.async_bridges.benchmark:AsyncBridges",
)


def combinations(cls):
    """Every parameter tuple asv would run, as asv reads ``params``."""
    params = getattr(cls, "params", None)
    if not params:
        return [()]
    if not isinstance(params[0], list):
        params = [params]
    return list(itertools.product(*params))


def measure(cls, args):
    from benchmarks.utils import REQUESTS_PER_CALL

    results = {}
    for combo in combinations(cls):
        bench = cls()
        bench.setup(*combo)
        try:

            def run(n, bench=bench, combo=combo):
                for _ in range(n):
                    bench.time_call(*combo)

            _, _, values = measure_sync(
                run, args.values, args.value_seconds, args.warmup_seconds
            )
        finally:
            bench.teardown(*combo)
        key = f"{cls.__name__}({', '.join(combo)})"
        results[key] = [round(v / REQUESTS_PER_CALL, 2) for v in values]
    return results


def positive(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=lambda t: int(positive(t)), default=5)
    parser.add_argument("--value-seconds", type=positive, default=0.2)
    parser.add_argument("--warmup-seconds", type=positive, default=0.1)
    args = parser.parse_args(argv)

    import django

    results = {}
    for target in BENCHMARKS:
        module, _, name = target.partition(":")
        results.update(measure(getattr(importlib.import_module(module), name), args))
    print(
        json.dumps(
            {
                "django": django.get_version(),
                "python": platform.python_version(),
                "us_per_request": results,
            }
        )
    )


if __name__ == "__main__":
    main()
