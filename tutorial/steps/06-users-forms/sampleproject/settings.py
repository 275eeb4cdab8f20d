"""Settings for the status board: one module until part 8 splits it."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Development only: part 8 reads the key from the environment.
SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        # WAL lets readers work while a writer commits, so sync_to_async
        # threads and the event loop's thread do not lock each other out.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

# One process's memory. Part 8 switches to Redis, shared by every process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# The board's own settings.
# Categories of private targets a service URL may point at (see urlsafety.py):
# the fake upstream listens on 127.0.0.1, a loopback address.
BOARD_ALLOWED_TARGETS = ("loopback",)
# How many connections the shared httpx client may open at once.
BOARD_MAX_CONNECTIONS = 100
# A check-all request answers within this many seconds, whatever upstreams do.
BOARD_CHECK_DEADLINE = 10.0
# Seconds between keep-alive comments on an idle event stream.
BOARD_HEARTBEAT_SECONDS = 15.0

# Where login_required sends anonymous users: the admin's login page.
LOGIN_URL = "admin:login"
# Forms are small: refuse request bodies over 64 KiB with a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
