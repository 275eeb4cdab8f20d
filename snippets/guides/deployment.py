"""Where an async view runs, under runserver and under an ASGI server.

docs/guides/deployment.md serves :func:`where_it_runs` with ``runserver``
(WSGI, a thread per request) and with uvicorn (ASGI, one event loop), and
compares what two overlapping requests report.
"""

import asyncio
import threading
import time

from django.http import JsonResponse
from django.urls import path


async def where_it_runs(request):
    started = time.time()
    await asyncio.sleep(0.2)  # a wait, long enough for two requests to overlap
    return JsonResponse(
        {
            "server": request.META.get("SERVER_SOFTWARE", "ASGI"),
            "loop": id(asyncio.get_running_loop()),
            "thread": threading.current_thread().name,
            "started": started,
            "finished": time.time(),
        }
    )


urlpatterns = [path("where/", where_it_runs)]
