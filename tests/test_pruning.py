"""Old request rows are deleted in batches after the retention; recent ones and incidents stay."""

from datetime import UTC, datetime, timedelta

import pytest

from ingest.models import GatewayRequest
from ingest.pruning import prune
from ingest.tasks import prune_old_requests

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def rows(n, prefix, **times):
    GatewayRequest.objects.bulk_create(
        GatewayRequest(source="gw", request_id=f"{prefix}-{i}", received_at=NOW, **times)
        for i in range(n)
    )


def test_it_deletes_what_is_older_than_the_retention_in_batches():
    rows(7, "old", started_at=NOW - timedelta(days=31), finished_at=NOW - timedelta(days=31))
    rows(3, "old-unfinished", started_at=NOW - timedelta(days=40))
    rows(4, "recent", started_at=NOW - timedelta(days=29), finished_at=NOW - timedelta(days=29))
    rows(2, "running", started_at=NOW - timedelta(minutes=1))

    assert prune(NOW, batch=3) == 10

    kept = set(GatewayRequest.objects.values_list("request_id", flat=True))
    assert kept == {f"recent-{i}" for i in range(4)} | {"running-0", "running-1"}


def test_the_retention_is_a_setting(settings):
    settings.REQUEST_RETENTION_DAYS = 7
    rows(2, "week-old", finished_at=NOW - timedelta(days=8))

    assert prune(NOW) == 2


def test_the_beat_task_prunes_at_the_real_now():
    rows(1, "ancient", finished_at=datetime.now(UTC) - timedelta(days=400))

    assert prune_old_requests() == 1
