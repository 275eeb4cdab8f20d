from django.http import HttpResponse


def sync_view(request):
    return HttpResponse(b"ok")


async def async_view(request):
    return HttpResponse(b"ok")
