"""``manage.py runchecks``: the board's background checker, until stopped.

The command opens the shared HTTP client, runs the scheduler on an event loop
of its own until SIGINT or SIGTERM (or once, with ``--once``), then closes the
client and gives queued incident e-mails their chance. How the scheduler
checks, stores and stops is in :mod:`sampleproject.board.scheduler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
from collections.abc import Callable, Iterator

from django.core.management.base import BaseCommand, CommandError

from sampleproject.board.httpclient import close_shared_client, open_shared_client
from sampleproject.board.notify import outbox
from sampleproject.board.scheduler import Scheduler, describe

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(callback: Callable[[signal.Signals], None]) -> Iterator[bool]:
    """Call ``callback(signum)`` on SIGINT and SIGTERM while the block runs.

    Yields whether the handlers are installed: only the main thread of a
    process can install them (not, say, a test calling the command from a
    thread). On the way out the previous handlers come back.
    """
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    installed = []
    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, callback, sig)
            installed.append(sig)
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        logger.debug("signals stay as they are: %s", exc)
    try:
        yield bool(installed)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
            # None stands for a handler set outside Python: it cannot come back.
            with contextlib.suppress(TypeError):
                signal.signal(sig, previous[sig])


def require_seconds(value: float | None, option: str, *, zero: bool = False) -> None:
    if value is None:
        return
    low_ok = value >= 0 if zero else value > 0
    if not (low_ok and math.isfinite(value)):
        wanted = "zero or more" if zero else "more than zero"
        raise CommandError(
            f"{option} must be a number of seconds {wanted}, got {value}"
        )


class Command(BaseCommand):
    help = (
        "Check every enabled service on its own interval until stopped with"
        " SIGINT or SIGTERM (or once, with --once)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Check every enabled service once, then exit.",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=10,
            help="At most this many checks at a time (default: 10).",
        )
        parser.add_argument(
            "--refresh",
            type=float,
            default=30.0,
            help="Re-read the list of services every this many seconds (default: 30).",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=10.0,
            help="On stop, wait this many seconds for checks in flight (default: 10).",
        )
        parser.add_argument(
            "--max-rounds",
            type=int,
            help="Stop after starting this many rounds of checks.",
        )
        parser.add_argument(
            "--duration",
            type=float,
            help="Stop after this many seconds.",
        )

    def handle(self, *args, **options):
        once = options["once"]
        concurrency = options["concurrency"]
        max_rounds = options["max_rounds"]
        if concurrency < 1:
            raise CommandError(f"--concurrency must be at least 1, got {concurrency}")
        if max_rounds is not None and max_rounds < 1:
            raise CommandError(f"--max-rounds must be at least 1, got {max_rounds}")
        require_seconds(options["refresh"], "--refresh")
        require_seconds(options["grace"], "--grace", zero=True)
        require_seconds(options["duration"], "--duration")
        if once and (max_rounds is not None or options["duration"] is not None):
            raise CommandError(
                "--once checks every service once; it cannot be combined with"
                " --max-rounds or --duration"
            )
        scheduler = asyncio.run(
            self.main(
                concurrency=concurrency,
                refresh=options["refresh"],
                grace=options["grace"],
                once=once,
                max_rounds=max_rounds,
                duration=options["duration"],
            )
        )
        self.report(scheduler, once=once, verbosity=options["verbosity"])

    async def main(self, *, concurrency, refresh, grace, **run_options) -> Scheduler:
        # Built in a thread: loading the CA bundle would block the loop.
        client = await open_shared_client()
        scheduler = Scheduler(
            client, concurrency=concurrency, refresh=refresh, grace=grace
        )

        def on_signal(signum: signal.Signals) -> None:
            name = signal.Signals(signum).name
            if scheduler.stopping:
                self.stdout.write(
                    f"Stopping now ({name} again): cancelling"
                    f" {scheduler.in_flight} check(s) in flight."
                )
            else:
                self.stdout.write(
                    f"Stopping ({name}): no new checks; waiting up to {grace:g} s"
                    f" for {scheduler.in_flight} check(s) in flight."
                )
            scheduler.stop()

        try:
            with stop_on_signals(on_signal):
                return await scheduler.run(**run_options)
        finally:
            await close_shared_client()
            # Incident e-mails still queued get their chance before exit.
            await asyncio.to_thread(outbox.join, grace)

    def report(self, scheduler: Scheduler, *, once: bool, verbosity: int) -> None:
        if verbosity == 0:
            return
        if once:
            for service, outcome in scheduler.last_results:
                self.stdout.write(f"  {service.slug}: {describe(outcome)}")
            self.stdout.write(
                f"Checked {scheduler.checks} service(s): {scheduler.ok} up,"
                f" {scheduler.failed} down."
            )
        else:
            self.stdout.write(
                f"Stopped after {scheduler.rounds} round(s):"
                f" {scheduler.checks} check(s) stored."
            )
        if scheduler.abandoned or scheduler.failed_rounds:
            self.stderr.write(
                f"{scheduler.abandoned} check(s) abandoned,"
                f" {scheduler.failed_rounds} round(s) failed (see the log)."
            )
