"""The blocking calls the guard lets through, each with its reason.

Keep this list short. An entry matches narrowly: the blocked call's name, and
either a frame on its stack (``path/suffix.py:function``) or a test's node id.
The project's own code (sampleproject/, snippets/) never belongs here: fix the
call instead (see docs/guides for how to move work off the loop).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Allowed:
    calls: tuple[str, ...]
    reason: str
    frame: str = ""  # "path/suffix.py:function", matched against the whole stack
    test: str = ""  # a test's node id, or its prefix ending in "::"

    def matches(self, detection) -> bool:
        if detection.call not in self.calls:
            return False
        if self.test:
            wanted = detection.test
            if not (wanted == self.test or wanted.startswith(self.test + "[")):
                return False
        if self.frame:
            path, function = self.frame.rsplit(":", 1)
            return any(
                name == function and filename.endswith(path)
                for filename, _, name in detection.stack
            )
        return True


SQLITE = tuple(
    f"sqlite3.{kind}.{method}"
    for kind, methods in {
        "Connection": ("execute", "executemany", "executescript", "commit"),
        "Cursor": ("execute", "executemany", "fetchone", "fetchmany", "fetchall"),
    }.items()
    for method in methods
)

ALLOWED: list[Allowed] = [
    Allowed(
        ("io.BufferedRandom.write",),
        "Django's ASGIHandler.read_body writes on the loop the chunk that rolls a"
        " spooled body over to disk (and, on 5.2, every chunk after it)",
        frame="django/core/handlers/asgi.py:read_body",
    ),
    Allowed(
        ("os.stat", "os.path.exists", "os.path.isfile", "builtins.open"),
        "a test reads Django's source to pin a claim to the code",
        frame="inspect.py:getsource",
    ),
    Allowed(
        (
            "os.stat",
            "os.listdir",
            "builtins.open",
            "io.BufferedReader.read",
            "io.TextIOWrapper.read",
        ),
        "redis-py reads its own version from the package metadata on disk"
        " (importlib.metadata) each time it opens a connection: a library call,"
        " once per new pooled connection",
        frame="redis/utils.py:get_lib_version",
    ),
    Allowed(
        ("socket.socket.sendall", "socket.socket.recv", "socket.socket.connect"),
        "deliberate demo: the cache's sync API blocks the loop without raising",
        test="tests/internals/test_async_safety.py"
        "::test_unguarded_sync_apis_do_not_raise",
    ),
    Allowed(
        SQLITE,
        "deliberate demo: a sync query on the loop stalls it (async-safety page)",
        test="tests/internals/test_async_safety.py"
        "::test_an_unguarded_sync_query_blocks_the_event_loop",
    ),
    Allowed(
        SQLITE,
        "deliberate demo: sync queries on the loop open a connection per task",
        test="tests/internals/test_async_safety.py"
        "::test_unguarded_queries_on_the_loop_open_a_connection_per_task",
    ),
]
