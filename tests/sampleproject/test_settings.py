"""Environment variables select the database and the cache."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from sampleproject.settings.services import cache_from_env, database_from_env

SQLITE = Path("/tmp/board.sqlite3")


def test_sqlite_by_default_in_wal_mode(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    database = database_from_env(SQLITE)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_postgres_url_uses_the_pool_and_no_persistent_connections(monkeypatch):
    monkeypatch.setenv(
        "DATABASE_URL", "postgres://board:s%40cret@db.internal:6543/status"
    )
    database = database_from_env(SQLITE)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        "status",
        "board",
        "s@cret",
    )
    assert (database["HOST"], database["PORT"]) == ("db.internal", "6543")
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"]


def test_unknown_database_scheme_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/board")
    with pytest.raises(ImproperlyConfigured, match="must start with postgres://"):
        database_from_env(SQLITE)


def test_cache_is_local_memory_by_default(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert cache_from_env()["BACKEND"].endswith("LocMemCache")


def test_redis_url_selects_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/1")
    cache = cache_from_env()
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:6379/1"


def test_unknown_redis_scheme_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="must start with redis://"):
        cache_from_env()
