"""A blocking-call guard: an async test that blocks its event loop fails.

Every async test runs with blockbuster's detector switched on, plus the rules
stock blockbuster lacks (:data:`EXTRA_RULES`): loading a CA bundle, opening a
file, resolving a host name, and writing a log record. The detector patches
those functions; a patched function called from a thread whose event loop is
running is a detection.

Blockbuster raises ``BlockingError`` at the call. The guard records the call
instead and lets it go on, then fails the test once it is over with a report
that names the project's frame that made the call. A raise would often be
turned into something vaguer (a view's 500, a cancelled task, a server's log
line) before the test saw it.

A detection whose stack matches an entry of
:data:`tests.support.blocking_allowlist.ALLOWED` is counted under that entry's
reason, and does not fail the test. The summary at the end of the run counts
the detections by where they came from.

The same guard runs inside a server process: :mod:`tests.support.guarded_asgi`
activates it around the sample project's ASGI application and appends each
detection to a JSON-lines file that the smoke test reads.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import os
import socket
import threading
from collections import Counter
from pathlib import Path

import forbiddenfruit
import pytest
from blockbuster import BlockBuster, BlockBusterFunction, BlockingError

ROOT = Path(__file__).resolve().parents[2]
_THIS_FILE = str(Path(__file__).resolve())
_VENV = str(ROOT / ".venv")


def _not_a_real_file(stream) -> bool:
    # An in-memory stream (pytest's log capture, a StringIO) cannot block.
    try:
        stream.fileno()
    except (io.UnsupportedOperation, AttributeError, ValueError):
        return True
    return False


def _handler_is_in_memory(handler, *_, **__) -> bool:
    return _not_a_real_file(getattr(handler, "stream", None))


def _numeric_host(host, *_, **__) -> bool:
    # A literal address resolves without a lookup, so it cannot wait on DNS.
    if isinstance(host, bytes):
        host = host.decode()
    if host is None:
        return True
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, str(host))
        except OSError:
            continue
        return True
    return False


EXTRA_RULES = {
    # Runs in C, so stock blockbuster's file-read rules never see it.
    "ssl.SSLContext.load_verify_locations": {},
    "builtins.open": {},
    "socket.getaddrinfo": {"can_block_predicate": _numeric_host},
    # A log record written to a file or a pipe waits on the disk or the reader.
    "logging.StreamHandler.emit": {"can_block_predicate": _handler_is_in_memory},
    "logging.StreamHandler.flush": {"can_block_predicate": _handler_is_in_memory},
    "logging.FileHandler.emit": {"can_block_predicate": _handler_is_in_memory},
}


def _extra_functions() -> dict[str, BlockBusterFunction]:
    return {
        name: BlockBusterFunction(None, name, **options)
        for name, options in EXTRA_RULES.items()
    }


@dataclasses.dataclass
class Detection:
    call: str
    stack: list[tuple[str, int, str]]  # (path, line, function), innermost first
    test: str = ""
    allowed_because: str = ""

    @property
    def culprit(self) -> str:
        """The innermost frame in this repository: where the call was made."""
        for path, line, function in self.stack:
            if path.startswith(str(ROOT)) and not path.startswith(_VENV):
                relative = os.path.relpath(path, ROOT)
                return f"{relative}:{function} (line {line})"
        path, line, function = self.stack[0]
        return f"{path}:{function} (line {line})"

    @property
    def area(self) -> str:
        """Which code made the call: the project's, the tests', or a library's."""
        first = self.culprit.split("/", 1)[0] or "elsewhere"
        return {"sampleproject": "project", "snippets": "project"}.get(first, first)

    def describe(self) -> str:
        lines = [f"{self.call} from {self.culprit}"]
        lines += [
            f"    {os.path.relpath(path, ROOT) if path.startswith(str(ROOT)) else path}"
            f":{line} in {function}"
            for path, line, function in self.stack[:12]
        ]
        return "\n".join(lines)


class _Recording(threading.local):
    value = False


_recording = _Recording()


class Guard:
    """Blockbuster in recording mode, with the extra rules and the allowlist."""

    def __init__(self, allowed=None):
        from tests.support.blocking_allowlist import ALLOWED

        self.allowed = ALLOWED if allowed is None else allowed
        self.detections: list[Detection] = []
        self.test = ""
        self._buster = None
        self._lock = threading.Lock()
        self.active = False
        self.on_detection = None

    def activate(self) -> None:
        # Built afresh each time, so that it wraps what each function is now:
        # a wrapper built earlier would undo a test's monkeypatch on the way out.
        self._buster = BlockBuster()
        self._buster.functions.update(_extra_functions())
        self._buster.activate()
        for function in self._buster.functions.values():
            if function.activated:
                self._record_instead_of_raising(function)
        self.active = True

    def deactivate(self) -> None:
        self._buster.deactivate()
        self.active = False

    def _record_instead_of_raising(self, function: BlockBusterFunction) -> None:
        checker = getattr(function.module, function.func_name)
        original = function.original_func
        guard = self

        def recording(*args, **kwargs):
            if _recording.value:
                # The guard's own bookkeeping (a report file, a log line).
                return original(*args, **kwargs)
            try:
                return checker(*args, **kwargs)
            except BlockingError:
                _recording.value = True
                try:
                    guard._record(function.full_name)
                finally:
                    _recording.value = False
                return original(*args, **kwargs)

        try:
            setattr(function.module, function.func_name, recording)
        except TypeError:
            forbiddenfruit.curse(function.module, function.func_name, recording)

    def _record(self, call: str) -> None:
        frame = inspect.currentframe()
        stack = []
        while frame is not None:
            path = frame.f_code.co_filename
            if path != _THIS_FILE and "blockbuster/" not in path:
                stack.append((path, frame.f_lineno, frame.f_code.co_name))
            frame = frame.f_back
        detection = Detection(call, stack, self.test)
        for entry in self.allowed:
            if entry.matches(detection):
                detection.allowed_because = entry.reason
                break
        with self._lock:
            self.detections.append(detection)
        if self.on_detection is not None:
            self.on_detection(detection)


