"""Sending one outbox entry to PagerDuty, and deciding what comes after.

- accepted (2xx): delivered;
- refused (400 and other 4xx but 408/429): permanent; the routing key is flagged with
  PagerDuty's answer in the admin, and nothing is retried;
- anything else (429, 5xx, timeouts, connection errors): retried with exponential backoff and
  jitter, waiting at least what Retry-After asks, until DELIVERY_RETRY_SECONDS have passed.

No transaction or row lock is held while PagerDuty is called: a worker claims the delivery
in a short transaction (its next attempt pushed past a lease, so that no other worker or
sweep sends it meanwhile), sends it, then records the answer in another. Two workers never
send it twice; a worker that dies mid-send leaves it pending, and once the lease has passed
it is sent again with the same dedup_key, which PagerDuty folds into the same alert. Events
of one incident go out in order: a resolve waits for its trigger. A trigger queued before a
silence or maintenance mode began is not sent while it mutes the incident, unless an attempt
may already have reached PagerDuty.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from policies import muting, pagerduty
from policies.models import Delivery, DeliveryAttempt, Incident, IncidentEvent, RoutingKey
from policies.reach import trigger_may_have_reached

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 300.0
ORDER_WAIT_SECONDS = 2.0
# A claim lasts the call's deadline and this much more, to record its answer.
LEASE_MARGIN_SECONDS = 30.0
# A retry task may wake a little early: within this, it counts as due.
DUE_SLACK = timedelta(seconds=1)


@dataclass(frozen=True)
class Outcome:
    message: str
    retry_in: float | None = None  # seconds, when the task should run again


def backoff_seconds(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Exponential, capped, with jitter (between half and all of it); never sooner than
    PagerDuty's Retry-After."""
    exponential = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    # Jitter spreads retries of many deliveries apart; it needs no cryptographic randomness.
    jitter: float = (rng or random.Random()).uniform(0.5, 1.0)  # noqa: S311
    return max(exponential * jitter, retry_after or 0.0)


