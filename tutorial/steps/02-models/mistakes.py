"""Part 2: sync database access from async code, on purpose.

Run ``python mistakes.py related``, ``template`` or ``atomic`` to see each
mistake raise SynchronousOnlyOperation, and ``python mistakes.py fixed`` to see
the three fixes.
"""

import asyncio
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.db import transaction  # noqa: E402
from django.template import Context, Template  # noqa: E402
from django.utils import timezone  # noqa: E402

from sampleproject.board.models import Check, Service  # noqa: E402

NAMES = Template("{% for service in services %}{{ service.name }}; {% endfor %}")


async def a_check() -> Check:
    service = await Service.objects.aget(slug="payments")
    return await Check.objects.acreate(
        service=service, checked_at=timezone.now(), ok=True, status_code=200
    )


async def related() -> None:
    check = await a_check()
    try:
        fresh = await Check.objects.aget(pk=check.pk)
        # check.service is loaded on first access: a query, from the event loop.
        print(fresh.service.name)
    finally:
        await check.adelete()


async def template() -> None:
    services = Service.objects.filter(enabled=True)  # lazy: no query yet
    # The template iterates the queryset, so the template runs the query.
    print(NAMES.render(Context({"services": services})))


async def atomic() -> None:
    # transaction.atomic() opens the connection synchronously.
    with transaction.atomic():
        await Service.objects.filter(slug="payments").aupdate(timeout=2.0)


def set_timeout(slug: str, timeout: float) -> int:
    with transaction.atomic():
        return Service.objects.filter(slug=slug).update(timeout=timeout)


async def fixed() -> None:
    check = await a_check()
    try:
        # Fetch the related row in the same query.
        fresh = await Check.objects.select_related("service").aget(pk=check.pk)
        print("related:", fresh.service.name)
    finally:
        await check.adelete()
    # Evaluate in async code; hand the template a list, not a queryset.
    services = [s async for s in Service.objects.filter(enabled=True)]
    print("template:", NAMES.render(Context({"services": services})))
    # Run the whole transaction as one sync function, in a thread.
    print("atomic:", await sync_to_async(set_timeout)("payments", 2.0), "row")


MISTAKES = {"related": related, "template": template, "atomic": atomic, "fixed": fixed}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MISTAKES:
        sys.exit(f"usage: python mistakes.py {'|'.join(MISTAKES)}")
    asyncio.run(MISTAKES[sys.argv[1]]())
