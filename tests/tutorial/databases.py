"""The replay's PostgreSQL guard: a part drops no database it did not create.

Part 8 creates a database of its own, ``statusboard_tutorial``. The replay gives
it a name unique to the run (two replays may share one server), checks that
every database that existed before a part still exists after it, and then
drops the run's database: the only one it may drop, since it created it.
Databases that other test runs on the same server make and drop while a part
runs (Django's ``test_`` databases, other replays' own) are not the part's to
keep, so their coming and going is not counted.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator

TUTORIAL_DATABASE = "statusboard_tutorial"
SERVER = ["-h", "127.0.0.1", "-U", "postgres"]


class DatabaseLost(AssertionError):
    """A part dropped a database that it did not create."""


def transient(name: str) -> bool:
    """A database that another test run may drop at any moment."""
    return name.startswith(("test_", f"{TUTORIAL_DATABASE}_"))


def run_name() -> str:
    return f"{TUTORIAL_DATABASE}_{secrets.token_hex(4)}"


def databases() -> set[str] | None:
    """Every database on the server, or None when it cannot be asked."""
    if shutil.which("psql") is None:
        return None
    result = subprocess.run(
        ["psql", *SERVER, "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        return None
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


@contextlib.contextmanager
def guarded(run_database: str) -> Iterator[None]:
    """Fail if the block drops a database; then drop ``run_database`` if it made it."""
    before = databases()
    after: set[str] = set()
    try:
        yield
    finally:
        if before is not None:
            after = databases() or set()
            if run_database in after - before:
                subprocess.run(
                    ["dropdb", *SERVER, "--if-exists", run_database],
                    capture_output=True,
                    timeout=30,
                    check=True,
                )
    lost = sorted(n for n in before - after if not transient(n)) if before else []
    if lost:
        raise DatabaseLost(f"the part dropped databases it did not create: {lost}")
