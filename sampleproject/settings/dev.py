"""Development settings: debug on, loopback upstreams allowed for the fake upstream."""

from sampleproject.settings.base import *  # noqa: F403
from sampleproject.settings.base import DATA_DIR

DEBUG = True
SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
DATA_DIR.mkdir(parents=True, exist_ok=True)
# The fake upstream (python -m sampleproject.upstream) listens on 127.0.0.1.
BOARD_ALLOWED_TARGETS = ("loopback",)
# Incident opened/closed lines from the checker are INFO: show them. The
# console handler writes from a thread of its own, so that logging from async
# code never blocks the event loop; Django's own "django" logger uses it too,
# instead of its default console handler, which writes in the caller's thread.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "sampleproject.logthread.ThreadedStreamHandler"}},
    "loggers": {
        "sampleproject.board": {"handlers": ["console"], "level": "INFO"},
        "django": {"handlers": ["console"], "level": "INFO"},
    },
}
