"""How long a warm render of the board takes, by number of tiles.

``python -m tests.sampleproject.render_cost`` prints a table; the dashboard's
threshold (``RENDER_IN_THREAD_ABOVE`` in ``sampleproject/board/views/dashboard.py``)
comes from it, and ``test_render_cost.py`` checks it against this machine.
"""

from __future__ import annotations

import os
import statistics
import time

SIZES = (4, 10, 25, 50, 100, 200, 500)
# A render that holds the loop longer than this delays every other request
# on it by as much: asyncio's own debug mode calls a callback slow at 100 ms,
# a busy server notices far less.
BUDGET_SECONDS = 0.001


def tiles(count: int) -> list:
    from django.utils import timezone

    from sampleproject.board.state import Tile

    now = timezone.now()
    return [
        Tile(
            slug=f"service-{n}",
            name=f"Service {n}",
            url=f"https://s{n}.example/",
            ok=n % 3 != 0,
            status_code=200 if n % 3 else None,
            error="" if n % 3 else "timeout",
            latency_ms=40.0 + n,
            checked_at=now,
            incident_open=n % 3 == 0,
        )
        for n in range(count)
    ]


def render_seconds(count: int, repeat: int = 20) -> float:
    """The median time of a warm render of the board with ``count`` tiles."""
    from django.contrib.auth.models import AnonymousUser
    from django.shortcuts import render
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    context = {"tiles": tiles(count), "user": request.user}
    render(request, "board/dashboard.html", context)  # warm: loaded, compiled
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render(request, "board/dashboard.html", context)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings.test")
    django.setup()
    print(f"{'tiles':>6} {'render ms':>10} {'µs per tile':>12}")
    for count in SIZES:
        seconds = render_seconds(count)
        print(f"{count:>6} {seconds * 1000:>10.2f} {seconds * 1e6 / count:>12.1f}")


if __name__ == "__main__":
    main()
