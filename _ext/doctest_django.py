"""Run the site's doctests against the sample project.

``doctest_global_setup`` in conf.py calls :func:`setup_django`, which Sphinx runs
once per doctest group (and once per ``:skipif:``); only the first call does
work: it configures Django with the sample project's test settings, creates a
test database (SQLite by default, PostgreSQL when ``DATABASE_URL`` is set) and
seeds the demo services. The build's end destroys the test database.
"""

from __future__ import annotations

import os
from pathlib import Path

import django

_state: dict = {}


def django_before(major: int, minor: int = 0) -> bool:
    """For ``:skipif:``: true when the installed Django is older than major.minor."""
    return django.VERSION[:2] < (major, minor)


def setup_django() -> None:
    if _state:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings.test")
    django.setup()
    use_own_test_database()

    from django.db import connection
    from django.test.utils import setup_test_environment

    from sampleproject.board.demo import seed

    setup_test_environment()
    _state["old_name"] = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False
    )
    seed()


def use_own_test_database() -> None:
    """Name the test database after this process, so a doctest build never
    clobbers the database of a pytest run, or of another build, in progress."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    test = database.setdefault("TEST", {})
    suffix = f"docs_{os.getpid()}"
    if database["ENGINE"].endswith("sqlite3"):
        path = Path(test.get("NAME") or database["NAME"])
        test["NAME"] = str(path.with_name(f"{path.stem}-{suffix}{path.suffix}"))
    else:
        test["NAME"] = f"test_{database['NAME']}_{suffix}"


def teardown_django(app=None, exception=None) -> None:
    if not _state:
        return
    from asgiref.sync import SyncToAsync
    from django.db import connection, connections
    from django.test.utils import teardown_test_environment

    # Connections are per thread. Awaited ORM calls outside a request ran in
    # asgiref's one thread-sensitive worker thread and left a connection open
    # there: close it in that thread, or PostgreSQL refuses to drop the
    # database and SQLite leaves its -wal and -shm files behind.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    connections.close_all()
    connection.creation.destroy_test_db(_state.pop("old_name"), verbosity=0)
    teardown_test_environment()


def setup(app):
    app.connect("build-finished", teardown_django)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
