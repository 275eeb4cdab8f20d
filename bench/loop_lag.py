"""Event-loop lag, measured inside an ASGI server's worker process.

A probe task on the worker's event loop sleeps :data:`PROBE_INTERVAL` again
and again. Each time it wakes later than it asked to, the difference is lag:
how long the loop was busy before it could run the probe, which is how long
any other ready task (a request, a stream's next event) would have waited too.

:func:`with_probe` wraps an ASGI app (:mod:`bench.server_probed` wraps the
ones the servers suite runs): the probe starts with the first request, and
``GET`` :data:`LAG_PATH` answers the samples taken since the last such
request, in milliseconds, as JSON, and starts a new list. The harness
(:mod:`bench.servers`) asks for them before and after each wrk run. This
module imports no Django, so that the harness can use it.
"""

from __future__ import annotations

import asyncio
import json
import time

PROBE_INTERVAL = 0.010  # seconds the probe asks to sleep
LAG_PATH = "/__loop-lag__/"
MAX_SAMPLES = 100_000  # a bound, in case no one ever asks

_samples: list[float] = []
_probe: asyncio.Task | None = None


async def probe() -> None:
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(PROBE_INTERVAL)
        late = time.perf_counter() - asked - PROBE_INTERVAL
        if len(_samples) < MAX_SAMPLES:
            _samples.append(round(max(late, 0.0) * 1000, 3))


async def answer_samples(send) -> None:
    body = json.dumps(_samples).encode()
    _samples.clear()
    headers = [(b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_probe(app):
    async def probed(scope, receive, send):
        global _probe
        if scope["type"] == "http":
            if _probe is None:
                _probe = asyncio.get_running_loop().create_task(probe())
            if scope["path"] == LAG_PATH:
                await answer_samples(send)
                return
        await app(scope, receive, send)

    return probed


def summarize(samples: list[float]) -> dict:
    """p50, p99 and max of lag samples in ms, with how many there were."""
    if not samples:
        return {"p50": None, "p99": None, "max": None, "samples": 0}
    ordered = sorted(samples)

    def percentile(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    return {
        "p50": percentile(0.50),
        "p99": percentile(0.99),
        "max": ordered[-1],
        "samples": len(ordered),
    }
