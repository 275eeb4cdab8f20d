"""What happens after checks are recorded: receivers of ``checks_recorded``.

Three receivers, two async and one sync, so both of Django's dispatch paths
mix the kinds:

:func:`publish_outcomes` (async)
    Publishes one ``"check"`` event per outcome on the ``"board"`` channel,
    carrying the service's dashboard tile as JSON, so open browsers update it.
:func:`notify_incidents` (async)
    Queues an e-mail of the opened and closed incidents on
    :data:`~sampleproject.board.notify.outbox`, whose thread sends it through
    :class:`~sampleproject.board.notify.IncidentNotifier`: no sender waits
    for the mail server.
:func:`log_changes` (sync)
    Logs each opened or closed incident on the ``sampleproject.board`` logger.

How Django runs them:

- ``await checks_recorded.asend(...)`` (the async view, ``runchecks``): the
  sync receivers run together in one ``sync_to_async`` call, in a worker
  thread; the async ones run as tasks on the caller's event loop, concurrently
  with each other. On Django 6.1 the sync group finishes before the async
  group starts; on Django 5.2 the two groups run at the same time.
- ``checks_recorded.send(...)`` (the sync view): the sync receivers run first,
  in the caller's thread; then one ``async_to_sync`` call runs the async ones
  concurrently, on an event loop of its own under WSGI, or back on the
  server's loop for a sync view under ASGI.

Neither ``send()`` nor ``asend()`` catches a receiver's exception: it reaches
the sender (the view or the checker). On Django 6.1 it also cancels the async
receivers still running (they run in an :class:`asyncio.TaskGroup`); on
Django 5.2 they run on, unawaited (``asyncio.gather``). So these receivers
handle the failures they expect themselves: a mail server that is down is
logged by the outbox's thread, not raised.

Send with ``asend()`` from inside an ``asgiref`` ``ThreadSensitiveContext``,
as Django's ASGI handler does for every request and ``runchecks`` does for
its whole run. Outside one (a management command's own event loop, a test,
Django's ``AsyncClient``), thread-sensitive ``sync_to_async`` calls share one
process-wide thread guarded by a context variable, and Django 6.1 runs all
async receivers in one shared ``contextvars.Context``: when two of these
receivers use the ORM at the same moment, the second gets ``RuntimeError:
Single thread executor already being used, would deadlock``. Django 5.2 gives
each receiver a context of its own and is not affected.

:func:`connect_receivers` connects them (``BoardConfig.ready()`` calls it);
each has a ``dispatch_uid``, so connecting again, after an autoreload or from a
test, never doubles a receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.models import Incident, Service
from sampleproject.board.notify import IncidentNotifier, one_line, outbox
from sampleproject.board.signals import checks_recorded
from sampleproject.board.state import Tile, tile_from, tiles_queryset

logger = logging.getLogger("sampleproject.board")

CHANNEL = "board"
EVENT_KIND = "check"

notifier = IncidentNotifier()


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


async def notify_incidents(sender, outcomes, changes, **kwargs) -> int:
    """Queue an e-mail of the incidents ``changes`` opened or closed.

    Returns how many e-mails were queued (0 or 1). The outbox's thread sends
    it: the sender (a request, the checker) does not wait for the mail
    server, and a failure is logged there, not raised here.
    """
    if not changes or not notifier.recipients():
        return 0
    services = await Service.objects.ain_bulk({change.service_id for change in changes})
    what = f"{len(changes)} incident change(s)"
    return int(outbox.put(partial(notifier.send, changes, services), what))


def log_changes(sender, outcomes, changes, **kwargs) -> None:
    """Log each incident that ``changes`` opened (a warning) or closed (info)."""
    if not changes:
        return
    incidents = Incident.objects.select_related("service").in_bulk(
        [change.incident_id for change in changes]
    )
    for change in changes:
        incident = incidents.get(change.incident_id)
        # one_line: a service name with a newline could forge a log line.
        name = one_line(incident.service.name) if incident else "a deleted service"
        if change.opened:
            cause = incident.cause if incident else "unknown cause"
            logger.warning(
                "incident %d opened: %s is down (%s)", change.incident_id, name, cause
            )
        else:
            logger.info("incident %d closed: %s recovered", change.incident_id, name)


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
