"""``python -m sampleproject.devserver``: the whole demo in one command (``make run``).

Prepares the database (``migrate``, ``seed_demo``), then runs two programs
until Ctrl+C or SIGTERM: the fake upstream the demo services point at, and
uvicorn serving the board on 127.0.0.1 with the background checker in the same
event loop (:mod:`sampleproject.devasgi`), so its events reach the browsers
without Redis. Each child runs in its own process group, so a Ctrl+C in the
terminal reaches this supervisor only, and it stops the children in order
rather than all of them at once printing tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "sampleproject" / "manage.py")]
HOST = "127.0.0.1"
PROG = "python -m sampleproject.devserver"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_SECONDS = 0.1
# uvicorn waits for open connections before it exits, and a browser keeps the
# board's event stream open: without a limit, stopping would wait for the tab.
GRACEFUL_SHUTDOWN_SECONDS = 2


class DemoFailed(Exception):
    """Something the user has to fix; the message says what."""


class StopRequested(Exception):
    """Ctrl+C or SIGTERM arrived: stop, successfully."""


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number, got {text!r}"
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run the status board demo on 127.0.0.1 until Ctrl+C: the"
        " board under uvicorn, the fake upstream and the background checker.",
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="the board (default: 8000)"
    )
    parser.add_argument(
        "--upstream-port",
        type=port_number,
        default=8001,
        help="the fake upstream (default: 8001)",
    )
    return parser


def port_problem(port: int) -> str | None:
    """Why ``HOST:port`` cannot be listened on, or None if it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn does: a port left in TIME_WAIT by the last run is usable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=POLL_SECONDS):
            return True
    except OSError:
        return False


class Supervisor:
    """Starts children in their own process groups and stops them all on exit."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stop_signal: int | None = None

    @contextlib.contextmanager
    def signals_handled(self):
        def request_stop(signum, frame):
            self.stop_signal = signum

        previous = {
            signum: signal.signal(signum, request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop_if_requested(self) -> None:
        # The handler only records the signal; raising here instead, between
        # steps, never leaves a child started but not yet in self.children.
        if self.stop_signal is not None:
            raise StopRequested

    def run(self, command: list[str], what: str) -> subprocess.CompletedProcess:
        # In its own session too, so that a Ctrl+C lets the step finish
        # instead of failing it with a traceback; the stop comes right after.
        result = subprocess.run(command, cwd=ROOT, check=False, start_new_session=True)
        self.stop_if_requested()
        if result.returncode:
            raise DemoFailed(f"{what} failed with exit code {result.returncode}")
        return result

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        self.stop_if_requested()
        child = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        self.children.append((name, child))
        return child

    def check_children(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise DemoFailed(f"{name} exited with code {child.returncode}")

    def wait_until_listening(self, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            self.stop_if_requested()
            self.check_children()
            if accepts_connections(port):
                return
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"nothing listens on {HOST}:{port} after {READY_TIMEOUT} s"
                )
            time.sleep(POLL_SECONDS)

    def wait_for_stop(self) -> NoReturn:
        while True:
            self.stop_if_requested()
            self.check_children()
            time.sleep(POLL_SECONDS)

    def stop_all(self) -> None:
        """SIGTERM every child's group, newest first; SIGKILL what lingers."""
        if any(child.poll() is None for _, child in self.children):
            print("Stopping...", file=sys.stderr, flush=True)
        for _, child in reversed(self.children):
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in reversed(self.children):
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                warn(f"{name} did not stop in {STOP_TIMEOUT} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def warn(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace, supervisor: Supervisor) -> NoReturn:
    upstream = f"http://{HOST}:{args.upstream_port}"
    supervisor.run([*MANAGE, "migrate", "--no-input", "--verbosity", "0"], "migrate")
    supervisor.run([*MANAGE, "seed_demo", "--upstream", upstream], "seed_demo")
    supervisor.start(
        "the fake upstream",
        [
            *(sys.executable, "-m", "sampleproject.upstream"),
            *("--port", str(args.upstream_port)),
            # The checker polls it all the time: log problems, not requests.
            *("--log-level", "warning"),
        ],
    )
    supervisor.start(
        "uvicorn",
        [
            *(sys.executable, "-m", "uvicorn", "sampleproject.devasgi:application"),
            *("--host", HOST, "--port", str(args.port)),
            # The lifespan protocol starts and stops the checker.
            "--lifespan=on",
            *("--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)),
        ],
    )
    supervisor.wait_until_listening(args.port)
    print(
        f"\nStatus board on http://{HOST}:{args.port}/ (Ctrl+C to stop)\n", flush=True
    )
    supervisor.wait_for_stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.port == args.upstream_port:
        warn(f"--port and --upstream-port must differ (both are {args.port})")
        return 1
    # Checked before anything starts: a busy port is one line, not a traceback
    # from a child after the database work is done.
    for option, port in (
        ("--port", args.port),
        ("--upstream-port", args.upstream_port),
    ):
        problem = port_problem(port)
        if problem:
            warn(f"cannot listen on {HOST}:{port} ({option}): {problem}")
            return 1
    supervisor = Supervisor()
    with supervisor.signals_handled():
        try:
            serve(args, supervisor)
        except StopRequested:
            return 0
        except DemoFailed as error:
            warn(f"{error}; stopping")
            return 1
        finally:
            supervisor.stop_all()


if __name__ == "__main__":
    sys.exit(main())
