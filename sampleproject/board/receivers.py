"""What happens after checks are recorded: receivers of ``checks_recorded``.

:func:`publish_outcomes` (async) publishes one ``"check"`` event per outcome on
the ``"board"`` channel, carrying the service's dashboard tile as JSON, so open
browsers update it. :data:`RECEIVERS` lists it with the incident alerts of
alerts.py: one async receiver that e-mails, one sync receiver that logs.
signals.py says how Django runs the two kinds together.

:func:`connect_receivers` connects them (``BoardConfig.ready()`` calls it);
each has a ``dispatch_uid``, so connecting again, after an autoreload or from a
test, never doubles a receiver.
"""

from __future__ import annotations

from collections.abc import Iterable

from sampleproject.board.alerts import log_changes, notify_incidents
from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.signals import checks_recorded
from sampleproject.board.state import Tile, tile_from, tiles_queryset

CHANNEL = "board"
EVENT_KIND = "check"


async def tiles_for(service_ids: Iterable[int]) -> dict[int, Tile]:
    """The dashboard tiles of these services, by service id, in one query.

    Disabled or deleted services have no tile: the dashboard does not show them.
    """
    queryset = tiles_queryset().filter(pk__in=list(service_ids))
    return {service.pk: tile_from(service) async for service in queryset}


async def publish_outcomes(sender, outcomes, changes, **kwargs) -> int:
    """Publish each outcome's tile; return how many events were published."""
    if not outcomes:
        return 0
    tiles = await tiles_for({outcome.service_id for outcome in outcomes})
    broadcaster = get_broadcaster()
    published = 0
    for outcome in outcomes:
        tile = tiles.get(outcome.service_id)
        if tile is not None:
            await broadcaster.publish(CHANNEL, tile.as_json(), kind=EVENT_KIND)
            published += 1
    return published


RECEIVERS = {
    "board.publish_outcomes": publish_outcomes,
    "board.notify_incidents": notify_incidents,
    "board.log_changes": log_changes,
}


def connect_receivers() -> None:
    """Connect every receiver to ``checks_recorded``; safe to call again."""
    for uid, receiver in RECEIVERS.items():
        checks_recorded.connect(receiver, dispatch_uid=uid)


def disconnect_receivers() -> None:
    """Undo :func:`connect_receivers` (for tests)."""
    for uid in RECEIVERS:
        checks_recorded.disconnect(dispatch_uid=uid)
