"""Handing a delivery to a worker: the one narrow way the engine and the admin reach the
tasks. By the task's stable name, so neither imports the tasks module, which imports the
engine; CELERY_TASK_ROUTES sends it to the deliveries queue all the same."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from alerting_console.celery import app

DELIVER = "policies.deliver"


def deliver_after_commit(delivery_id: int) -> None:
    """Queue the delivery once the transaction that wrote it commits. robust: a broker error
    must not stop the other callbacks; the sweeper (policies.deliver_due) sends what was not
    handed over."""
    transaction.on_commit(partial(app.send_task, DELIVER, (delivery_id,)), robust=True)
