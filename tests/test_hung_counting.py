"""Hung policies on Postgres read the requests that can be hung through their two indexes, not
every request started in the window (policies/hung_counting.py). That they count exactly what
each policy's own query counts is shown with every other kind in test_counting_shared.py."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from ingest import partitions
from policies.counting_query import POSTGRES_SETTINGS
from policies.evaluation import Count
from policies.hung_counting import REQUESTS, _select, count_hung
from policies.models import PolicyKind

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_late_and_the_unfinished_are_read_from_their_indexes(make_policy):
    policy = make_policy(kind=PolicyKind.HUNG, duration_seconds=60, window_seconds=600)
    sql, params = _select(policy, NOW)
    # Two days back, and three ahead, as beat makes them.
    partitions.ensure([NOW.date() + timedelta(days=n) for n in range(-2, 4)], NOW)
    with connection.cursor() as cursor:
        _traffic(cursor)
        for setting in POSTGRES_SETTINGS:
            cursor.execute(setting)
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # The index of late requests only for the very expression it was built on (ingest 0006).
    assert any(index in plan for index in partition_indexes("request_late_by_start"))
    # The unfinished through either index that holds them apart (Postgres chooses).
    assert (
        any(index in plan for index in partition_indexes("request_unfinished"))
        or "Index Cond: (finished_at IS NULL)" in plan
    )
    # Not the rows of the window's day; nor the days before it (nothing to read: no partition).
    assert f"Seq Scan on {partitions.name(NOW.date())}" not in plan
    assert partitions.name(NOW.date() - timedelta(days=2)) not in plan
    # Nor the days made ahead beyond tomorrow (a gateway's clock may be a few minutes ahead).
    assert partitions.name(NOW.date() + timedelta(days=2)) not in plan
    assert partitions.name(NOW.date() + timedelta(days=3)) not in plan
    assert count_hung([policy], NOW)[policy.pk] == {"": Count(30, 30)}


def test_counting_never_starts_parallel_workers(make_policy):
    """Starting a worker costs milliseconds; a counting statement reads a few rows. On a large
    partition the planner's estimates made it start them anyway (100 million requests stored:
    180 ms an evaluation instead of 92); here parallel plans are made cheap to force its hand."""
    hung = make_policy(kind=PolicyKind.HUNG, duration_seconds=60, window_seconds=600)
    sql, params = _select(hung, NOW)
    partitions.ensure([NOW.date() - timedelta(days=n) for n in range(3)], NOW)
    with connection.cursor() as cursor:
        # Its own traffic and statistics: the planner's choice must not hang on what an earlier
        # test left in the statistics (ANALYZE's row counts outlive a rollback).
        _traffic(cursor)
        for cheap in (
            "parallel_setup_cost = 0", "parallel_tuple_cost = 0",
            "min_parallel_table_scan_size = 0", "min_parallel_index_scan_size = 0",
        ):  # fmt: skip
            cursor.execute(f"SET LOCAL {cheap}")
        cursor.execute(f"EXPLAIN {sql}", params)
        forced = "\n".join(row[0] for row in cursor.fetchall())
        for setting in POSTGRES_SETTINGS:
            cursor.execute(setting)
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Gather" in forced
    assert "Gather" not in plan


def _traffic(cursor: Any) -> None:
    """Traffic as a gateway sees it: 20,000 requests started in the window, of 0.5 to 10 s, 20
    of them slower than T and 10 still running; analyzed, as autovacuum would."""
    cursor.execute(
        f"INSERT INTO {REQUESTS} (source, request_id, started_at, finished_at, outcome, "
        "failure_class, latency_seconds, gateway_team_id, gateway_team_alias, key_alias, "
        "model_group, model, received_at, trace_id, status_code, error_class, error_code, "
        "error_provider, error_message, provider, api_base, key_hash, user_id, org_id, "
        "counted_on_insert, day) "
        "SELECT 'gw', 'r' || i, s, CASE WHEN i %% 2000 = 0 THEN NULL ELSE s + lat END, "
        "CASE WHEN i %% 2000 = 0 THEN '' ELSE 'success' END, '', "
        "CASE WHEN i %% 2000 = 0 THEN NULL ELSE extract(epoch FROM lat) END, "
        "'', '', '', '', '', s, '', NULL, '', '', '', '', '', '', '', '', '', true, "
        "(s AT TIME ZONE 'UTC')::date "
        "FROM generate_series(1, 20000) AS i, LATERAL (SELECT "
        "%s::timestamptz - interval '11 minutes' + i * interval '30 ms' AS s, "
        "CASE WHEN i %% 1000 = 500 THEN interval '90 s' "
        "ELSE (0.5 + i %% 96 / 10.0) * interval '1 s' END AS lat) AS row",
        [NOW],
    )
    cursor.execute(f"ANALYZE {REQUESTS}")


def partition_indexes(index: str) -> list[str]:
    """The names of an index of the requests' table on each of its day partitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [index],
        )
        return [name for (name,) in cursor.fetchall()]


def test_only_hung_policies_are_counted_here(make_policy):
    slow = make_policy(kind=PolicyKind.SLOW, duration_seconds=60)

    with pytest.raises(ValueError, match="slow policies are not hung policies"):
        count_hung([slow], NOW)
