"""Retention of request rows: a request is kept while its day (ingest/partitions.py) is one of
the last ``REQUEST_RETENTION_DAYS`` days before today, or today.

On Postgres whole days go: their partitions are detached without locking ingest out and
dropped. Nothing is deleted row by row; what remains is the file system's work of freeing the
day's files: milliseconds for a day of 10 million requests, or 0.17 s a gigabyte where it trims
each extent as it frees it (online discard; `make bench-retention`). Elsewhere (the
embedded SQLite default) rows are deleted, a batch per short transaction. Incidents and their
history are kept: they refer to requests by id only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from ingest import partitions
from ingest.models import GatewayRequest

BATCH = 5000


def cutoff(now: datetime) -> date:
    """The oldest day kept."""
    return partitions.day_of(now) - timedelta(days=settings.REQUEST_RETENTION_DAYS)


def prune(now: datetime) -> int:
    """Remove the requests of the days before the cutoff; returns how many days (Postgres) or
    rows (elsewhere) were removed. On Postgres, also creates the coming days' partitions."""
    if connection.vendor != "postgresql":
        return delete_old_rows(now)
    dropped = partitions.drop_before(cutoff(now))
    partitions.ensure_ahead(now)
    return len(dropped)


def delete_old_rows(now: datetime, batch: int = BATCH) -> int:
    old = GatewayRequest.objects.filter(day__lt=cutoff(now))
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:batch])
            if ids:
                GatewayRequest.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
