"""Migration ingest 0011 moves the requests stored in one table into day partitions: every row
is kept, with its id, in the partition of its day; the request counts stay as they were; ingest
after it merges into the moved rows across midnight; and backwards the rows go back."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from ingest import partitions, rollups, store
from ingest.events import parse_console_event
from ingest.models import GatewayRequest
from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ingest", "0010_request_counts_room_for_updates")]
AFTER = [("ingest", "0011_requests_in_day_partitions")]
MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)
FIELDS = ("id", "source", "request_id", "started_at", "finished_at", "outcome", "failure_class",
          "latency_seconds", "gateway_team_id", "cost", "received_at")  # fmt: skip


def counted():
    start, end = MIDNIGHT - timedelta(days=30), MIDNIGHT + timedelta(hours=1)
    source, params = rollups.window_source(
        start, end, sums=True, dimensions=rollups.DIMENSIONS_BEFORE_0013
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gateway_team_id, sum(finished), sum(failed_upstream), sum(cost) "  # noqa: S608
            f"FROM {source} AS r GROUP BY 1 HAVING sum(finished) <> 0 ORDER BY 1",
            params,
        )
        return cursor.fetchall()


def stored(requests):
    return {row["request_id"]: row for row in requests.values(*FIELDS)}


def test_the_rows_of_one_table_move_to_their_days_and_back():
    old = migrate(BEFORE)
    requests = old.get_model("ingest", "GatewayRequest").objects
    common = {"source": "gw", "received_at": MIDNIGHT, "gateway_team_id": "search"}
    requests.create(
        request_id="crossing", started_at=MIDNIGHT - timedelta(seconds=2),
        finished_at=MIDNIGHT + timedelta(seconds=3), latency_seconds=5.0, outcome="failure",
        failure_class="upstream", cost=0.25, **common,
    )  # fmt: skip
    requests.create(request_id="running", started_at=MIDNIGHT - timedelta(hours=1), **common)
    requests.create(
        request_id="bare", finished_at=MIDNIGHT + timedelta(seconds=2), outcome="success",
        **common,
    )  # fmt: skip
    requests.create(
        request_id="old", started_at=MIDNIGHT - timedelta(days=20),
        finished_at=MIDNIGHT - timedelta(days=20, seconds=-1), outcome="success", cost=1.0,
        **common,
    )  # fmt: skip
    before, counts = stored(requests), counted()
    try:
        migrate(AFTER)

        after = stored(GatewayRequest.objects)
        assert after == before  # every row, with its id and every value
        days = dict(GatewayRequest.objects.values_list("request_id", "day"))
        assert days == {
            "crossing": (MIDNIGHT - timedelta(days=1)).date(),
            "running": (MIDNIGHT - timedelta(days=1)).date(),
            "bare": MIDNIGHT.date(),
            "old": (MIDNIGHT - timedelta(days=20)).date(),
        }
        assert set(days.values()) <= set(partitions.existing())
        assert counted() == counts  # moved, not counted again

        migrate_to_latest()
        # Ingest after it: a new row takes a new id; the bare finish's start, from before
        # midnight, and the running request's finish merge into the moved rows.
        now = MIDNIGHT + timedelta(minutes=10)
        with time_machine.travel(now, tick=False):
            events = [
                {"event": "started", "request_id": "bare",
                 "started_at": (MIDNIGHT - timedelta(seconds=1)).timestamp()},
                {"event": "finished", "request_id": "running", "status": "success",
                 "finished_at": now.timestamp(), "team_id": "search"},
                {"event": "started", "request_id": "new", "started_at": now.timestamp()},
            ]  # fmt: skip
            store.store_events("gw", [parse_console_event(e, now) for e in events], now)
        merged = stored(GatewayRequest.objects)
        assert len(merged) == 5
        assert merged["new"]["id"] > max(row["id"] for row in before.values())
        assert merged["bare"]["started_at"] == MIDNIGHT - timedelta(seconds=1)
        assert merged["running"]["finished_at"] == now
        assert [row[1] for row in counted()] == [counts[0][1] + 1]

        migrate(BEFORE)
        back = stored(old.get_model("ingest", "GatewayRequest").objects)
        assert back.keys() == merged.keys()
        assert back["crossing"] == before["crossing"]
    finally:
        migrate_to_latest()
