"""Deleting request rows older than the retention, a batch at a time.

Each batch is its own short transaction, found through the time indexes detection already
uses, so ingest never waits behind a long delete. Incidents and their history are kept: they
refer to requests by id only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from ingest.models import GatewayRequest

BATCH = 5000


def prune(now: datetime, batch: int = BATCH) -> int:
    """Delete requests that finished (or, unfinished, started) before the retention."""
    cutoff = now - timedelta(days=settings.REQUEST_RETENTION_DAYS)
    finished_before = GatewayRequest.objects.filter(finished_at__lt=cutoff)
    unfinished_before = GatewayRequest.objects.filter(
        finished_at__isnull=True, started_at__lt=cutoff
    )
    deleted = 0
    for old in (finished_before, unfinished_before):
        while True:
            with transaction.atomic():
                ids = list(old.values_list("pk", flat=True)[:batch])
                if ids:
                    GatewayRequest.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
            if len(ids) < batch:
                break
    return deleted
