from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from ingest.pruning import prune


@shared_task(name="ingest.prune", ignore_result=True)
def prune_old_requests() -> int:
    return prune(timezone.now())
