"""Database connections seen from the threads that use them.

Shown on docs/internals/db-connections.md: a sync view to serve under ASGI, and
the PostgreSQL query that counts the sessions a program holds.
"""

from django.db import connection
from django.http import JsonResponse

from sampleproject.board.models import Service


def service_count(request):
    """A sync view: under ASGI, Django runs it in a thread of this request's own."""
    return JsonResponse({"services": Service.objects.count()})


def open_sessions(application_name: str) -> int:
    """PostgreSQL sessions on this database whose client set ``application_name``.

    libpq sends the name from the ``PGAPPNAME`` environment variable, or from
    ``"application_name"`` in the database's ``OPTIONS``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]
