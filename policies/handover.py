"""Handing deliveries to a worker: the one narrow way the engine and the admin reach the
tasks. By the task's stable name, so neither imports the tasks module, which imports the
engine; CELERY_TASK_ROUTES sends it to the deliveries queue all the same."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.db import transaction

from alerting_console.celery import app

logger = logging.getLogger(__name__)

DELIVER = "policies.deliver"
# Deliveries per task when many are handed over together: claimed and recorded in one
# transaction each, sent side by side (policies.sending). Twelve cost about half as much per
# delivery as three (a transition's) in the worker (make bench-notify, docs/performance.md),
# and keep a burst spread over the workers.
BATCH = 12

_together = threading.local()


def deliver_after_commit(*delivery_ids: int) -> None:
    """Queue the deliveries once the transaction that wrote them commits: as one task, or,
    inside ``handed_over_together``, with the others written there. A transition's messages
    to its channels go together, claimed in one go and sent side by side. robust: a broker
    error must not stop the other callbacks; the sweeper (policies.deliver_due) sends what was
    not handed over."""
    if not delivery_ids:
        return
    collected: list[int] | None = getattr(_together, "ids", None)
    if collected is not None:
        # Run only if the transaction (and each savepoint) that wrote them commits.
        transaction.on_commit(partial(collected.extend, delivery_ids))
    else:
        transaction.on_commit(partial(app.send_task, DELIVER, delivery_ids), robust=True)


@contextmanager
def handed_over_together() -> Iterator[None]:
    """The deliveries committed within the block (an evaluation that opened a thousand
    incidents) are handed over when it ends, BATCH to a task, rather than a task for each
    transition. Inside a transaction already, it changes nothing: they are handed over when
    that one commits, as usual."""
    if getattr(_together, "ids", None) is not None or transaction.get_connection().in_atomic_block:
        yield  # an outer block hands them over
        return
    _together.ids = []
    try:
        yield
    finally:
        collected, _together.ids = _together.ids, None
        for start in range(0, len(collected), BATCH):
            try:
                app.send_task(DELIVER, tuple(collected[start : start + BATCH]))
            except Exception:
                # The broker is down: the sweeper sends them all once it is back.
                logger.exception("%d deliveries not handed over", len(collected) - start)
                break
