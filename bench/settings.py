"""Django settings for the benchmark workers only.

Minimal on purpose: no middleware unless ``BENCH_MIDDLEWARE`` asks for some
(``"sync:5"`` is five sync-only middleware, ``"async:5"`` five async-capable
ones, ``"startproject:7"`` the seven that ``startproject`` writes,
``"async-native:7"`` their async-native versions from
snippets/internals/async_middleware.py), no context processors, ``DEBUG =
False``. The sample project's board
app provides the ``Service`` model the realistic view reads; the SQLite file
named by ``BENCH_DB`` is created and migrated by the harness.
"""

import ast
import os
from pathlib import Path

import django

BENCH_DIR = Path(__file__).resolve().parent

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost"]

INSTALLED_APPS = ["sampleproject.board"]

MIDDLEWARE_CLASSES = {
    "sync": "bench.middleware.SyncOnlyMiddleware",
    "async": "bench.middleware.AsyncCapableMiddleware",
}


ASYNC_NATIVE_MODULE = "snippets.internals.async_middleware"


def startproject_middleware() -> list[str]:
    """The MIDDLEWARE of the installed Django's project template."""
    template = Path(django.__file__).parent / "conf/project_template/project_name"
    tree = ast.parse((template / "settings.py-tpl").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "MIDDLEWARE":
            return ast.literal_eval(node.value)
    raise LookupError("no MIDDLEWARE in the project template")


def async_native(path: str) -> str:
    return f"{ASYNC_NATIVE_MODULE}.Async{path.rpartition('.')[2]}"


# Whole lists; the contrib apps they need join INSTALLED_APPS.
MIDDLEWARE_LISTS = {
    "startproject": startproject_middleware,
    "async-native": lambda: [async_native(p) for p in startproject_middleware()],
}
CONTRIB_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]


def middleware_from_env(value: str) -> list[str]:
    """``"sync:5"`` -> five sync-only middleware; ``""`` -> none."""
    if not value:
        return []
    kind, _, count = value.partition(":")
    if kind in MIDDLEWARE_LISTS:
        return MIDDLEWARE_LISTS[kind]()
    return [MIDDLEWARE_CLASSES[kind]] * int(count)


MIDDLEWARE = middleware_from_env(os.environ.get("BENCH_MIDDLEWARE", ""))
if MIDDLEWARE and MIDDLEWARE[0].startswith(("django.", ASYNC_NATIVE_MODULE)):
    INSTALLED_APPS = [*CONTRIB_APPS, *INSTALLED_APPS]

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
