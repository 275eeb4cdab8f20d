"""Store check outcomes and move incidents: opened on failure, closed on recovery.

Each transition is one atomic statement, so no transaction is needed, and the
database's partial unique constraint (one open incident per service) decides
races: when two checkers see the same outage at once, ``get_or_create`` lets one
insert and makes the other find that row. :func:`record` is the async way, with
the async ORM; :func:`record_sync` is its sync twin for the WSGI path.
"""

from __future__ import annotations

from dataclasses import dataclass

from sampleproject.board.models import Check, Incident
from sampleproject.board.outcome import Outcome


@dataclass(frozen=True)
class Change:
    """An incident that a batch of outcomes opened or closed."""

    service_id: int
    incident_id: int
    opened: bool  # False: closed

    def as_json(self) -> dict:
        return {
            "service": self.service_id,
            "incident": self.incident_id,
            "state": "opened" if self.opened else "closed",
        }


def cause_of(outcome: Outcome) -> str:
    label = Check.Error(outcome.error).label
    if outcome.error == Check.Error.STATUS:
        return f"{label}: HTTP {outcome.status_code}"
    return label


def open_incidents(service_ids: list[int]):
    # At most one per service: the partial unique constraint sees to that.
    return Incident.objects.filter(service_id__in=service_ids, closed_at__isnull=True)


def still_open(incident: Incident):
    # Closing only a row that is still open makes the update report 0 rows to
    # the second of two concurrent closers, so one change is reported, not two.
    return Incident.objects.filter(pk=incident.pk, closed_at__isnull=True)


async def record(outcomes: list[Outcome]) -> list[Change]:
    await Check.objects.abulk_create([outcome.as_check() for outcome in outcomes])
    # One query finds every open incident a success may close: a query per
    # outcome would cost one thread hop each, 50 hops for 50 services.
    recovered = [outcome.service_id for outcome in outcomes if outcome.ok]
    open_now = {
        incident.service_id: incident async for incident in open_incidents(recovered)
    }
    changes = []
    for outcome in outcomes:
        if outcome.ok:
            incident = open_now.get(outcome.service_id)
            closed = incident and await still_open(incident).aupdate(
                closed_at=outcome.checked_at
            )
            if closed:
                changes.append(Change(outcome.service_id, incident.pk, opened=False))
        else:
            incident, created = await Incident.objects.aget_or_create(
                service_id=outcome.service_id,
                closed_at=None,
                defaults={"opened_at": outcome.checked_at, "cause": cause_of(outcome)},
            )
            if created:
                changes.append(Change(outcome.service_id, incident.pk, opened=True))
    return changes


def record_sync(outcomes: list[Outcome]) -> list[Change]:
    Check.objects.bulk_create([outcome.as_check() for outcome in outcomes])
    recovered = [outcome.service_id for outcome in outcomes if outcome.ok]
    open_now = {incident.service_id: incident for incident in open_incidents(recovered)}
    changes = []
    for outcome in outcomes:
        if outcome.ok:
            incident = open_now.get(outcome.service_id)
            closed = incident and still_open(incident).update(
                closed_at=outcome.checked_at
            )
            if closed:
                changes.append(Change(outcome.service_id, incident.pk, opened=False))
        else:
            incident, created = Incident.objects.get_or_create(
                service_id=outcome.service_id,
                closed_at=None,
                defaults={"opened_at": outcome.checked_at, "cause": cause_of(outcome)},
            )
            if created:
                changes.append(Change(outcome.service_id, incident.pk, opened=True))
    return changes
