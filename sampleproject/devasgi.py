"""The board plus its background checker in one process, for ``make run``.

In production the checker is its own process (``manage.py runchecks``) and
Redis carries its events to every web worker. A one-command demo has no Redis:
here the checker runs inside uvicorn's event loop instead, started and stopped
by the ASGI lifespan protocol (which Django's own handler does not speak), so
the in-process broadcaster reaches the browsers connected to this process.
Being in the same process also lets the checker hear at once of a service
added through the form: it checks it now, not at its next re-read of the list.

``python -m sampleproject.devasgi --port 8000`` serves it with
:class:`BoardServer`, which ends the board's event streams as soon as it starts
to stop (see there why not at lifespan shutdown).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import uvicorn
from django.db import transaction
from django.db.models.signals import post_save

from sampleproject.asgi import application as django_application
from sampleproject.asgi import shutdown, startup
from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.httpclient import shared_client
from sampleproject.board.models import Service
from sampleproject.board.scheduler import Scheduler
from sampleproject.devserver import HOST, port_number

# A backstop only: BoardServer ends the streams first, so nothing should be
# left for uvicorn to wait for.
GRACEFUL_SHUTDOWN_SECONDS = 2
RELOAD_UID = "sampleproject.devasgi.check_new_services"


class WithChecker:
    """An ASGI app: lifespan starts and stops the checker; the rest is Django's."""

    def __init__(self, app, **scheduler_options):
        self.app = app
        self.scheduler_options = scheduler_options
        self.scheduler: Scheduler | None = None
        self._checking: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        await receive()  # lifespan.startup
        await startup()  # the board's own: the shared client, the templates
        self.start_checker()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await self.stop_streams()
        finally:
            await shutdown()
        await send({"type": "lifespan.shutdown.complete"})
        return None

    def start_checker(self) -> None:
        scheduler = Scheduler(shared_client(), **self.scheduler_options)
        self.scheduler = scheduler
        self._checking = asyncio.create_task(scheduler.run(), name="board checker")
        loop = asyncio.get_running_loop()

        def check_new_service(sender, instance, created, **kwargs):
            # Runs where the row was saved: a request's thread, under WSGI or
            # ASGI. Once committed, wake the checker on its own loop.
            if created:
                transaction.on_commit(
                    lambda: loop.call_soon_threadsafe(scheduler.reload_soon)
                )

        post_save.connect(
            check_new_service, sender=Service, weak=False, dispatch_uid=RELOAD_UID
        )

    async def stop_streams(self) -> None:
        """Stop the checker, then end every open event stream. Idempotent.

        In that order: a round still in flight publishes its results, which
        a closed broadcaster would refuse with an error.
        """
        post_save.disconnect(sender=Service, dispatch_uid=RELOAD_UID)
        if self._checking is not None:
            if not self.scheduler.stopping:
                self.scheduler.stop()  # in-flight checks finish, within its grace
            await self._checking
        # Each subscription's iterator ends, so each stream's generator returns
        # and Django finishes its response: the browser sees a clean end.
        await get_broadcaster().close()


class BoardServer(uvicorn.Server):
    """uvicorn that ends the board's event streams as soon as it starts to stop.

    uvicorn stops in this order: it closes its listening sockets, waits for
    the open connections to end (for at most ``timeout_graceful_shutdown``),
    cancels the requests still running, and only then sends the lifespan
    shutdown. An event stream never ends by itself, so streams ended at
    lifespan shutdown would end too late: each open tab would cost the whole
    grace period, then a cancelled request and its traceback.
    """

    def __init__(self, config: uvicorn.Config, app: WithChecker) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets=None) -> None:
        for server in self.servers:
            server.close()  # no new connection from here on
        try:
            await self.app.stop_streams()
        finally:  # should that fail, uvicorn still stops
            await super().shutdown(sockets)


application = WithChecker(django_application, grace=2.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sampleproject.devasgi",
        description=f"Serve the board with its checker on {HOST} until Ctrl+C"
        " (make run starts it, with the fake upstream).",
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="TCP port (default: 8000)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = uvicorn.Config(
        application,
        host=HOST,
        port=args.port,
        # The lifespan protocol starts and stops the checker.
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    # uvicorn re-raises Ctrl+C once it has shut down: nothing left to report.
    with contextlib.suppress(KeyboardInterrupt):
        BoardServer(config, application).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
