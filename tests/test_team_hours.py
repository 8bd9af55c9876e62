"""The home page's counts per team and hour come from the request counts on Postgres, and say
what the request rows say (policies/team_hours.py)."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest import rollups
from ingest.events import Event
from ingest.store import store_events
from policies import team_hours
from policies.dashboard import hour_buckets, team_rows

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 15, 20, 0, tzinfo=UTC)  # a whole second
HANG = timedelta(seconds=600)


def finished(request_id, at, team="t-search", outcome="success", latency=1.5):
    return Event(
        request_id=request_id, finished_at=at, outcome=outcome, latency_seconds=latency,
        failure_class="upstream" if outcome == "failure" else "", gateway_team_id=team,
    )  # fmt: skip


def a_day_of_traffic():
    """Three teams over the last hours: successes, failures, requests slower than the hang time,
    one finished 0.5 s after an hour began, requests still running; part of it folded."""
    events = []
    for h in range(5):
        at = NOW - timedelta(hours=h, minutes=7, seconds=0.25)
        events += [finished(f"ok-{h}-{i}", at + timedelta(seconds=i)) for i in range(h + 3)]
        events += [finished(f"bad-{h}-{i}", at, outcome="failure") for i in range(h)]
        events.append(finished(f"slow-{h}", at, team="t-ads", latency=900.0))
    events.append(
        finished("just-after-the-hour", NOW.replace(minute=0, second=0) + timedelta(0, 0.5))
    )
    store_events("gw", events[: len(events) // 2], NOW)
    rollups.fold()  # the rest stays as count changes not folded yet
    store_events("gw", events[len(events) // 2 :], NOW)
    store_events(
        "gw",
        [
            Event(request_id="running-long", started_at=NOW - timedelta(hours=2, minutes=3),
                  gateway_team_id="t-ads"),
            Event(request_id="running-briefly", started_at=NOW - timedelta(seconds=30)),
        ],
        NOW,
    )  # fmt: skip


def totals(counts):
    summed: defaultdict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in counts:
        for i, n in enumerate((row.finished, row.failed, row.hung)):
            summed[(row.team_id, row.hour)][i] += n
    return {key: tuple(values) for key, values in summed.items()}


def test_the_counts_say_what_the_request_rows_say():
    a_day_of_traffic()
    hours = hour_buckets(NOW)

    counted = team_hours.per_team_and_hour(hours, NOW, HANG)
    from_counts = totals(counted)
    running = [row for row in counted if not row.finished]
    from_rows = totals([*team_hours._from_rows(hours[0], HANG), *running])

    assert from_counts == from_rows
    this_hour = NOW.replace(minute=0, second=0)
    # 3 successes 7 min before now, and the one finished just after the hour began.
    assert from_counts[("t-search", this_hour)] == (4, 0, 0)
    assert from_counts[("t-search", this_hour - timedelta(hours=4))] == (11, 4, 0)
    # Slower than the hang time: in the hour it finished; still running: in the hour it started.
    assert from_counts[("t-ads", this_hour - timedelta(hours=1))] == (1, 0, 1)
    assert from_counts[("t-ads", this_hour - timedelta(hours=2))] == (1, 0, 2)


def test_on_postgres_the_table_reads_the_counts_and_only_the_requests_still_running():
    a_day_of_traffic()

    with CaptureQueriesContext(connection) as queries:
        _, rows = team_rows(NOW)  # at a whole second: no fraction of one read from the rows

    reading_requests = [q["sql"] for q in queries if "ingest_gatewayrequest" in q["sql"]]
    assert len(reading_requests) == 1
    assert '"ingest_gatewayrequest"."finished_at" IS NULL' in reading_requests[0]
    assert {row.series.label: sum(row.series.hung) for row in rows}["t-ads"] == 5 + 1
