"""Driving the engine in tests the way beat and the workers do, without a broker."""

from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.models import GatewayRequest
from policies.engine import evaluate_policy
from policies.models import Delivery
from policies.sending import attempt_delivery

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
_counter = [0]


def add_requests(n, *, at, outcome="failure", failure_class="upstream", started=None, **fields):
    rows = []
    for _ in range(n):
        _counter[0] += 1
        rows.append(
            GatewayRequest(
                source="gw",
                request_id=f"req-{_counter[0]}",
                finished_at=at,
                started_at=started,
                outcome=outcome,
                failure_class=failure_class if outcome == "failure" else "",
                received_at=at,
                **fields,
            )
        )
    GatewayRequest.objects.bulk_create(rows)


def evaluate(policy, now):
    return evaluate_policy(policy.pk, now)


def drain(now, rounds=20):
    """Run every due delivery, as workers would, until none is due at `now`."""
    outcomes = []
    for _ in range(rounds):
        due = list(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not due:
            break
        outcomes += [attempt_delivery(pk, now).message for pk in due]
    return outcomes


def later(seconds):
    return T0 + timedelta(seconds=seconds)


def in_a_day():
    """An end time for maintenance mode that is still ahead, whatever the frozen clock says:
    it is checked against the real now, when a page would go out."""
    from django.utils import timezone

    return timezone.now() + timedelta(days=1)


def routed(incident: Any) -> Any:
    """The one channel the incident's page went to (or would have, muted); None: no route.
    For tests of incidents routed to a single channel."""
    from policies.models import Delivery

    ids = set(
        incident.deliveries.filter(action__in=Delivery.PAGES).values_list("channel", flat=True)
    )
    ids.discard(None)
    assert len(ids) <= 1, ids
    if not ids:
        return None
    from policies.models import Channel

    return Channel.objects.get(pk=ids.pop())


def muted_by(incident: Any) -> str:
    """Why the incident was not paged (its pages all muted); empty when it was."""
    from policies.dispatch import muted_only

    return muted_only(incident)


def paged(incident: Any) -> bool:
    """Whether the incident paged anyone: not every one of its pages was muted."""
    return not muted_by(incident)
