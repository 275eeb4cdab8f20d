"""Settings shared by every environment."""

import os
from pathlib import Path

import django

from sampleproject.settings.services import cache_from_env, database_from_env

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("STATUSBOARD_DATA_DIR", PROJECT_DIR.parent / "var"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sampleproject.board",
]

MIDDLEWARE = [
    # First, so the Server-Timing header covers everything below it.
    "sampleproject.board.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "sampleproject.board.formcharset.FormCharsetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sampleproject.urls"
WSGI_APPLICATION = "sampleproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_from_env(DATA_DIR / "statusboard.sqlite3")}
CACHES = {"default": cache_from_env()}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "admin:login"

# The board's own settings.
# Redis pub/sub for live updates when REDIS_URL is set; in-process otherwise.
BOARD_REDIS_URL = os.environ.get("REDIS_URL", "")
# Categories of private targets a service URL may point at (see urlsafety.py).
BOARD_ALLOWED_TARGETS: tuple[str, ...] = ()
# How many connections the shared httpx client may open at once.
BOARD_MAX_CONNECTIONS = 100
# A check-all request answers within this many seconds, whatever upstreams do.
BOARD_CHECK_DEADLINE = 10.0
# Seconds between keep-alive comments on an idle event stream.
BOARD_HEARTBEAT_SECONDS = 15.0
# Incident e-mails go to these addresses; none: no e-mail.
BOARD_INCIDENT_RECIPIENTS: list[str] = []
DEFAULT_FROM_EMAIL = "statusboard@localhost"
_email_backend = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
# Seconds an SMTP connection waits for the mail server. Django's default is
# none: a server that accepts and then stalls would hold a send forever.
_email_timeout = 10.0
if django.VERSION >= (6, 1):
    # New in Django 6.1: MAILERS replaces EMAIL_BACKEND and the other EMAIL_*
    # connection settings, which are deprecated.
    _mailer = {"BACKEND": _email_backend}
    if _email_backend == "django.core.mail.backends.smtp.EmailBackend":
        _mailer["OPTIONS"] = {
            "host": "localhost",
            "port": 25,
            "timeout": _email_timeout,
        }
    MAILERS = {"default": _mailer}
else:
    EMAIL_BACKEND = _email_backend
    EMAIL_TIMEOUT = _email_timeout
# Forms are small: refuse request bodies over 64 KiB with a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
