from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.utils import timezone

from ingest import rollups
from ingest.pruning import prune

# A fold run takes at most this many batches of deltas; the next run goes on.
FOLD_ROUNDS = 20


@shared_task(name="ingest.prune", ignore_result=True)
def prune_old_requests() -> int:
    """Requests past the retention go (ingest/pruning.py), and the request counts past theirs;
    the coming days' partitions are created. Returns the days (Postgres) or rows removed."""
    now = timezone.now()
    removed = prune(now)
    if connection.vendor == "postgresql":
        rollups.prune(now)
    return removed


@shared_task(name="ingest.fold", ignore_result=True)
def fold_rollups() -> int:
    """Move the request counts' changes into the rollups (ingest/rollups.py). Counting is exact
    without it (it reads the changes not folded yet too); folding keeps those few."""
    if connection.vendor != "postgresql":
        return 0  # the embedded SQLite default counts request rows
    taken = 0
    for _ in range(FOLD_ROUNDS):
        batch = rollups.fold(rollups.FOLD_BATCH)
        taken += batch
        if batch < rollups.FOLD_BATCH:
            break
    if taken:
        rollups.reclaim_deltas()
    return taken