def failures(detections: list[Detection]) -> list[Detection]:
    return [d for d in detections if not d.allowed_because]


def failure_report(detections: list[Detection]) -> str:
    found = failures(detections)
    by_place = Counter(f"{d.call} from {d.culprit}" for d in found)
    lines = [f"{len(found)} blocking call(s) on the event loop:"]
    lines += [f"  {count} x {place}" for place, count in by_place.most_common()]
    lines += ["", "first stack (innermost first):", found[0].describe()]
    return "\n".join(lines)


class BlockingCallsFound(AssertionError):
    pass


def is_async_test(item) -> bool:
    function = getattr(item, "obj", None)
    return inspect.iscoroutinefunction(function) or (
        item.get_closest_marker("asyncio") is not None
    )


class GuardPlugin:
    """Runs every async test's setup, call and teardown under the guard."""

    def __init__(self):
        self.guard = Guard()

    # One activation spans setup, call and teardown: switching the detector
    # off between phases would undo what a fixture patched during setup.
    def _run_phase(self, item, *, first=False, last=False):
        if not is_async_test(item):
            return (yield)
        guard = self.guard
        if first:
            if _templates_were_reset():
                # A settings change dropped the engines: load them off the loop.
                warm_templates()
            guard.test = item.nodeid
            guard.activate()
        start = len(guard.detections)
        try:
            result = yield
        finally:
            if last and guard.active:
                guard.deactivate()
        new = guard.detections[start:]
        if failures(new):
            raise BlockingCallsFound(failure_report(new))
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._run_phase(item, first=True))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield from self._run_phase(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item):
        return (yield from self._run_phase(item, last=True))

    def pytest_terminal_summary(self, terminalreporter):
        detections = self.guard.detections
        if path := os.environ.get("BLOCKING_REPORT"):
            with open(path, "w") as report:
                for d in detections:
                    report.write(json.dumps(dataclasses.asdict(d)) + "\n")
        write = terminalreporter.write_line
        write("")
        if not detections:
            write("blocking guard: 0 detections in async tests")
            return
        found = failures(detections)
        by_area = Counter(d.area for d in found)
        areas = ", ".join(f"{n} in {area}" for area, n in by_area.most_common())
        write(
            f"blocking guard: {len(found)} detection(s) failed tests"
            + (f" ({areas})" if areas else "")
            + f"; {len(detections) - len(found)} allowed"
        )
        for place, count in Counter(
            f"{d.call} from {d.culprit}" for d in found
        ).most_common():
            write(f"  FAILED {count} x {place}")
        for reason, count in Counter(
            d.allowed_because for d in detections if d.allowed_because
        ).most_common():
            write(f"  allowed {count} x {reason}")


def warm_templates() -> int:
    """Load every template of every Django engine, as a server's start-up would.

    Building an engine discovers template tag libraries on disk, and the
    cached loader reads each template file on its first use. A server that
    warms its templates at start-up does both before its first request; a
    test session does them here, off the loop, so that an async test's render
    is the CPU work it is in such a server. Whether the project's own start-up
    does it is for the smoke run (tests/sampleproject/test_blocking_smoke.py)
    to find out: its server gets no help from here.
    """
    from django.template.backends.django import DjangoTemplates

    global _warmed
    loaded = 0
    _warmed = _template_engines()
    for engine in _warmed:
        if not isinstance(engine, DjangoTemplates):
            continue
        for directory in engine.template_dirs:
            for path in Path(directory).rglob("*"):
                if path.is_file() and path.suffix in {".html", ".txt", ".xml"}:
                    name = path.relative_to(directory).as_posix()
                    try:
                        engine.get_template(name)
                    except Exception:
                        # A fragment that only parses inside its parent.
                        continue
                    loaded += 1
    return loaded


_warmed: list = []


def _template_engines() -> list:
    from django.forms.renderers import get_default_renderer
    from django.template import engines

    # The form renderer has an engine of its own for the widgets' templates.
    return [*engines.all(), getattr(get_default_renderer(), "engine", None)]


def _templates_were_reset() -> bool:
    """A settings change since the last warm-up replaced an engine."""
    from django.conf import settings

    if not settings.configured:
        return False
    current = _template_engines()
    return len(current) != len(_warmed) or any(
        engine is not warm for engine, warm in zip(current, _warmed, strict=True)
    )


@pytest.fixture(scope="session", autouse=True)
def _warm_templates(request):
    if request.config.pluginmanager.hasplugin("django"):
        from django.conf import settings

        if settings.configured:
            warm_templates()


def pytest_configure(config):
    if config.pluginmanager.get_plugin("blocking-guard") is None:
        config.pluginmanager.register(GuardPlugin(), "blocking-guard")
