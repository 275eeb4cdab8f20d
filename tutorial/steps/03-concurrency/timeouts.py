"""Part 3: a timeout per service, and a deadline for the whole run.

Run it with ``python timeouts.py`` while the fake upstream runs on port 8001.
The two services are built in memory and never saved.
"""

import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from sampleproject.board.checker import check_all  # noqa: E402
from sampleproject.board.demo import demo_upstream  # noqa: E402
from sampleproject.board.models import Service  # noqa: E402


def stuck(timeout: float) -> Service:
    # This upstream answers after 5 seconds.
    url = f"{demo_upstream()}/svc/stuck?delay=5000"
    return Service(name="Stuck", slug="stuck", url=url, timeout=timeout)


async def main() -> None:
    # The service's own timeout, half a second, ends its check.
    [outcome] = await check_all([stuck(timeout=0.5)], deadline=10.0)
    print(f"timeout: {outcome.error} after {outcome.latency_ms:.0f} ms")
    # A generous timeout, but the whole run must end within one second.
    [outcome] = await check_all([stuck(timeout=4.0)], deadline=1.0)
    print(f"deadline: {outcome.error}, latency {outcome.latency_ms}")


asyncio.run(main())
