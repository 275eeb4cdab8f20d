"""Settings that serve snippets/guides/deployment.py, for its tests' servers."""

from sampleproject.settings.test import *  # noqa: F403

ROOT_URLCONF = "snippets.guides.deployment"
ALLOWED_HOSTS = ["127.0.0.1"]
