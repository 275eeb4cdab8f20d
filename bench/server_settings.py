"""Django settings for the benchmarks through real servers.

The in-process benchmarks' settings (:mod:`bench.settings`) plus what a real
site has: the middleware stack ``startproject`` writes (security, sessions,
common, CSRF, authentication, messages, clickjacking), the apps it needs, and
the sample project's settings for its check-all and event-stream views. The
SQLite file named by ``BENCH_DB`` is prepared by :mod:`bench.server_setup`.
"""

from bench.settings import *  # noqa: F403

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "sampleproject.board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bench.server_urls"

# The fake upstream listens on 127.0.0.1, which the board refuses by default.
BOARD_ALLOWED_TARGETS = ("loopback",)
# Long enough for the sync twin to check all 50 services one after another
# (about 50 x 200 ms), so both views do the same work.
BOARD_CHECK_DEADLINE = 30.0
BOARD_HEARTBEAT_SECONDS = 15.0
