"""The background checker's scheduler: one event loop for every service.

Each enabled service is checked every ``interval`` (its own setting) by one
:class:`Scheduler` on one asyncio event loop, sharing one
:class:`httpx.AsyncClient`. Services due at the same moment are checked as one
*round*: concurrently, at most ``--concurrency`` requests at a time (an
:class:`asyncio.Semaphore`), then stored with
:func:`~sampleproject.board.recording.record`, then announced with
``await checks_recorded.asend(...)``, so the receivers publish tiles, queue
e-mails and log incidents (a slow mail server never holds up the next round).
Live updates reach browsers from this process only through Redis
(``REDIS_URL``): in-process pub/sub has no subscribers here.

- An upstream failure (timeout, refused connection, wrong status...) is a
  failed check, stored like any other. An unexpected exception fails one check
  or one round: it is logged and the checker goes on.
- The service list is read again every ``--refresh`` seconds, so added,
  changed, disabled and deleted services are picked up without a restart;
  :meth:`Scheduler.reload_soon` reads it at once (``make run`` calls it when a
  service is added, so the new one is checked straight away).
- SIGINT (Ctrl+C) or SIGTERM stops it gracefully: no new checks start, the
  checks in flight finish and are stored (for at most ``--grace`` seconds;
  after that, or at a second signal, they are cancelled), the shared client is
  closed, and the command exits with status 0. A round is stored when its
  slowest check ends, so a round cut short stores nothing.
- ``--once`` checks every enabled service once and exits: for cron, scripts
  and tests. ``--max-rounds`` and ``--duration`` bound a continuous run.
- Intervals shorter than a second count as one second.
- The ORM (and every thread-sensitive ``sync_to_async`` call, the sync signal
  receivers included) runs in one thread of the scheduler's own, in an
  ``asgiref`` ``ThreadSensitiveContext``, as it would under Django's ASGI
  handler. After each round its database connections are handled as at the
  end of a request (``close_old_connections``); at the end they are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import close_old_connections, connections

from sampleproject.board.checker import check_service
from sampleproject.board.models import Service
from sampleproject.board.outcome import Outcome
from sampleproject.board.recording import record
from sampleproject.board.signals import checks_recorded
from sampleproject.board.state import forget_tiles

logger = logging.getLogger(__name__)

# A service whose interval is shorter is checked this often: a zero interval
# would otherwise mean checking it back to back, as fast as it answers.
MIN_INTERVAL = 1.0

Check = Callable[[httpx.AsyncClient, Service], Awaitable[Outcome]]


@dataclass
class Slot:
    """One service's place in the schedule (times are event-loop times)."""

    service: Service
    due: float
    started: float  # when the current interval began
    busy: bool = False  # a check of it is queued or in flight