def lease() -> timedelta:
    """How long a claimed delivery is kept from other workers and the sweeper: the call's
    deadline and time to record its answer. A worker killed mid-send leaves the delivery to be
    sent again once its lease has passed."""
    return timedelta(seconds=settings.HTTP_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    routing_key_id: int
    body: dict[str, Any]


def attempt_delivery(delivery_id: int, now: datetime | None = None) -> Outcome:
    """Claim the delivery (a short transaction), send it with no transaction open, then
    record what came of it (another short one)."""
    now = now or timezone.now()
    claim = _claim(delivery_id, now)
    if isinstance(claim, Outcome):
        return claim
    answer = pagerduty.send(claim.body)
    return _record_answer(claim, answer, now)


def _claim(delivery_id: int, now: datetime) -> _Claim | Outcome:
    """Decide whether to send now, and if so, take the delivery for the lease: its next
    attempt is pushed past the lease, so that neither another worker nor the sweeper sends
    it meanwhile, and committed before anything goes out."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident__policy", "incident__routing_key", "incident__team")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return Outcome("skipped: not pending, or another worker is claiming it")
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + DUE_SLACK:
            # A retry not due yet, or a claim of another worker. A duplicate (the sweeper, or
            # an older retry chain) does nothing: the task that set this time runs it then, or
            # the sweeper once a dead worker's lease has passed. Rescheduling here would
            # multiply the retries.
            return Outcome("skipped: not due yet, or another worker is sending it")
        incident = delivery.incident
        earlier = Delivery.objects.filter(incident=incident, pk__lt=delivery.pk)
        if earlier.filter(status=Delivery.Status.PENDING).exists():
            delivery.next_attempt_at = now + timedelta(seconds=ORDER_WAIT_SECONDS)
            delivery.save(update_fields=["next_attempt_at"])
            return Outcome(
                "waiting: an earlier event of this incident is not delivered yet",
                ORDER_WAIT_SECONDS,
            )
        if delivery.action == Delivery.Action.RESOLVE and not any(
            trigger_may_have_reached(d) for d in earlier.filter(action=Delivery.Action.TRIGGER)
        ):
            return _finish(
                delivery, now, Delivery.Status.SKIPPED, "its trigger never reached PagerDuty"
            )

        # Only a trigger never tried: one that was may have reached PagerDuty (an answer lost
        # to a timeout, or a worker killed mid-send), and holding it back would leave that
        # alert with no resolve.
        if delivery.action == Delivery.Action.TRIGGER and delivery.attempts == 0:
            muted = muting.why_muted(muting.subject_of(incident), now)
            if muted:
                return _hold_back(delivery, earlier, now, muted)

        routing_key = incident.routing_key
        assert routing_key is not None  # noqa: S101 - unrouted deliveries are never pending
        if delivery.action == Delivery.Action.TRIGGER:
            body = pagerduty.trigger_body(incident, routing_key.integration_key)
        else:
            body = pagerduty.resolve_body(incident, routing_key.integration_key)
        # Counted when it starts: from here on, PagerDuty may get it.
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease()
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return _Claim(delivery.pk, routing_key.pk, body)


def _record_answer(claim: _Claim, answer: pagerduty.Answer, now: datetime) -> Outcome:
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("incident")
            .get(pk=claim.delivery_id)
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            duration_ms=answer.duration_ms,
            http_status=answer.http_status,
            response_excerpt=answer.excerpt,
            error=answer.error,
        )
        if delivery.status != Delivery.Status.PENDING:
            # This call outlived its lease and another worker finished the delivery: its
            # outcome stands.
            return Outcome(f"recorded late: already {delivery.status}")
        return _decide(delivery, claim.routing_key_id, answer, now)


def _decide(
    delivery: Delivery, routing_key_id: int, answer: pagerduty.Answer, now: datetime
) -> Outcome:
    if answer.accepted:
        RoutingKey.objects.filter(pk=routing_key_id).update(last_success_at=now)
        return _finish(
            delivery,
            now,
            Delivery.Status.DELIVERED,
            f"PagerDuty accepted it ({answer.http_status})",
        )
    outcome = answer.error or f"PagerDuty answered {answer.http_status}: {answer.excerpt[:200]}"
    if answer.permanent:
        RoutingKey.objects.filter(pk=routing_key_id).update(refused_at=now, refusal=outcome[:500])
        return _finish(delivery, now, Delivery.Status.REFUSED, f"refused for good: {outcome}")
    if now - delivery.created_at >= timedelta(seconds=settings.DELIVERY_RETRY_SECONDS):
        return _finish(
            delivery,
            now,
            Delivery.Status.GAVE_UP,
            f"gave up after {delivery.attempts} attempts: {outcome}",
        )
    delay = backoff_seconds(delivery.attempts, answer.retry_after)
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.last_error = outcome[:500]
    delivery.save(update_fields=["next_attempt_at", "last_error"])
    _record(
        delivery,
        now,
        f"attempt {delivery.attempts} failed ({outcome}); retrying in {delay:.0f} s",
    )
    return Outcome(f"retrying in {delay:.0f} s: {outcome}", delay)


def _hold_back(
    delivery: Delivery, earlier: QuerySet[Delivery], now: datetime, muted: str
) -> Outcome:
    """A trigger queued before a silence or maintenance began, and not tried yet, is not sent
    during it. If the incident has not paged yet, it is marked so, and the evaluation that
    finds it no longer muted and still open pages it then; if it has, this was a renotify,
    and its resolve will still be sent."""
    incident = delivery.incident
    if not earlier.filter(
        action=Delivery.Action.TRIGGER, status=Delivery.Status.DELIVERED
    ).exists():
        # Only these two fields: the engine may be updating the incident's counts meanwhile.
        Incident.objects.filter(pk=incident.pk).update(paged=False, muted_by=muted)
        IncidentEvent.objects.create(
            incident=incident, at=now, kind=IncidentEvent.Kind.MUTED, message=f"Not paged: {muted}."
        )
    return _finish(delivery, now, Delivery.Status.SKIPPED, f"held back, muted: {muted}")


def _finish(delivery: Delivery, now: datetime, status: str, message: str) -> Outcome:
    delivery.status = status
    delivery.finished_at = now
    delivery.next_attempt_at = None
    # A delivered page shows no error: an earlier attempt's is in its attempts, not here.
    delivery.last_error = "" if status == Delivery.Status.DELIVERED else message[:500]
    delivery.save(
        update_fields=["status", "finished_at", "next_attempt_at", "attempts", "last_error"]
    )
    _record(delivery, now, message)
    return Outcome(f"{status}: {message}")


def _record(delivery: Delivery, now: datetime, message: str) -> None:
    IncidentEvent.objects.create(
        incident=delivery.incident,
        at=now,
        kind=IncidentEvent.Kind.DELIVERY,
        message=f"{delivery.get_action_display()}: {message}"[:1000],
        data={"delivery": delivery.pk, "attempts": delivery.attempts},
    )
    # The one log line per delivery outcome: with the engine's transitions, the log tells the
    # story.
    logger.info(
        "delivery %s (%s of incident %s, routing key #%s): %s",
        delivery.pk,
        delivery.get_action_display().lower(),
        delivery.incident_id,
        delivery.incident.routing_key_id,
        message,
    )
