from asgiref.sync import iscoroutinefunction
from django.utils.decorators import (
    async_only_middleware,
    sync_and_async_middleware,
    sync_only_middleware,
)


@sync_only_middleware
def sync_only(get_response):
    def middleware(request):
        return get_response(request)

    return middleware


@async_only_middleware
def async_only(get_response):
    async def middleware(request):
        return await get_response(request)

    return middleware


@sync_and_async_middleware
def both(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return await get_response(request)

    else:

        def middleware(request):
            return get_response(request)

    return middleware
