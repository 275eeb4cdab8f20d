"""``python -m sampleproject.devserver``: the whole demo in one command (``make run``).

Prepares the database (``migrate``, ``seed_demo``), then runs two programs
until Ctrl+C or SIGTERM: the fake upstream the demo services point at, and
uvicorn serving the board on 127.0.0.1 with the background checker in the same
event loop (:mod:`sampleproject.devasgi`), so its events reach the browsers
without Redis. Each child runs in its own process group, so a Ctrl+C in the
terminal reaches this supervisor only, and it stops the children one by one,
the board first, rather than all of them at once printing tracebacks.

The children stop with it however it stops:

- Ctrl+C, SIGTERM or SIGHUP (a closed terminal): it stops them, then exits 0;
- its output is a pipe whose reader went away (``make run | tee log``, and
  ``tee`` ended first): it stops them as if asked to, since nobody can read
  what they write any more;
- it is killed with SIGKILL: Linux sends each child SIGTERM
  (``PR_SET_PDEATHSIG``), and they stop by themselves;
- the program that started it (``make``) is killed with SIGKILL: run as a
  program, it asks Linux for SIGTERM in that case too.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
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
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Loaded here, not in a child between fork and exec: loading takes locks that
# another thread of the parent may hold at the fork.
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class DemoFailed(Exception):
    """Something the user has to fix; the message says what."""


class StopRequested(Exception):
    """Ctrl+C, SIGTERM or SIGHUP arrived, or the output went away: stop."""


def signal_when_parent_dies(signum: int = signal.SIGTERM) -> None:  # pragma: no cover
    """Linux: have ``signum`` sent to this process when its parent ends.

    However the parent ends, SIGKILL included. Elsewhere this does nothing.
    Called in a child between fork and exec (``preexec_fn``), it applies to
    the program the child runs; the signal is kept across exec.
    """
    if LIBC is None:
        return
    parent = os.getppid()
    LIBC.prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # it ended before the request took effect
        os.kill(os.getpid(), signum)


def broken_pipe(fd: int) -> bool:
    """Whether ``fd`` is a pipe whose reading end is closed (writes would fail)."""
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    # A pipe with no reader reports POLLERR; a terminal or a file never does.
    return any(revents & select.POLLERR for _, revents in poller.poll(0))


def stop_writing_to(fd: int) -> None:
    """Send what is still written to ``fd`` nowhere, as its reader is gone.

    Without this, flushing at exit raises BrokenPipeError once more.
    """
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


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
            signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS
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
        gone = [fd for fd in (1, 2) if broken_pipe(fd)]
        if gone:
            for fd in gone:
                stop_writing_to(fd)
            warn("the output pipe was closed (did tee stop?): stopping")
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
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            start_new_session=True,
            # If this process is killed (SIGKILL leaves no time to stop them),
            # the child gets a SIGTERM and stops by itself.
            preexec_fn=signal_when_parent_dies,
        )
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
        """SIGTERM each child's group, newest first; SIGKILL what lingers.

        One after the other: the board (and its checker) stops while the fake
        upstream still answers, so no check fails just because of the stop.
        """
        if any(child.poll() is None for _, child in self.children):
            say("Stopping...", file=sys.stderr)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in reversed(self.children):
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                warn(f"{name} did not stop in {STOP_TIMEOUT} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def say(message: str, file=None) -> None:
    """Print, unless the reader of the output is gone (the poll notices it)."""
    with contextlib.suppress(BrokenPipeError):
        print(message, file=file or sys.stdout, flush=True)


def warn(message: str) -> None:
    say(f"{PROG}: {message}", file=sys.stderr)


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
        # uvicorn, with the checker and a clean end for open event streams.
        [sys.executable, "-m", "sampleproject.devasgi", "--port", str(args.port)],
    )
    supervisor.wait_until_listening(args.port)
    say(f"\nStatus board on http://{HOST}:{args.port}/ (Ctrl+C to stop)\n")
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
    # Should make (or whatever started this) be killed, stop too, cleanly.
    signal_when_parent_dies()
    sys.exit(main())
