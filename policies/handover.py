"""Handing a delivery to a worker: the one narrow way the engine and the admin reach the
tasks. By the task's stable name, so neither imports the tasks module, which imports the
engine; CELERY_TASK_ROUTES sends it to the deliveries queue all the same."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from alerting_console.celery import app

DELIVER = "policies.deliver"


def deliver_after_commit(*delivery_ids: int) -> None:
    """Queue the deliveries, as one task, once the transaction that wrote them commits: a
    transition's messages to its channels go together, claimed in one go and sent side by
    side (policies.sending). robust: a broker error must not stop the other callbacks; the
    sweeper (policies.deliver_due) sends what was not handed over."""
    if delivery_ids:
        transaction.on_commit(partial(app.send_task, DELIVER, delivery_ids), robust=True)
