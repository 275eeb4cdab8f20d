"""Production settings, read from the environment.

Required: ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS`` (comma separated).
Optional: ``DJANGO_STATIC_ROOT`` (where ``collectstatic`` puts files),
``DJANGO_LOG_LEVEL`` (default ``INFO``), and the backing services of
:mod:`sampleproject.settings.services` (``DATABASE_URL``, ``REDIS_URL``).
``manage.py check --deploy`` reports no issues with these settings.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from sampleproject.settings.base import *  # noqa: F403
from sampleproject.settings.base import DATA_DIR


def missing(name: str, meaning: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"Set the {name} environment variable to {meaning}:"
        " the production settings have no default for it."
    )


def required(name: str, meaning: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise missing(name, meaning)
    return value


def required_list(name: str, meaning: str) -> list[str]:
    items = [item.strip() for item in os.environ.get(name, "").split(",")]
    if not any(items):
        raise missing(name, meaning)
    return [item for item in items if item]


DEBUG = False
SECRET_KEY = required(
    "DJANGO_SECRET_KEY",
    "a long random string (python -c 'import secrets;"
    " print(secrets.token_urlsafe(50))')",
)
ALLOWED_HOSTS = required_list(
    "DJANGO_ALLOWED_HOSTS", "the host names the site answers to, comma separated"
)

# HTTPS only. The TLS terminator is usually a proxy in front of the app server;
# Django learns that the client spoke HTTPS from the header the proxy sets.
# Trusting that header is safe only if the app server is reachable solely
# through that proxy and the proxy overwrites (never passes on) any
# X-Forwarded-Proto a client sends; otherwise a client can claim HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# One year, the minimum the HSTS preload list accepts. Browsers then refuse
# plain HTTP to every subdomain too for that long: start lower on a new domain.
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# The checker may reach public addresses only, never the server's own network.
BOARD_ALLOWED_TARGETS: tuple[str, ...] = ()

STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", DATA_DIR / "static"))

# Everything to stderr, where the process manager or container runtime
# collects it; no e-mails to ADMINS.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        # Writes from a thread of its own: logging never blocks the event loop.
        "stderr": {
            "class": "sampleproject.logthread.ThreadedStreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        },
    },
    "root": {
        "handlers": ["stderr"],
        "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
    },
    # Django's default configuration also handles "django" itself (console
    # only when DEBUG is on, mail to ADMINS); pass it up to the root instead.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
