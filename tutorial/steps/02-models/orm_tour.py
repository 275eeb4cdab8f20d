"""Part 2: the async ORM, one call at a time. Run it with ``python orm_tour.py``."""

import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from sampleproject.board.models import Check, Incident, Service  # noqa: E402


def retire(slug: str) -> int:
    """Disable a service and close its open incidents, all or nothing.

    Transactions are sync only: write the whole unit as one sync function and
    call it from async code with sync_to_async, so it runs in one thread.
    """
    with transaction.atomic():
        Service.objects.filter(slug=slug).update(enabled=False)
        return Incident.objects.filter(
            service__slug=slug, closed_at__isnull=True
        ).update(closed_at=timezone.now())


async def main() -> None:
    # acreate(): one INSERT, awaited.
    service = await Service.objects.acreate(
        name="Status page", slug="status", url="https://status.example.com/"
    )
    print("created:", service)

    # aget(): one row, or DoesNotExist.
    same = await Service.objects.aget(slug="status")
    print("fetched:", same.name, same.url)

    # async for: the query runs when the loop starts; rows arrive as it goes.
    names = [s.name async for s in Service.objects.filter(enabled=True)]
    print("enabled:", ", ".join(names))

    # aiterator(): stream a large result in chunks, without a result cache.
    now = timezone.now()
    await Check.objects.abulk_create(
        Check(service=service, checked_at=now, ok=n % 2 == 0, status_code=200)
        for n in range(10)
    )
    ok = 0
    async for check in Check.objects.filter(service=service).aiterator(chunk_size=4):
        ok += check.ok
    print("checks:", ok, "of 10 ok")

    # aupdate(): one UPDATE, returns the number of rows changed.
    changed = await Service.objects.filter(slug="status").aupdate(timeout=2.5)
    print("updated:", changed, "row")

    # A transaction: cross over to sync code, in one thread, and back.
    await Incident.objects.acreate(service=service, opened_at=now, cause="Timed out")
    closed = await sync_to_async(retire)("status")
    print("retired: closed", closed, "incident")

    # adelete(): the checks and incidents go too (on_delete=CASCADE).
    deleted, _ = await Service.objects.filter(slug="status").adelete()
    print("deleted:", deleted, "rows")


asyncio.run(main())
