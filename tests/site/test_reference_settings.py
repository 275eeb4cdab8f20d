"""The facts of docs/reference/settings.md, checked against the installed packages.

Each Django setting the page lists exists where the page says (a global setting
in django.conf.global_settings, or a key of a DATABASES entry that Django fills
in), with the default the page gives; each environment variable appears in the
source that reads it; each pool option is a parameter of psycopg_pool's
ConnectionPool with the default the page gives.
"""

import inspect
import re
from pathlib import Path

import asgiref
import daphne.server
import django
import psycopg_pool
import pytest
from django.conf import global_settings
from django.db.utils import ConnectionHandler

from tests.support.sphinx import ROOT

PAGE = ROOT / "docs" / "reference" / "settings.md"

# Global settings: name, default, and the first Django release with it.
GLOBAL_SETTINGS = {
    "MIDDLEWARE": ([], (1, 10)),
    "AUTHENTICATION_BACKENDS": (["django.contrib.auth.backends.ModelBackend"], (1, 0)),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": (2621440, (1, 10)),
    "FILE_UPLOAD_MAX_MEMORY_SIZE": (2621440, (1, 0)),
    "TASKS": (
        {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}},
        (6, 0),
    ),
}
# Keys of each DATABASES entry, and the default Django fills in.
DATABASE_KEYS = {
    "CONN_MAX_AGE": 0,
    "CONN_HEALTH_CHECKS": False,
    "ATOMIC_REQUESTS": False,
}
POOL_DEFAULTS = {
    "min_size": 4,
    "max_size": None,
    "timeout": 30.0,
    "max_idle": 600.0,
    "max_lifetime": 3600.0,
    "max_waiting": 0,
}
# Environment variables of the sample project: the module that reads each, and
# its default there ("" for none).
SAMPLE_PROJECT_VARIABLES = {
    "DATABASE_URL": ("sampleproject/settings/services.py", ""),
    "REDIS_URL": ("sampleproject/settings/services.py", ""),
    "STATUSBOARD_DATA_DIR": ("sampleproject/settings/base.py", None),
    "EMAIL_BACKEND": (
        "sampleproject/settings/base.py",
        "django.core.mail.backends.smtp.EmailBackend",
    ),
    "DJANGO_SECRET_KEY": ("sampleproject/settings/prod.py", None),
    "DJANGO_ALLOWED_HOSTS": ("sampleproject/settings/prod.py", None),
    "DJANGO_STATIC_ROOT": ("sampleproject/settings/prod.py", None),
    "DJANGO_LOG_LEVEL": ("sampleproject/settings/prod.py", "INFO"),
}


def package_sources(package) -> dict[str, str]:
    root = Path(package.__file__).parent
    return {
        str(path.relative_to(root.parent)): path.read_text(encoding="utf-8")
        for path in root.rglob("*.py")
    }


def readers(package, name: str) -> list[str]:
    return sorted(
        path for path, text in package_sources(package).items() if name in text
    )


@pytest.mark.parametrize("name", sorted(GLOBAL_SETTINGS))
def test_each_global_setting_exists_with_the_default_the_page_gives(name):
    default, since = GLOBAL_SETTINGS[name]
    if django.VERSION[:2] < since:
        assert not hasattr(global_settings, name)
        return
    assert getattr(global_settings, name) == default
    assert f"{{setting}}`{name}`" in PAGE.read_text(encoding="utf-8")


def test_each_database_key_defaults_as_the_page_says():
    filled = ConnectionHandler({"default": {}}).settings["default"]
    for key, default in DATABASE_KEYS.items():
        assert filled[key] == default
        # Per database, not global: a global CONN_MAX_AGE would do nothing.
        assert not hasattr(global_settings, key)


def test_the_pool_refuses_persistent_connections():
    from django.core.exceptions import ImproperlyConfigured
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "CONN_MAX_AGE": 60,
                "OPTIONS": {"pool": True},
            }
        }
    ).settings["default"]
    # An alias of its own: pools are kept per alias, and the test settings may
    # already have built one for "default" (DATABASE_URL with a pool).
    wrapper = DatabaseWrapper(settings, alias="persistent-pool-test")
    try:
        with pytest.raises(ImproperlyConfigured, match="persistent connections"):
            wrapper.pool  # noqa: B018 (the property builds the pool)
    finally:
        wrapper._connection_pools.pop("persistent-pool-test", None)


@pytest.mark.parametrize("checks", [True, False])
def test_health_checks_make_the_pool_check_each_connection_it_lends(checks):
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "unused",
                "CONN_HEALTH_CHECKS": checks,
                "OPTIONS": {"pool": True},
            }
        }
    ).settings["default"]
    wrapper = DatabaseWrapper(settings, alias="pool-check-test")
    try:
        # Built closed: nothing connects.
        expected = psycopg_pool.ConnectionPool.check_connection if checks else None
        assert wrapper.pool._check == expected
    finally:
        wrapper._connection_pools.pop("pool-check-test", None)


def test_pool_options_are_connection_pool_parameters_with_these_defaults():
    parameters = inspect.signature(psycopg_pool.ConnectionPool).parameters
    for name, default in POOL_DEFAULTS.items():
        assert parameters[name].default == default


def test_django_allow_async_unsafe_is_read_by_django_only():
    assert readers(django, "DJANGO_ALLOW_ASYNC_UNSAFE") == [
        "django/core/checks/async_checks.py",
        "django/utils/asyncio.py",
    ]
    assert readers(asgiref, "DJANGO_ALLOW_ASYNC_UNSAFE") == []


def test_asgi_threads_is_read_by_daphne_only():
    assert readers(django, "ASGI_THREADS") == []
    assert readers(asgiref, "ASGI_THREADS") == []
    # Daphne sizes its event loop's default executor with it.
    source = inspect.getsource(daphne.server)
    assert 'ThreadPoolExecutor(max_workers=int(os.environ["ASGI_THREADS"]))' in source


def test_django_settings_module_is_what_django_reads():
    from django.conf import ENVIRONMENT_VARIABLE

    assert ENVIRONMENT_VARIABLE == "DJANGO_SETTINGS_MODULE"


@pytest.mark.parametrize("name", sorted(SAMPLE_PROJECT_VARIABLES))
def test_each_sample_project_variable_is_read_where_the_page_says(name):
    path, default = SAMPLE_PROJECT_VARIABLES[name]
    source = (ROOT / path).read_text(encoding="utf-8")
    # Read with os.environ.get(), or by prod.py's required()/required_list().
    reader = r"(os\.environ\.get|required|required_list)\(\s*"
    assert re.search(rf"""{reader}["']{name}["']""", source)
    if default:
        assert re.search(
            rf"""os\.environ\.get\(\s*["']{name}["'],\s*["']{re.escape(default)}["']""",
            source,
        )
    # Declared with the envvar directive, so it has an index entry.
    assert f"```{{envvar}} {name}\n" in PAGE.read_text(encoding="utf-8")
