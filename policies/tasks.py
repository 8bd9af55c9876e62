"""Celery tasks: thin; they take ids and call the engine. Names are stable for beat."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.utils import timezone

from policies.engine import evaluate_all
from policies.models import Delivery, Heartbeat
from policies.sending import attempt_delivery

logger = logging.getLogger(__name__)

# Sweeps re-send at most this many due deliveries per run.
SWEEP_LIMIT = 500


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
def deliver(delivery_id: int) -> str:
    outcome = attempt_delivery(delivery_id)
    if outcome.retry_in is not None:
        deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.message


@shared_task(name="policies.deliver_due", ignore_result=True)
def deliver_due() -> int:
    """Hand due outbox entries to workers again: the safety net for messages the broker
    lost (Redis down, a worker killed), so that every page is sent in the end."""
    due = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)
