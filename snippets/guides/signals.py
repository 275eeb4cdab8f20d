"""Signals from async code: ``asend``, ``asend_robust``, receivers of both kinds.

Shown on docs/guides/signals.md. ``service_retired`` is sent after a service
is retired, with ``service``. Importing this module connects three receivers:
one sync, two async, each with a ``dispatch_uid`` so that a second import
connects nothing twice.
"""

from __future__ import annotations

import logging

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections
from django.dispatch import Signal, receiver

from sampleproject.board.models import Check, Incident, Service

logger = logging.getLogger("sampleproject.board")

service_retired = Signal()


@receiver(service_retired, dispatch_uid="guide.log_retirement")
def log_retirement(sender, service, **kwargs):
    """A sync receiver: under ``asend()`` it runs in a worker thread."""
    logger.info("service %s retired", service.slug)
    return service.slug


@receiver(service_retired, dispatch_uid="guide.open_incidents")
async def open_incidents(sender, service, **kwargs):
    """An async receiver: it runs on the event loop, as a task."""
    return await Incident.objects.filter(service=service, closed_at=None).acount()


@receiver(service_retired, dispatch_uid="guide.checks_on_record")
async def checks_on_record(sender, service, **kwargs):
    """A second async receiver, concurrent with the first."""
    return await Check.objects.filter(service=service).acount()


async def announce(service: Service) -> list:
    """Send from async code: ``[(receiver, response), ...]`` comes back."""
    return await service_retired.asend(sender=Service, service=service)


def announce_sync(service: Service) -> list:
    """Send from sync code: async receivers run through ``async_to_sync``."""
    return service_retired.send(sender=Service, service=service)


async def announce_robust(service: Service) -> list:
    """Send, and get the receivers that raised instead of an exception.

    Django logs each exception on the ``django.dispatch`` logger.
    """
    responses = await service_retired.asend_robust(sender=Service, service=service)
    return [
        handler for handler, response in responses if isinstance(response, Exception)
    ]


async def announce_outside_a_request(service: Service) -> list:
    """Send from a command or a script: give the hops a context of their own.

    Django's ASGI handler opens one of these around every request.
    """
    async with ThreadSensitiveContext():
        try:
            return await service_retired.asend(sender=Service, service=service)
        finally:
            # No request_finished closes the connection that the receivers
            # opened in this context's thread: close it there, or it is lost
            # to a connection pool until garbage collection.
            await sync_to_async(connections.close_all)()
