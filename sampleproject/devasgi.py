"""The board plus its background checker in one process, for ``make run``.

In production the checker is its own process (``manage.py runchecks``) and
Redis carries its events to every web worker. A one-command demo has no Redis:
here the checker runs inside uvicorn's event loop instead, started and stopped
by the ASGI lifespan protocol (which Django's own handler does not speak), so
the in-process broadcaster reaches the browsers connected to this process.
"""

import asyncio

from sampleproject.asgi import application as django_application
from sampleproject.asgi import shutdown, startup
from sampleproject.board.checker import shared_client
from sampleproject.board.management.commands.runchecks import Scheduler


class WithChecker:
    """An ASGI app: lifespan starts and stops the checker; the rest is Django's."""

    def __init__(self, app, **scheduler_options):
        self.app = app
        self.scheduler_options = scheduler_options

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        await receive()  # lifespan.startup
        await startup()  # the board's own: the shared client, the templates
        scheduler = Scheduler(shared_client(), **self.scheduler_options)
        checking = asyncio.create_task(scheduler.run(), name="board checker")
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        scheduler.stop()  # lets in-flight checks finish, within the grace period
        try:
            await checking
        finally:
            await shutdown()
        await send({"type": "lifespan.shutdown.complete"})
        return None


application = WithChecker(django_application, grace=2.0)
