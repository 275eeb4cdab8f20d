"""Incident alerts: receivers of ``checks_recorded`` of both kinds.

:func:`notify_incidents` (async) queues an e-mail of the opened and closed
incidents on :data:`~sampleproject.board.notify.outbox`, whose thread sends it
through :class:`~sampleproject.board.notify.IncidentNotifier`: no sender waits
for the mail server. :func:`log_changes` (sync) logs each opened or closed
incident on the ``sampleproject.board`` logger.
"""

from __future__ import annotations

import logging
from functools import partial

from sampleproject.board.models import Incident, Service
from sampleproject.board.notify import IncidentNotifier, one_line, outbox

logger = logging.getLogger("sampleproject.board")

notifier = IncidentNotifier()


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
