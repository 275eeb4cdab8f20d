"""Demo services for ``make run``, the doctests and the tests.

Each one points at a named service of the fake upstream
(:mod:`sampleproject.upstream`), so the board shows live data with nothing
external running. The upstream listens on port 8001, or on the port the
``UPSTREAM_PORT`` environment variable names.
"""

import os
import re
from datetime import timedelta

from sampleproject.board.models import Service

DEFAULT_UPSTREAM_PORT = 8001

DEMO_SERVICES = [
    # (name, slug, check interval in seconds)
    ("Payments API", "payments", 10),
    ("Search", "search", 15),
    ("Login", "login", 10),
    ("E-mail relay", "email", 30),
]


def demo_upstream() -> str:
    """The fake upstream's base URL, on port ``UPSTREAM_PORT`` if that is set."""
    raw = os.environ.get("UPSTREAM_PORT", "").strip() or str(DEFAULT_UPSTREAM_PORT)
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise ValueError(f"UPSTREAM_PORT must be a port number, got {raw!r}")
    return f"http://127.0.0.1:{int(raw)}"


def demo_service(name: str, slug: str, interval: int, upstream: str) -> Service:
    return Service(
        name=name,
        slug=slug,
        url=f"{upstream}/svc/{slug}",
        interval=timedelta(seconds=interval),
        timeout=2.0,
    )


def seeded_elsewhere(service: Service) -> bool:
    """Whether a row still holds a demo URL, of a fake upstream on another port.

    ``make run UPSTREAM_PORT=...`` after an earlier ``make run`` must move the
    demo rows too, or the board shows them all down; a URL someone changed
    is theirs and stays.
    """
    pattern = rf"http://127\.0\.0\.1:\d{{1,5}}/svc/{re.escape(service.slug)}"
    return re.fullmatch(pattern, service.url) is not None


def seed(upstream: str | None = None) -> list[Service]:
    """Create the demo services that do not exist yet; return all of them.

    Existing rows are left as they are, except that a demo URL follows the
    fake upstream to its current port.
    """
    upstream = upstream or demo_upstream()
    services = []
    for name, slug, interval in DEMO_SERVICES:
        wanted = demo_service(name, slug, interval, upstream)
        service, created = Service.objects.get_or_create(
            slug=slug,
            defaults={
                field: getattr(wanted, field)
                for field in ("name", "url", "interval", "timeout")
            },
        )
        if not created and service.url != wanted.url and seeded_elsewhere(service):
            service.url = wanted.url
            service.save(update_fields=["url"])
        services.append(service)
    return services
