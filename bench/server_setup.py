"""Prepare the database the Django server benchmarks use, and log a user in.

``python -m bench.server_setup DB UPSTREAM_URL --services 50 --delay 0.2``
migrates the SQLite file DB, adds that many services whose URL answers after
``delay`` seconds on the fake upstream, logs a user in, and prints the cookies
and header a POST to ``/api/check-all/`` needs, as JSON::

    {"cookie": "sessionid=...; csrftoken=...", "csrf_header": "..."}

so that the load generator calls the views as a logged-in browser would,
through the CSRF middleware.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
from datetime import timedelta


def prepare(db: str, upstream: str, services: int, delay: float) -> dict:
    os.environ["BENCH_DB"] = db
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.server_settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils.crypto import get_random_string

    from sampleproject.board.models import Service

    call_command("migrate", verbosity=0)
    Service.objects.all().delete()
    Service.objects.bulk_create(
        Service(
            name=f"Service {number}",
            slug=f"service-{number:02d}",
            url=f"{upstream.rstrip('/')}/status/200?delay={delay}",
            timeout=max(2.0, delay * 5),
            interval=timedelta(seconds=60),
        )
        for number in range(1, services + 1)
    )
    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    # An unmasked CSRF secret: Django accepts it in both the cookie and the header.
    token = get_random_string(32, string.ascii_letters + string.digits)
    return {"cookie": f"sessionid={session}; csrftoken={token}", "csrf_header": token}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_setup")
    parser.add_argument("db")
    parser.add_argument("upstream")
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args(argv)
    print(json.dumps(prepare(args.db, args.upstream, args.services, args.delay)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
