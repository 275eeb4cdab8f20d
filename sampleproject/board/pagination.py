"""Paginate a queryset from async code into plain data a template can use.

On Django 6.0+ this is :class:`~django.core.paginator.AsyncPaginator`. Django 5.2
has none, so the fallback counts and slices with the async ORM and lets a
:class:`~django.core.paginator.Paginator` over a ``range`` do the page
arithmetic, which never touches the database. Either way an out-of-range or
malformed page number gives the nearest valid page, as ``get_page()`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import django
from django.core.paginator import Paginator

HAS_ASYNC_PAGINATOR = django.VERSION >= (6, 0)


@dataclass(frozen=True)
class PageInfo:
    objects: list
    number: int
    num_pages: int
    count: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1


async def apaginate(queryset, number, per_page: int, *, native=HAS_ASYNC_PAGINATOR):
    if native:
        from django.core.paginator import AsyncPaginator

        paginator = AsyncPaginator(queryset, per_page)
        page = await paginator.aget_page(number)
        objects = await page.aget_object_list()
        return PageInfo(
            objects, page.number, await paginator.anum_pages(), await paginator.acount()
        )
    count = await queryset.acount()
    page = Paginator(range(count), per_page).get_page(number)
    window = (
        queryset[page.start_index() - 1 : page.end_index()]
        if count
        else queryset.none()
    )
    objects = [obj async for obj in window]
    return PageInfo(objects, page.number, page.paginator.num_pages, count)
