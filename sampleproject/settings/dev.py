"""Development settings: debug on, loopback upstreams allowed for the fake upstream."""

from sampleproject.settings.base import *  # noqa: F403
from sampleproject.settings.base import DATA_DIR

DEBUG = True
SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
DATA_DIR.mkdir(parents=True, exist_ok=True)
# The fake upstream (python -m sampleproject.upstream) listens on 127.0.0.1.
BOARD_ALLOWED_TARGETS = ("loopback",)
# Incident opened/closed lines from the checker are INFO: show them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"sampleproject.board": {"handlers": ["console"], "level": "INFO"}},
}
