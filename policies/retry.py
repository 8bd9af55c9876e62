"""Retry delivery now: a page waiting out its backoff is handed to a worker at once.

For the person on the incident page who fixed the network, or knows PagerDuty is back: the
next attempt would otherwise come minutes later. The worker's usual claim decides as always
(muted, ordering, the resolve of a trigger that never arrived), so nothing is sent twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from policies.handover import deliver_after_commit
from policies.models import Delivery
from policies.reach import in_flight


def retry_now(incident_id: int, now: datetime) -> tuple[list[Delivery], list[Delivery]]:
    """Make the incident's waiting deliveries due now and hand them to a worker after the
    commit. Returns those handed over and those being sent right now (left alone)."""
    handed: list[Delivery] = []
    busy: list[Delivery] = []
    with transaction.atomic():
        waiting = Delivery.objects.select_for_update().filter(
            incident_id=incident_id, status=Delivery.Status.PENDING
        )
        for delivery in waiting.order_by("pk"):
            if in_flight(delivery, now):
                busy.append(delivery)
                continue
            delivery.next_attempt_at = now
            delivery.save(update_fields=["next_attempt_at"])
            handed.append(delivery)
        deliver_after_commit(*(delivery.pk for delivery in handed))
    return handed, busy
