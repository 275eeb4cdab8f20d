"""sampleproject.devasgi: the checker runs inside the server's loop for the demo."""

import asyncio

import pytest

from sampleproject.board.models import Check, Service
from sampleproject.board.signals import checks_recorded
from sampleproject.devasgi import WithChecker, application
from tests.sampleproject.conftest import service_on


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_lifespan_starts_and_stops_the_checker(upstream):
    await Service.objects.acreate(
        **{
            field: getattr(service_on(upstream, "payments"), field)
            for field in ("name", "slug", "url", "interval", "timeout")
        }
    )
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []
    started = asyncio.Event()

    async def send(message):
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            started.set()

    recorded = asyncio.Event()

    async def on_recorded(sender, **kwargs):
        recorded.set()

    checks_recorded.connect(on_recorded, dispatch_uid="test_devasgi")
    await inbox.put({"type": "lifespan.startup"})
    serving = asyncio.create_task(application({"type": "lifespan"}, inbox.get, send))
    try:
        async with asyncio.timeout(10):
            await started.wait()
            await recorded.wait()  # the embedded checker stored a round
            await inbox.put({"type": "lifespan.shutdown"})
            await serving
    finally:
        checks_recorded.disconnect(dispatch_uid="test_devasgi")
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert await Check.objects.filter(ok=True).aexists()


@pytest.mark.asyncio
async def test_http_goes_to_django():
    seen = []

    async def django_app(scope, receive, send):
        seen.append(scope["type"])

    await WithChecker(django_app)({"type": "http"}, None, None)
    assert seen == ["http"]
