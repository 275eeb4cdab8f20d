"""Tests of snippets/guides/blocking_calls.py, shown on docs/guides/blocking-calls.md.

Every test here is sync and runs its event loop with ``asyncio.run``: the
planted bug blocks the loop on purpose, and the blocking-call guard fails an
async test that does (tests/support/blocking.py). Each test that needs the
guard or blockbuster switches it on itself, around its own loop.
"""

import asyncio
import json
import logging
import re
import socket
import ssl
import tempfile

import certifi
import pytest
from blockbuster import BlockingError, blockbuster_ctx

from sampleproject.logthread import ThreadedStreamHandler
from snippets.guides.blocking_calls import (
    RETRY_DELAY,
    profile,
    request_fixed_probe,
    request_probe,
    run_in_debug_mode,
)
from tests.support.blocking import EXTRA_RULES, Guard, failures

SLOW = re.compile(
    r"Executing <Task .*coro=<request_probe\(\).* took (\d+\.\d+) seconds"
)


def detections_of(main):
    """Run ``main()`` on a loop of its own under the project's guard."""
    guard = Guard(allowed=[])
    guard.activate()
    try:
        result = asyncio.run(main())
    finally:
        guard.deactivate()
    return result, failures(guard.detections)


def test_the_planted_bug_answers():
    for main in (request_probe, request_fixed_probe):
        response = asyncio.run(main())
        assert json.loads(response.content) == {"service": "payments", "status": "up"}


def test_debug_mode_logs_the_task_that_held_the_loop():
    messages = run_in_debug_mode(request_probe)
    slow = [SLOW.search(message) for message in messages]
    assert [match is not None for match in slow] == [True]
    assert float(slow[0].group(1)) >= RETRY_DELAY


def test_debug_mode_logs_nothing_for_the_fix():
    assert run_in_debug_mode(request_fixed_probe) == []


def test_blockbuster_raises_at_the_blocking_call():
    with blockbuster_ctx():
        with pytest.raises(
            BlockingError, match=r"^Blocking call to time\.sleep$"
        ) as raised:
            asyncio.run(request_probe())
        assert "retry" in [entry.name for entry in raised.traceback]
        asyncio.run(request_fixed_probe())


def test_the_guard_records_the_call_and_names_the_line():
    response, found = detections_of(request_probe)
    assert response.status_code == 200  # recorded, not raised
    assert [d.call for d in found] == ["time.sleep"]
    assert found[0].culprit.startswith("snippets/guides/blocking_calls.py:retry ")
    assert detections_of(request_fixed_probe)[1] == []


def test_the_extra_rules_are_not_in_stock_blockbuster():
    from blockbuster import BlockBuster

    assert not set(EXTRA_RULES) & set(BlockBuster().functions)


def log_to(handler):
    async def main():
        logger = logging.getLogger("snippets.guides.blocking_calls.test")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            logger.warning("payments is down")
        finally:
            logger.removeHandler(handler)

    return main


def loads_a_ca_bundle():
    async def main():
        # What an HTTP client does when it builds its client: certifi's bundle.
        ssl.create_default_context(cafile=certifi.where())

    return main


def resolves(host):
    async def main():
        socket.getaddrinfo(host, 443)

    return main


def opens_a_file(path):
    async def main():
        # Only the open: stock blockbuster has rules for the reads after it.
        open(path).close()  # noqa: ASYNC230 (the call under test)

    return main


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda f: log_to(logging.StreamHandler(f)), "logging.StreamHandler.emit"),
        (lambda f: log_to(logging.FileHandler(f.name)), "logging.FileHandler.emit"),
        (lambda f: loads_a_ca_bundle(), "ssl.SSLContext.load_verify_locations"),
        (lambda f: resolves("localhost"), "socket.getaddrinfo"),
        (lambda f: opens_a_file(f.name), "builtins.open"),
    ],
)
def test_the_guard_catches_each_extra_rule(make, expected):
    with tempfile.NamedTemporaryFile("w+") as file:
        _, found = detections_of(make(file))
    assert expected in {d.call for d in found}


@pytest.mark.parametrize(
    "make",
    [
        lambda f: loads_a_ca_bundle(),
        lambda f: resolves("localhost"),
        lambda f: opens_a_file(f.name),
    ],
)
def test_stock_blockbuster_lets_these_calls_through(make):
    with tempfile.NamedTemporaryFile("w+") as file, blockbuster_ctx():
        asyncio.run(make(file)())


def test_stock_blockbusters_error_in_a_log_write_is_swallowed_by_logging(capsys):
    with tempfile.NamedTemporaryFile("w+") as file:
        with blockbuster_ctx():
            asyncio.run(log_to(logging.StreamHandler(file))())
        file.seek(0)
        assert file.read() == ""  # the record is lost, and nothing raised
    printed = capsys.readouterr().err
    assert "--- Logging error ---" in printed
    assert "BlockingError: Blocking call to io.TextIOWrapper.write" in printed


def test_a_numeric_address_and_an_in_memory_log_are_not_blocking():
    import io

    assert detections_of(resolves("127.0.0.1"))[1] == []
    assert detections_of(log_to(logging.StreamHandler(io.StringIO())))[1] == []


def test_the_threaded_stream_handler_writes_off_the_loop():
    with tempfile.TemporaryFile("w+") as file:
        handler = ThreadedStreamHandler(file)
        _, found = detections_of(log_to(handler))
        handler.close()  # at shutdown, off the loop: writes what is queued
        file.seek(0)
        written = file.read()
    assert found == []
    assert written == "payments is down\n"


def test_pyinstrument_shows_the_sleep_under_the_view():
    text = asyncio.run(profile(request_probe))
    tree = [line.split("─ ")[-1].split() for line in text.splitlines() if "─ " in line]
    assert [frame[1] for frame in tree] == [
        "request_probe",
        "probe_service",
        "retry",
        "sleep",
    ]
    assert all(float(frame[0]) >= RETRY_DELAY * 0.9 for frame in tree)
