"""Request rows live in the partition of their day (ingest/partitions.py); a request's start and
finish still merge into one row across midnight, in any order, through every ingest path, and a
repeated event still changes nothing."""

import itertools
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from ingest import partitions, store
from ingest.events import parse_console_event
from ingest.models import GatewayRequest
from tests.ingest_client import EVENTS_URL, post

MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)
BEFORE, AFTER = date(2026, 11, 30), date(2026, 12, 1)
START = {"event": "started", "request_id": "r1", "started_at": MIDNIGHT.timestamp() - 3}
# A finish that says neither when its request started nor how long it took: keyed by its own
# time, after midnight, while its start is before.
BARE_FINISH = {
    "event": "finished",
    "request_id": "r1",
    "status": "failure",
    "status_code": 503,
    "finished_at": MIDNIGHT.timestamp() + 2,
}


def rows():
    return list(GatewayRequest.objects.values("request_id", "day", "started_at", "finished_at"))


def counted_finishes():
    """What the request counts say finished (their changes not folded yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(finished), 0) FROM ingest_requestdelta")
        return cursor.fetchone()[0]


@pytest.fixture(params=["values", "copy"])
def storage_path(request, monkeypatch):
    monkeypatch.setattr(store, "VALUES_BATCH_LIMIT", 1000 if request.param == "values" else 0)
    monkeypatch.setattr(store, "_merge_until", {})
    return request.param


@pytest.mark.django_db
@pytest.mark.usefixtures("storage_path")
@pytest.mark.parametrize("late", [timedelta(seconds=5), timedelta(hours=3)])
@pytest.mark.parametrize("order", sorted(set(itertools.permutations("SFFS"))))
def test_a_start_and_a_bare_finish_across_midnight_are_one_row(client, token, order, late):
    with time_machine.travel(MIDNIGHT + late, tick=False):
        for kind in order:
            response = post(client, EVENTS_URL, START if kind == "S" else BARE_FINISH, token)
            assert response.status_code == 200

    [row] = rows()  # no second row still "running" on the day before: no phantom hung request
    assert row["started_at"] == MIDNIGHT - timedelta(seconds=3)
    assert row["finished_at"] == MIDNIGHT + timedelta(seconds=2)
    # The day of the first event: the start's, or the bare finish's when it came first.
    assert row["day"] == (BEFORE if order[0] == "S" else AFTER)
    assert counted_finishes() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("storage_path")
def test_a_batch_mixing_both_sides_of_midnight_and_requests_stored_on_either(client, token):
    with time_machine.travel(MIDNIGHT + timedelta(seconds=30), tick=False):
        post(client, EVENTS_URL, [dict(START, request_id=f"s{i}") for i in range(20)], token)
        bare = [dict(BARE_FINISH, request_id=f"f{i}") for i in range(20)]
        post(client, EVENTS_URL, bare, token)

        # Each finishes what the other began, and 20 requests new to the console come along.
        finishes = [dict(BARE_FINISH, request_id=f"s{i}") for i in range(20)]
        starts = [dict(START, request_id=f"f{i}") for i in range(20)]
        fresh = [dict(START, request_id=f"n{i}") for i in range(20)]
        assert post(client, EVENTS_URL, finishes + starts + fresh, token).status_code == 200

    stored = {row["request_id"]: row for row in rows()}
    assert len(stored) == 60
    assert all(stored[f"s{i}"]["day"] == BEFORE for i in range(20))
    assert all(stored[f"f{i}"]["day"] == AFTER for i in range(20))
    assert all(stored[f"n{i}"]["day"] == BEFORE for i in range(20))
    assert sum(row["finished_at"] is not None for row in stored.values()) == 40
    assert sum(row["started_at"] is not None for row in stored.values()) == 60
    assert counted_finishes() == 40


@pytest.mark.django_db
def test_events_carrying_their_start_are_not_looked_up_well_inside_the_day():
    def lookups(event):
        """The lookups across days that storing ``event`` at noon made (their request locks)."""
        with CaptureQueriesContext(connection) as queries:
            store.store_events("gw", [parse_console_event(event, noon)], noon)
        return [q["sql"] for q in queries.captured_queries if "hashtext" in q["sql"]]

    noon = MIDNIGHT + timedelta(hours=12)
    partitions.ensure([AFTER], noon)
    looked_up = lookups(dict(START, started_at=noon.timestamp() - 1))
    assert looked_up == []

    looked_up = lookups(dict(BARE_FINISH, finished_at=noon.timestamp()))
    assert len(looked_up) == 1


def test_which_events_are_looked_up():
    noon = MIDNIGHT + timedelta(hours=12)
    certain = partitions.certain_starts(noon)
    assert certain == (MIDNIGHT + partitions.MARGIN, MIDNIGHT + timedelta(days=1))
    assert not partitions.needs_lookup(noon - timedelta(hours=1), certain)
    # A start within the margin of midnight, or on the day before, or no start at all.
    assert partitions.needs_lookup(MIDNIGHT + partitions.MARGIN / 2, certain)
    assert partitions.needs_lookup(MIDNIGHT - timedelta(hours=1), certain)
    assert partitions.needs_lookup(None, certain)
    # Within the margin of the next midnight, no day is certain.
    assert partitions.certain_starts(MIDNIGHT - partitions.MARGIN / 2) is None
    assert partitions.certain_starts(MIDNIGHT + partitions.MARGIN / 2) is None
    assert partitions.needs_lookup(MIDNIGHT - timedelta(hours=6), None)


def test_a_day_is_the_utc_day_whatever_the_zone_an_event_gave():
    paris = datetime.fromisoformat("2026-12-01T00:30:00+01:00")
    assert partitions.day_of(paris) == BEFORE
    assert partitions.key_day(None, paris) == BEFORE
    assert partitions.parse(partitions.name(BEFORE)) == BEFORE
    assert partitions.parse("ingest_gatewayrequest_default") is None


@pytest.mark.django_db
def test_a_late_event_gets_its_days_partition(client, token):
    late = MIDNIGHT - timedelta(days=20)
    assert late.date() not in partitions.existing()
    with time_machine.travel(MIDNIGHT, tick=False):
        post(client, EVENTS_URL, dict(START, started_at=late.timestamp()), token)

    assert [row["day"] for row in rows()] == [late.date()]
    assert late.date() in partitions.existing()


@pytest.mark.django_db(transaction=True)
def test_a_start_and_a_bare_finish_posted_at_once_make_one_row():
    """Two replicas store a request's two sides at the same moment, neither stored before: each
    looks for the other under the request's lock, so the second finds the first's row."""
    now = MIDNIGHT + timedelta(seconds=5)
    ids = [f"r{i:02}" for i in range(40)]
    starts = [parse_console_event(dict(START, request_id=i), now) for i in ids]
    finishes = [parse_console_event(dict(BARE_FINISH, request_id=i), now) for i in ids]
    partitions.ensure([BEFORE, AFTER], now)
    for start, finish in zip(starts, finishes, strict=True):
        together = threading.Barrier(2)

        def store_one(event, together=together):
            together.wait()
            try:
                store.store_events("gw", [event], now)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=store_one, args=(e,)) for e in (start, finish)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    stored = rows()
    assert sorted(row["request_id"] for row in stored) == ids
    assert all(row["started_at"] and row["finished_at"] for row in stored)
