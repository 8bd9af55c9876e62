"""Celery tasks: thin; they take ids and call the engine. Names are stable for beat."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from itertools import groupby
from operator import itemgetter

from celery import shared_task
from django.utils import timezone

from policies.engine import evaluate_all
from policies.models import Delivery, Heartbeat
from policies.sending import attempt_deliveries

logger = logging.getLogger(__name__)

# Sweeps re-send at most this many due deliveries per run,
SWEEP_LIMIT = 500
# and only those due this long ago.
SWEEP_GRACE_SECONDS = 30.0


@shared_task(name="policies.evaluate", ignore_result=True)
def evaluate() -> str:
    """Evaluate every enabled policy; one that fails is logged and skipped."""
    now = timezone.now()
    started = time.perf_counter()
    outcomes = evaluate_all(now)
    took = time.perf_counter() - started
    Heartbeat.objects.update_or_create(
        name="evaluate", defaults={"at": now, "duration_seconds": took}
    )
    return "; ".join(f"{policy_id}: {outcome}" for policy_id, outcome in outcomes.items())


@shared_task(name="policies.deliver", ignore_result=True, acks_late=True)
def deliver(*delivery_ids: int) -> str:
    """Send these deliveries (a transition's, one per channel; or one retried); each that must
    wait is handed back on its own, for when it is due."""
    outcomes = attempt_deliveries(delivery_ids)
    for delivery_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    return "; ".join(f"{pk}: {outcome.message}" for pk, outcome in outcomes.items())


@shared_task(name="policies.deliver_due", ignore_result=True)
def deliver_due() -> int:
    """Hand due outbox entries to workers again: the safety net for messages the broker
    lost (Redis down, a worker killed), so that every page is sent in the end. Only those due
    for SWEEP_GRACE_SECONDS: a burst's deliveries waiting their turn in the queue are not
    lost, and handing them over a second time would only slow the queue down."""
    due = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=timezone.now() - timedelta(seconds=SWEEP_GRACE_SECONDS),
        )
        .order_by("incident_id", "pk")
        .values_list("incident_id", "pk")[:SWEEP_LIMIT]
    )
    for _, together in groupby(due, key=itemgetter(0)):
        deliver.delay(*(pk for _, pk in together))
    return len(due)
