"""What the dashboard shows: one tile per enabled service, read with the async ORM.

The tiles are computed in one query and fully evaluated in async code. A
template never receives a queryset from here, only plain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Subquery

from sampleproject.board.models import Check, Incident, Service


@dataclass(frozen=True)
class Tile:
    slug: str
    name: str
    url: str
    ok: bool | None  # None: never checked
    status_code: int | None
    error: str
    latency_ms: float | None
    checked_at: datetime | None
    incident_open: bool

    @property
    def state(self) -> str:
        return {True: "up", False: "down", None: "unknown"}[self.ok]

    @property
    def error_label(self) -> str:
        """What went wrong, for people: "Timed out" rather than "timeout"."""
        return Check.Error(self.error).label if self.error else ""

    def as_json(self) -> dict:
        data = asdict(self)
        data["state"] = self.state
        data["error_label"] = self.error_label
        data["checked_at"] = self.checked_at.isoformat() if self.checked_at else None
        return data


def tiles_queryset():
    latest = Check.objects.filter(service=OuterRef("pk")).order_by("-checked_at")
    open_incidents = Incident.objects.filter(
        service=OuterRef("pk"), closed_at__isnull=True
    )
    return (
        Service.objects.filter(enabled=True)
        .annotate(
            last_ok=Subquery(latest.values("ok")[:1]),
            last_status=Subquery(latest.values("status_code")[:1]),
            last_error=Subquery(latest.values("error")[:1]),
            last_latency=Subquery(latest.values("latency_ms")[:1]),
            last_checked=Subquery(latest.values("checked_at")[:1]),
            incident_open=Exists(open_incidents),
        )
        .order_by("name")
    )


def tile_from(service) -> Tile:
    return Tile(
        slug=service.slug,
        name=service.name,
        url=service.url,
        ok=service.last_ok,
        status_code=service.last_status,
        error=service.last_error or "",
        latency_ms=service.last_latency,
        checked_at=service.last_checked,
        incident_open=service.incident_open,
    )


async def load_tiles() -> list[Tile]:
    # `async for` runs the query now; the list leaves no lazy query behind.
    return [tile_from(service) async for service in tiles_queryset()]