class Scheduler:
    """Checks each enabled service on its own interval until stopped.

    ``check`` is the coroutine function that checks one service; tests pass an
    instrumented one. Counters: ``rounds`` started, ``checks`` stored (``ok``
    and ``failed``), ``skipped`` (queued when the stop came), ``abandoned``
    (cancelled after the grace period) and ``failed_rounds``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        concurrency: int = 10,
        refresh: float = 30.0,
        grace: float = 10.0,
        min_interval: float = MIN_INTERVAL,
        check: Check = check_service,
    ) -> None:
        self.client = client
        self.concurrency = concurrency
        self.refresh = refresh
        self.grace = grace
        self.min_interval = min_interval
        self._check = check
        self.semaphore = asyncio.Semaphore(concurrency)
        self.slots: dict[int, Slot] = {}
        self.rounds_in_flight: set[asyncio.Task] = set()
        self.in_flight = 0  # checks holding the semaphore
        self.rounds = self.checks = self.ok = self.failed = 0
        self.skipped = self.abandoned = self.failed_rounds = 0
        self.last_results: list[tuple[Service, Outcome]] = []
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()  # a second stop: do not wait any more
        self._wake = asyncio.Event()
        self._reload = False  # re-read the services before the next round

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Stop scheduling checks; called again, cancel those in flight too."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()
        self._wake.set()

    def reload_soon(self) -> None:
        """Re-read the services now, not at the next refresh: new ones are due."""
        self._reload = True
        self._wake.set()

    def interval_of(self, service: Service) -> float:
        return max(service.interval.total_seconds(), self.min_interval)

    async def load_services(self) -> None:
        """Read the enabled services; new ones are due at once."""
        services = [service async for service in Service.objects.filter(enabled=True)]
        now = asyncio.get_running_loop().time()
        slots = {}
        for service in services:
            slot = self.slots.get(service.pk)
            if slot is None:
                # As if last checked one interval ago: due now.
                slot = Slot(service, due=now, started=now - self.interval_of(service))
            else:
                slot.service = service
                # The interval may have changed.
                slot.due = slot.started + self.interval_of(service)
            slots[service.pk] = slot
        # A dropped slot still busy ends its round unseen: it is not rescheduled.
        self.slots = slots

    async def reload_services(self) -> None:
        try:
            await self.load_services()
        except Exception:
            # A database hiccup must not stop the checks of known services.
            logger.exception(
                "could not re-read the services; keeping %d", len(self.slots)
            )

    def take_due(self, now: float) -> list[Slot]:
        due = [s for s in self.slots.values() if not s.busy and s.due <= now]
        for slot in due:
            slot.busy = True
            slot.started = now
            slot.due = now + self.interval_of(slot.service)
        return due

    def start_round(self, slots: list[Slot]) -> asyncio.Task:
        self.rounds += 1
        task = asyncio.create_task(
            self.run_round(slots), name=f"runchecks round {self.rounds}"
        )
        self.rounds_in_flight.add(task)
        task.add_done_callback(self._round_done)
        return task

    def _round_done(self, task: asyncio.Task) -> None:
        self.rounds_in_flight.discard(task)
        self._wake.set()  # Its services may be due again already.

    async def check_one(self, service: Service) -> Outcome | None:
        async with self.semaphore:
            if self.stopping:
                # Queued, not started: a stop means no new requests.
                self.skipped += 1
                return None
            self.in_flight += 1
            try:
                return await self._check(self.client, service)
            except Exception:
                logger.exception("checking %s failed unexpectedly", service.slug)
                return None
            finally:
                self.in_flight -= 1

    async def run_round(self, slots: list[Slot]) -> None:
        services = [slot.service for slot in slots]
        try:
            results = await asyncio.gather(*map(self.check_one, services))
            done = [
                (service, outcome)
                for service, outcome in zip(services, results, strict=True)
                if outcome is not None
            ]
            if not done:
                return
            outcomes = [outcome for _, outcome in done]
            changes = await record(outcomes)
            self.checks += len(outcomes)
            self.ok += sum(outcome.ok for outcome in outcomes)
            self.failed += sum(not outcome.ok for outcome in outcomes)
            self.last_results = done
            await forget_tiles()
            await checks_recorded.asend(
                sender=Service, outcomes=outcomes, changes=changes
            )
            # No request ends here to close the database connection, so do
            # what the request_finished signal does for views.
            await sync_to_async(close_old_connections)()
        except Exception:
            self.failed_rounds += 1
            logger.exception("a round of %d check(s) failed", len(services))
        finally:
            for slot in slots:
                slot.busy = False

    async def _sleep_until(self, when: float) -> None:
        delay = max(0.0, when - asyncio.get_running_loop().time())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def run(
        self,
        *,
        once: bool = False,
        max_rounds: int | None = None,
        duration: float | None = None,
    ) -> Scheduler:
        """Check until stopped (``once``: one round of every service); drain.

        The first read of the services is not guarded: a checker that cannot
        read its database at start should fail loudly.
        """
        # Django's ASGI handler gives each request a thread-sensitive context;
        # a command must make its own. Without it, sync_to_async falls back to
        # asgiref's process-wide thread, and on Django 6.1 asend() runs async
        # receivers in one shared contextvars.Context, so two receivers using
        # the ORM at once fail with "Single thread executor already being
        # used, would deadlock".
        async with ThreadSensitiveContext():
            try:
                await self._run(once=once, max_rounds=max_rounds, duration=duration)
            finally:
                # The ORM ran in this context's thread: close its connections.
                await sync_to_async(connections.close_all)()
        return self

    async def _run(self, *, once, max_rounds, duration) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(duration, self.stop) if duration else None
        try:
            await self.load_services()
            next_refresh = loop.time() + self.refresh
            while not self.stopping:
                self._wake.clear()  # Before looking: a later set() is not lost.
                now = loop.time()
                if now >= next_refresh or self._reload:
                    self._reload = False
                    await self.reload_services()
                    next_refresh = loop.time() + self.refresh
                    continue
                due = self.take_due(now)
                if due:
                    self.start_round(due)
                if once or (max_rounds is not None and self.rounds >= max_rounds):
                    break
                if due:
                    continue
                idle = [slot.due for slot in self.slots.values() if not slot.busy]
                await self._sleep_until(min([*idle, next_refresh]))
        except asyncio.CancelledError:
            self._hurry.set()  # Cancelled from outside: wait for nothing.
            raise
        finally:
            if timer is not None:
                timer.cancel()
            await self.drain()

    async def drain(self) -> None:
        """Let the rounds in flight finish, within the grace period."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        hurry = asyncio.create_task(self._hurry.wait())
        try:
            while self.rounds_in_flight and not self._hurry.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.wait(
                    {*self.rounds_in_flight, hurry},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
        finally:
            # Also when the drain itself is cancelled: no round may outlive it.
            hurry.cancel()
            leftovers = list(self.rounds_in_flight)
            if leftovers:
                self.abandoned = self.in_flight
                logger.warning("cancelling %d check(s) in flight", self.in_flight)
                for task in leftovers:
                    task.cancel()
                await asyncio.wait(leftovers)


def describe(outcome: Outcome) -> str:
    latency = "" if outcome.latency_ms is None else f", {outcome.latency_ms:.0f} ms"
    if outcome.ok:
        return f"up (HTTP {outcome.status_code}{latency})"
    detail = outcome.error
    if outcome.status_code is not None:
        detail = f"HTTP {outcome.status_code}"
    return f"down ({detail}{latency})"
