"""ASGI entry point: ``uvicorn sampleproject.asgi:application``."""

import asyncio
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings.dev")
django_application = get_asgi_application()

from sampleproject.board.httpclient import (  # noqa: E402 (needs Django set up)
    close_shared_client,
    open_shared_client,
)
from sampleproject.board.notify import outbox  # noqa: E402
from sampleproject.warmup import warm_templates  # noqa: E402

# At shut-down, wait at most this long for queued incident e-mails.
MAIL_GRACE_SECONDS = 5.0


async def startup() -> None:
    # Both read files (the CA bundle, the templates): in a thread, so the
    # loop is free from the first request on.
    await open_shared_client()
    await asyncio.to_thread(warm_templates)


async def shutdown() -> None:
    await close_shared_client()
    # Mail already queued gets its chance, within a bound: a stalled mail
    # server must not hold a deploy's restart.
    await asyncio.to_thread(outbox.join, MAIL_GRACE_SECONDS)


class Lifespan:
    """Speaks the ASGI lifespan protocol, which Django's handler does not.

    The server calls it once at start and once at stop; every other call is a
    request, and goes to Django.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await startup()
                except Exception as exc:
                    # The server reports it and does not start.
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return None
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return None


application = django_application
if settings.DEBUG:
    # runserver serves static files in development; uvicorn does not, so wrap
    # the application as runserver would. In production a web server or
    # WhiteNoise serves the files collected by collectstatic.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
application = Lifespan(application)
