"""Turn environment variables into DATABASES and CACHES entries.

With no variables set the project needs nothing: SQLite and the local-memory
cache. ``DATABASE_URL=postgres://user@host:port/name`` selects PostgreSQL and
``REDIS_URL=redis://host:port/db`` selects Redis.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def database_from_env(sqlite_path: Path) -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_path,
            # WAL lets readers work while a writer commits, so sync_to_async
            # threads and the event loop's thread do not lock each other out.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or postgresql://, got {url!r}"
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Under ASGI every sync_to_async thread gets its own connection, and a
        # persistent one (CONN_MAX_AGE > 0) stays open in that thread after the
        # request. A pool hands connections back instead; Django requires
        # CONN_MAX_AGE = 0 when the pool is on.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 10, "timeout": 10}},
    }


def cache_from_env() -> dict:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if urlsplit(url).scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(
            f"REDIS_URL must start with redis:// or rediss://, got {url!r}"
        )
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
