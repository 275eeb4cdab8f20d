"""Settings for pytest and the doctests: fast hashing, same backing services."""

import os

from sampleproject.settings.dev import *  # noqa: F403
from sampleproject.settings.dev import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per process, so two test runs at once never drop each
# other's tables. On SQLite it is a file, not Django's default in-memory
# database: several threads write at once in the concurrency tests.
_database = DATABASES["default"]
if _database["ENGINE"].endswith("sqlite3"):
    _database["TEST"] = {
        "NAME": str(_database["NAME"]).replace(
            ".sqlite3", f"-test-{os.getpid()}.sqlite3"
        )
    }
else:
    _database["TEST"] = {"NAME": f"test_{_database['NAME']}_{os.getpid()}"}
