"""Django settings for the benchmark workers only.

Minimal on purpose: no middleware unless ``BENCH_MIDDLEWARE`` asks for some
(``"sync:5"`` is five sync-only middleware, ``"async:5"`` five async-capable
ones), no context processors, ``DEBUG = False``. The sample project's board
app provides the ``Service`` model the realistic view reads; the SQLite file
named by ``BENCH_DB`` is created and migrated by the harness.
"""

import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost"]

INSTALLED_APPS = ["sampleproject.board"]

MIDDLEWARE_CLASSES = {
    "sync": "bench.middleware.SyncOnlyMiddleware",
    "async": "bench.middleware.AsyncCapableMiddleware",
}


def middleware_from_env(value: str) -> list[str]:
    """``"sync:5"`` -> five sync-only middleware; ``""`` -> none."""
    if not value:
        return []
    kind, _, count = value.partition(":")
    return [MIDDLEWARE_CLASSES[kind]] * int(count)


MIDDLEWARE = middleware_from_env(os.environ.get("BENCH_MIDDLEWARE", ""))

ROOT_URLCONF = "bench.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BENCH_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": []},
    }
]

# Django's default: a connection is opened for each request that queries, and
# closed when the request finishes (CONN_MAX_AGE = 0).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", ":memory:"),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The board app reads these at import time.
BOARD_REDIS_URL = ""
BOARD_ALLOWED_TARGETS: tuple[str, ...] = ()
BOARD_MAX_CONNECTIONS = 100
BOARD_CHECK_DEADLINE = 10.0
BOARD_HEARTBEAT_SECONDS = 15.0
BOARD_INCIDENT_RECIPIENTS: list[str] = []
