"""Retention: a request is kept while its day is one of the last REQUEST_RETENTION_DAYS before
today, or today. On Postgres whole day partitions are detached and dropped; the embedded
SQLite default deletes rows, in batches. Incidents and recent rows stay."""

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from ingest import partitions
from ingest.models import GatewayRequest
from ingest.pruning import delete_old_rows, prune
from ingest.tasks import prune_old_requests

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def rows(n, prefix, **times):
    GatewayRequest.objects.bulk_create(
        GatewayRequest(source="gw", request_id=f"{prefix}-{i}", received_at=NOW, **times)
        for i in range(n)
    )


def kept():
    return set(GatewayRequest.objects.values_list("request_id", flat=True))


def fill_a_month():
    rows(7, "old", started_at=NOW - timedelta(days=31), finished_at=NOW - timedelta(days=31))
    rows(3, "old-unfinished", started_at=NOW - timedelta(days=40))
    rows(1, "oldest-day-kept", finished_at=datetime(2026, 10, 23, 0, 0, 1, tzinfo=UTC))
    rows(4, "recent", started_at=NOW - timedelta(days=29), finished_at=NOW - timedelta(days=29))
    rows(2, "running", started_at=NOW - timedelta(minutes=1))


def pruned_days(now):
    """The days whose partitions ``prune`` dropped; it says how many."""
    before = set(partitions.existing())
    count = prune(now)
    dropped = before - set(partitions.existing())
    assert count == len(dropped)
    return dropped


RECENT = {f"recent-{i}" for i in range(4)} | {"running-0", "running-1", "oldest-day-kept-0"}


@pytest.mark.django_db(transaction=True)
def test_postgres_drops_the_days_older_than_the_retention_whole():
    fill_a_month()

    dropped = pruned_days(NOW)

    assert kept() == RECENT
    # The days of "old" and "old-unfinished" (and of earlier tests' partitions before the cutoff).
    assert {date(2026, 10, 13), date(2026, 10, 22)} <= dropped
    assert all(day < date(2026, 10, 23) for day in dropped)
    # The coming days are there for the writers.
    assert {date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)} <= set(
        partitions.existing()
    )


@pytest.mark.django_db(transaction=True)
def test_a_day_dropped_is_created_again_for_a_late_event_and_dropped_again():
    rows(1, "old", finished_at=NOW - timedelta(days=31))
    prune(NOW)

    rows(1, "late", finished_at=NOW - timedelta(days=31))  # its partition is created again
    assert kept() == {"late-0"}
    prune(NOW)
    assert kept() == set()


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_detach_is_finished():
    from django.db import connection

    rows(2, "old", finished_at=NOW - timedelta(days=31))
    day = date(2026, 10, 22)
    with connection.cursor() as cursor:
        # A detach that stopped between its two transactions (a worker killed mid-way) leaves
        # the partition "pending"; Postgres's own way of getting there is cancelling the second
        # one, which a test cannot time, so the state is set as Postgres sets it.
        cursor.execute(
            "UPDATE pg_inherits SET inhdetachpending = true WHERE inhrelid = %s::regclass",
            [partitions.name(day)],
        )
    assert partitions.existing()[day] is True

    assert day in pruned_days(NOW)
    assert kept() == set()


@pytest.mark.django_db(transaction=True)
def test_each_dropped_day_is_logged_with_its_size_and_what_took_the_time(caplog):
    """Dropping a day costs the file system's removal of its files: the log says how big each
    day was and how long detaching (the live table) and removing (the files) took."""
    rows(7, "old", started_at=NOW - timedelta(days=31), finished_at=NOW - timedelta(days=31))

    with caplog.at_level(logging.INFO, logger="ingest.partitions"):
        dropped = partitions.drop_before(date(2026, 10, 23))

    old = next(each for each in dropped if each.day == date(2026, 10, 22))
    assert old.size_bytes > 8192  # the table's page and its indexes'
    logged = [record.getMessage() for record in caplog.records]
    assert any(
        line.startswith("dropped the requests of 2026-10-22 (") and "files removed in" in line
        for line in logged
    )


@pytest.mark.django_db
def test_partitions_are_not_detached_inside_a_transaction():
    with pytest.raises(RuntimeError, match="outside a transaction"):
        partitions.drop_before(NOW.date())


@pytest.mark.django_db
def test_elsewhere_rows_are_deleted_in_batches_by_the_same_rule():
    fill_a_month()

    assert delete_old_rows(NOW, batch=3) == 10

    assert kept() == RECENT


@pytest.mark.django_db(transaction=True)
def test_the_retention_is_a_setting(settings):
    settings.REQUEST_RETENTION_DAYS = 7
    rows(2, "week-old", finished_at=NOW - timedelta(days=8))
    rows(2, "this-week", finished_at=NOW - timedelta(days=7))

    dropped = pruned_days(NOW)

    assert kept() == {"this-week-0", "this-week-1"}
    assert date(2026, 11, 14) in dropped
    assert all(day < date(2026, 11, 15) for day in dropped)


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_prunes_at_the_real_now():
    with time_machine.travel(NOW, tick=False):
        rows(1, "ancient", finished_at=NOW - timedelta(days=40))

        assert prune_old_requests() >= 1
        assert kept() == set()
