"""Migration ingest 0003 counts the requests stored before it: the rows written by the previous
schema become deltas, and every change after it has its own (ingest/rollups.py); 0004 and 0005
keep those counts while changing how they are written."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ingest import latency, partitions, rollups
from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

# The fold as it was before the deltas had a latency bin; before they had a cost.
FOLD_BEFORE = importlib.import_module(
    "ingest.migrations.0005_count_slower_per_latency_edge"
).FOLD_BEFORE
FOLD_BEFORE_COST = importlib.import_module("ingest.migrations.0008_sum_cost_and_tokens").FOLD_BEFORE
BEFORE = [("ingest", "0002_token_history")]
AFTER = [("ingest", "0003_request_rollups")]
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# These tests stop before ingest 0013: the counts have no provider, deployment or region yet.
OLD = rollups.DIMENSIONS_BEFORE_0013
# And before ingest 0014, no count of the first token; before 0015, no user.
OLD_EDGES = latency.LATENCY.counted
BEFORE_0015 = rollups.DIMENSIONS_BEFORE_0015


def counted(start, end):
    source, params = rollups.window_source(start, end, dimensions=OLD)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gateway_team_id, sum(finished), sum(failed_upstream) FROM {source} AS r "
            "GROUP BY 1 HAVING sum(finished) <> 0 ORDER BY 1",
            params,
        )
        return [(team, int(n), int(failed)) for team, n, failed in cursor.fetchall()]


def test_the_requests_stored_before_it_are_counted_and_later_changes_too():
    old = migrate(BEFORE)
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(5):
        requests.create(
            source="gw", request_id=f"r{i}", finished_at=T0 + timedelta(seconds=i + 0.5),
            outcome="failure" if i % 2 else "success", failure_class="upstream" if i % 2 else "",
            gateway_team_id="team-search", received_at=T0,
        )  # fmt: skip
    requests.create(source="gw", request_id="running", started_at=T0, received_at=T0)
    try:
        new = migrate(AFTER)
        assert counted(T0, T0 + timedelta(hours=1)) == [("team-search", 5, 2)]
        with connection.cursor() as cursor:
            cursor.execute(FOLD_BEFORE)
        # A change after the migration: the running request finishes.
        new.get_model("ingest", "GatewayRequest").objects.filter(request_id="running").update(
            finished_at=T0 + timedelta(seconds=30), outcome="success"
        )
        assert counted(T0, T0 + timedelta(hours=1)) == [("", 1, 0), ("team-search", 5, 2)]
    finally:
        migrate_to_latest()


def test_after_0004_every_insert_is_counted_once_and_the_earlier_counts_stay():
    """0004 swaps the statement-level insert trigger for a row-level one: a row inserted under
    each is counted once, and a bulk load that marks its rows is left to count them itself."""
    old = migrate([("ingest", "0003_request_rollups")])
    old.get_model("ingest", "GatewayRequest").objects.create(
        source="gw", request_id="before", finished_at=T0 + timedelta(seconds=1.5),
        outcome="failure", failure_class="upstream", received_at=T0,
    )  # fmt: skip
    try:
        new = migrate([("ingest", "0004_count_inserted_rows_per_row")])
        requests = new.get_model("ingest", "GatewayRequest").objects
        requests.create(
            source="gw", request_id="after", finished_at=T0 + timedelta(seconds=2.5),
            outcome="success", received_at=T0,
        )  # fmt: skip
        requests.create(
            source="gw", request_id="loaded", finished_at=T0 + timedelta(seconds=3.5),
            outcome="success", received_at=T0, counted_on_insert=True,
        )  # fmt: skip

        assert counted(T0, T0 + timedelta(hours=1)) == [("", 2, 1)]
    finally:
        migrate_to_latest()


def _fold_into(fold, levels_then, levels, params=()):
    """`fold` (a fold's statement) as it was when the counts had only `levels`."""
    values = f"(VALUES {', '.join(f'({level})' for level in levels)})"
    then = fold.replace(f"(VALUES {', '.join(f'({level})' for level in levels_then)})", values)
    assert values in then
    with connection.cursor() as cursor:
        cursor.execute(then, list(params))


def fold_three_levels():
    """The fold as it was before 0007: into seconds, minutes and hours."""
    _fold_into(FOLD_BEFORE_COST, (3600, 600, 60, 10, 1), (3600, 60, 1))


def fold_five_levels():
    """The fold as it was before 0009: no days."""
    _fold_into(rollups.fold_sql(OLD, OLD_EDGES), rollups.LEVELS, (3600, 600, 60, 10, 1), [10_000])


def slower_counted(start, end):
    """Per team: requests finished in (start, end] slower than each edge, from the counts."""
    every = latency.LATENCY.counted
    source, params = rollups.window_source(start, end, slower=every, dimensions=OLD)
    sums = ", ".join(f"COALESCE(sum({edge.column}), 0)" for edge in every)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gateway_team_id, {sums} FROM {source} AS r GROUP BY 1 ORDER BY 1", params
        )
        return {team: tuple(int(n) for n in slower) for team, *slower in cursor.fetchall()}


def slower_stored(start, end):
    """The same, straight from the request rows."""
    sums = ", ".join(
        f"count(*) FILTER (WHERE latency_seconds > {edge!r})" for edge in latency.EDGES
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gateway_team_id, {sums} FROM {rollups.REQUESTS} "
            "WHERE finished_at > %s AND finished_at <= %s GROUP BY 1 ORDER BY 1",
            [start, end],
        )
        return {team: tuple(int(n) for n in slower) for team, *slower in cursor.fetchall()}


def test_after_0005_the_counts_say_how_many_were_slower_than_each_edge():
    """Rows stored under 0004, some of them folded and some still deltas, get their slow counts
    from the rows; the changes after it carry their latency bin."""
    old = migrate([("ingest", "0004_count_inserted_rows_per_row")])
    requests = old.get_model("ingest", "GatewayRequest").objects
    latencies = [None, 0.05, 0.1, 0.1000001, 4.0, 5.0, 299.0, 301.0, 90000.0]
    for i, seconds in enumerate(latencies[:5]):
        requests.create(
            source="gw", request_id=f"folded{i}", latency_seconds=seconds,
            finished_at=T0 + timedelta(seconds=i + 0.5), outcome="success", received_at=T0,
            gateway_team_id="team-a",
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(FOLD_BEFORE)
    for i, seconds in enumerate(latencies[5:]):
        requests.create(
            source="gw", request_id=f"waiting{i}", latency_seconds=seconds,
            finished_at=T0 + timedelta(minutes=2, seconds=i), outcome="success", received_at=T0,
            gateway_team_id="team-b",
        )  # fmt: skip
    requests.create(source="gw", request_id="running", started_at=T0, received_at=T0)
    window = (T0, T0 + timedelta(hours=2))
    try:
        new = migrate([("ingest", "0005_count_slower_per_latency_edge")])
        assert slower_counted(*window) == slower_stored(*window)
        assert slower_counted(*window)["team-b"][latency.index_of(300)] == 2
        fold_three_levels()
        # After it: a finish with its latency, and a latency that moves a request's bin.
        moved = new.get_model("ingest", "GatewayRequest").objects
        moved.filter(request_id="running").update(
            finished_at=T0 + timedelta(seconds=30), latency_seconds=30.0, outcome="success"
        )
        moved.filter(request_id="folded4").update(latency_seconds=0.2)
        assert slower_counted(*window) == slower_stored(*window)
        fold_three_levels()
        assert slower_counted(*window) == slower_stored(*window)
    finally:
        migrate_to_latest()


def test_after_0007_tens_of_seconds_and_of_minutes_hold_what_their_seconds_and_minutes_do():
    """The counts folded under 0006 (seconds, minutes, hours) get their 10-second and 10-minute
    buckets; a window read through them counts what the rows say."""
    old = migrate([("ingest", "0006_index_late_requests_by_start")])
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(40):
        requests.create(
            source="gw", request_id=f"r{i}", latency_seconds=float(i % 7),
            finished_at=T0 + timedelta(seconds=37 * i + 0.5), received_at=T0,
            outcome="failure" if i % 3 else "success", failure_class="upstream" if i % 3 else "",
            gateway_team_id=f"team-{i % 2}",
        )  # fmt: skip
    fold_three_levels()
    window = (T0 - timedelta(minutes=20), T0 + timedelta(minutes=30))
    try:
        migrate([("ingest", "0007_ten_second_and_ten_minute_counts")])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT level, sum(finished), sum(slower_than_3s) FROM ingest_requestrollup "
                "GROUP BY 1 ORDER BY 1"
            )
            assert cursor.fetchall() == [(level, 40, 16) for level in (1, 10, 60, 600, 3600)]
        assert counted(*window) == [("team-0", 20, 13), ("team-1", 20, 13)]
        assert slower_counted(*window) == slower_stored(*window)
    finally:
        migrate_to_latest()


def sums(start, end, source=None):
    """Per team: the cost and tokens of the requests finished in (start, end], from the counts
    (or, with `source`, from that table of rows)."""
    if source is None:
        table, params = rollups.window_source(start, end, sums=True, dimensions=OLD)
        where = "true"
    else:
        table, params = source, [start, end]
        where = "finished_at > %s AND finished_at <= %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gateway_team_id, round(sum(cost)::numeric, 9), sum(total_tokens) "
            f"FROM {table} AS r WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )
        return cursor.fetchall()


def test_after_0008_the_counts_sum_cost_and_tokens():
    """Rows stored under 0007, folded and not, get their sums from the rows; a cost filled in
    by a later change is added."""
    old = migrate([("ingest", "0007_ten_second_and_ten_minute_counts")])
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(12):
        requests.create(
            source="gw", request_id=f"r{i}", finished_at=T0 + timedelta(seconds=50 * i + 0.5),
            outcome="success", received_at=T0, gateway_team_id=f"team-{i % 2}",
            cost=None if i == 5 else 0.1 * i, total_tokens=None if i == 7 else 100 * i,
        )  # fmt: skip
        if i == 6:
            with connection.cursor() as cursor:
                cursor.execute(FOLD_BEFORE_COST)  # the first seven folded, the others waiting
    window = (T0, T0 + timedelta(hours=1))
    try:
        new = migrate([("ingest", "0008_sum_cost_and_tokens")])
        expected = sums(*window, source=rollups.REQUESTS)
        assert expected[0][1:] == (Decimal("3.000000000"), 3000)  # 0.1 * (0 + 2 + ... + 10)
        assert sums(*window) == expected
        new.get_model("ingest", "GatewayRequest").objects.filter(request_id="r5").update(cost=2.5)
        fold_five_levels()
        assert sums(*window) == sums(*window, source=rollups.REQUESTS)
    finally:
        migrate_to_latest()


def test_after_0009_days_hold_what_their_hours_do():
    old = migrate([("ingest", "0008_sum_cost_and_tokens")])
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(30):
        requests.create(
            source="gw", request_id=f"r{i}", latency_seconds=float(i % 7), cost=0.5,
            finished_at=T0 + timedelta(hours=5 * i, seconds=0.5), received_at=T0,
            outcome="success", total_tokens=i, gateway_team_id=f"team-{i % 2}",
        )  # fmt: skip
    fold_five_levels()
    try:
        migrate([("ingest", "0009_daily_counts")])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT level, sum(finished), sum(slower_than_3s), sum(cost), "
                "sum(total_tokens) FROM ingest_requestrollup WHERE level IN (3600, 86400) "
                "GROUP BY 1 ORDER BY 1"
            )
            assert cursor.fetchall() == [(3600, 30, 12, 15.0, 435), (86400, 30, 12, 15.0, 435)]
        window = (T0 - timedelta(days=1), T0 + timedelta(days=8))
        assert sums(*window) == sums(*window, source=rollups.REQUESTS)
        assert slower_counted(*window) == slower_stored(*window)
    finally:
        migrate_to_latest()


def by_dimensions(start, end):
    """Finished and failed requests per provider, deployment and region in (start, end], from
    the counts; and in all, from the counts and from the request rows."""
    source, params = rollups.window_source(start, end, dimensions=BEFORE_0015)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT provider, deployment_id, region, sum(finished), sum(failed_upstream) "
            f"FROM {source} AS r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            params,
        )
        groups = [(p, d, r, int(n), int(f)) for p, d, r, n, f in cursor.fetchall()]
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE outcome = 'failure') FROM {rollups.REQUESTS} "
            "WHERE finished_at > %s AND finished_at <= %s",
            [start, end],
        )
        stored = cursor.fetchone()
    counted = (sum(g[3] for g in groups), sum(g[4] for g in groups))
    return groups, counted, stored


def test_after_0013_counts_say_the_provider_deployment_and_region_and_earlier_ones_stay():
    """Rows stored under 0012 (folded, and waiting as changes) keep their counts, under an
    empty provider, deployment and region; requests after it are counted under theirs, and a
    later change to an earlier request keeps the total."""
    old = migrate([("ingest", "0012_request_deployment_region_ttft_user_tags")])
    # The models of 0012 write their rows themselves: T0's day needs its partition (the
    # database was made on the day the tests run).
    partitions.ensure([T0.date()], T0)
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(6):
        requests.create(
            source="gw", request_id=f"r{i}", finished_at=T0 + timedelta(seconds=30 * i + 0.5),
            outcome="failure" if i % 2 else "success", failure_class="upstream" if i % 2 else "",
            received_at=T0, provider="openai", day=T0.date(),
        )  # fmt: skip
        if i == 2:
            _fold_into(rollups.fold_sql(OLD, OLD_EDGES), rollups.LEVELS, rollups.LEVELS, [10_000])
    window = (T0, T0 + timedelta(hours=1))
    try:
        new = migrate([("ingest", "0013_count_per_provider_deployment_region")])
        groups, counted, stored = by_dimensions(*window)
        assert groups == [("", "", "", 6, 3)]
        assert counted == stored == (6, 3)
        new_requests = new.get_model("ingest", "GatewayRequest").objects
        new_requests.create(
            source="gw",
            request_id="after",
            finished_at=T0 + timedelta(seconds=300.5),
            outcome="failure",
            failure_class="upstream",
            received_at=T0,
            provider="bedrock",
            deployment_id="dep-1",
            region="us-east-1",
            day=T0.date(),
        )
        new_requests.filter(request_id="r1").update(outcome="success", failure_class="")
        with connection.cursor() as cursor:
            cursor.execute(rollups.fold_sql(BEFORE_0015, OLD_EDGES), [10_000])
        groups, counted, stored = by_dimensions(*window)
        assert groups == [
            ("", "", "", 6, 3),
            ("bedrock", "dep-1", "us-east-1", 1, 1),
            # r1's change takes back its failure under its provider, where the trigger of
            # 0012 had counted it under none: the split by provider is off for r1, the total
            # and every split by what policies group on before 0013 are exact.
            ("openai", "", "", 0, -1),
        ]
        assert counted == stored == (7, 3)
    finally:
        migrate_to_latest()


def first_token_counted(start, end):
    """Per team: the requests finished in (start, end] that reported a first token, and of them
    those slower than each first-token edge: from the counts, and from the request rows."""
    edges = latency.FIRST_TOKEN.counted
    source, params = rollups.window_source(start, end, slower=edges, dimensions=BEFORE_0015)
    sums = ", ".join(f"COALESCE(sum({edge.column}), 0)" for edge in edges)
    stored = ", ".join(f"count(*) FILTER (WHERE {edge.of_rows})" for edge in edges)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gateway_team_id, {sums} FROM {source} AS r GROUP BY 1 ORDER BY 1", params
        )
        counted = [(team, *map(int, rest)) for team, *rest in cursor.fetchall()]
        cursor.execute(
            f"SELECT gateway_team_id, {stored} FROM {rollups.REQUESTS} "
            "WHERE finished_at > %s AND finished_at <= %s GROUP BY 1 ORDER BY 1",
            [start, end],
        )
        return counted, cursor.fetchall()


def test_after_0014_the_counts_keep_the_first_token_of_rows_stored_before():
    """Rows stored under 0013 (folded, and waiting as changes) get their first-token counts
    from the rows; a first token reported after it, on an earlier request or a new one, is
    counted by the new triggers."""
    old = migrate([("ingest", "0013_count_per_provider_deployment_region")])
    partitions.ensure([T0.date()], T0)
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(10):
        requests.create(
            source="gw", request_id=f"r{i}", finished_at=T0 + timedelta(seconds=40 * i + 0.5),
            outcome="success", received_at=T0, gateway_team_id=f"team-{i % 2}", day=T0.date(),
            latency_seconds=9.0, time_to_first_token_seconds=None if i == 3 else 0.4 * i,
        )  # fmt: skip
        if i == 5:  # the first six folded, the others waiting as changes
            _fold_into(
                rollups.fold_sql(BEFORE_0015, OLD_EDGES), rollups.LEVELS, rollups.LEVELS, [10_000]
            )
    window = (T0, T0 + timedelta(hours=1))
    try:
        new = migrate([("ingest", "0014_count_time_to_first_token")])
        counted, stored = first_token_counted(*window)
        assert counted == stored
        # team-0: 0, 0.8, 1.6, 2.4, 3.2 s (five reported); team-1: 0.4, 2, 2.8, 3.6 (r3: none).
        assert [row[:3] for row in stored] == [("team-0", 5, 4), ("team-1", 4, 4)]
        with connection.cursor() as cursor:
            cursor.execute(rollups.fold_sql(BEFORE_0015), [10_000])
        assert first_token_counted(*window)[0] == stored
        new_requests = new.get_model("ingest", "GatewayRequest").objects
        new_requests.filter(request_id="r3").update(time_to_first_token_seconds=7.0)
        new_requests.create(
            source="gw", request_id="after", finished_at=T0 + timedelta(seconds=900.5),
            outcome="success", received_at=T0, gateway_team_id="team-0", day=T0.date(),
            time_to_first_token_seconds=61.0,
        )  # fmt: skip
        counted, stored = first_token_counted(*window)
        assert counted == stored
        assert [row[:2] for row in stored] == [("team-0", 6), ("team-1", 5)]
        with connection.cursor() as cursor:
            cursor.execute(rollups.fold_sql(BEFORE_0015), [10_000])
        assert first_token_counted(*window) == (stored, stored)
        # Every level still kept for T0 was backfilled alike (the seconds are kept 3 hours, and
        # T0 is older): each holds the eleven that reported one.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT level, sum(first_token_reported) FROM ingest_requestrollup "
                "WHERE level >= 60 GROUP BY 1 ORDER BY 1"
            )
            kept = sorted(level for level in rollups.LEVELS if level >= 60)
            assert cursor.fetchall() == [(level, 11) for level in kept]
    finally:
        migrate_to_latest()


def per_user(start, end):
    """Per user and per team: requests, failures and cost finished in (start, end], from the
    counts and from the request rows."""
    source, params = rollups.window_source(start, end, sums=True)
    results = []
    for column in ("user_id", "gateway_team_id"):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {column}, sum(finished), sum(failed_upstream), sum(cost) FROM {source} "
                "AS r GROUP BY 1 HAVING sum(finished) <> 0 ORDER BY 1",
                params,
            )
            counted = [(g, int(n), int(f), round(c, 6)) for g, n, f, c in cursor.fetchall()]
            cursor.execute(
                f"SELECT {column}, count(*), count(*) FILTER (WHERE outcome = 'failure'), "
                f"sum(COALESCE(cost, 0)) FROM {rollups.REQUESTS} "
                "WHERE finished_at > %s AND finished_at <= %s GROUP BY 1 ORDER BY 1",
                [start, end],
            )
            stored = [(g, int(n), int(f), round(c, 6)) for g, n, f, c in cursor.fetchall()]
        results.append((counted, stored))
    return results


def test_after_0015_the_counts_of_stored_requests_move_to_their_user_and_totals_stay():
    """Rows stored under 0014 (folded, and waiting as changes) are counted under their user
    after it, with every total unchanged; later requests and changes are counted by the new
    triggers."""
    old = migrate([("ingest", "0014_count_time_to_first_token")])
    partitions.ensure([T0.date()], T0)
    requests = old.get_model("ingest", "GatewayRequest").objects
    for i in range(12):
        requests.create(
            source="gw", request_id=f"r{i}", finished_at=T0 + timedelta(seconds=50 * i + 0.5),
            outcome="failure" if i % 4 == 0 else "success",
            failure_class="upstream" if i % 4 == 0 else "", received_at=T0, day=T0.date(),
            gateway_team_id=f"team-{i % 2}", user_id=["", "u1", "u2"][i % 3], cost=0.25 * i,
        )  # fmt: skip
        if i == 7:  # the first eight folded, the others waiting as changes
            _fold_into(rollups.fold_sql(BEFORE_0015), rollups.LEVELS, rollups.LEVELS, [10_000])
    window = (T0, T0 + timedelta(hours=1))
    try:
        new = migrate([("ingest", "0015_count_per_user")])
        (users, users_stored), (teams, teams_stored) = per_user(*window)
        assert users == users_stored
        assert users == [("", 4, 1, 4.5), ("u1", 4, 1, 5.5), ("u2", 4, 1, 6.5)]
        assert teams == teams_stored  # unchanged by the move
        with connection.cursor() as cursor:
            cursor.execute(rollups.FOLD, [10_000])
        assert per_user(*window) == [(users, users), (teams, teams)]
        new_requests = new.get_model("ingest", "GatewayRequest").objects
        new_requests.filter(request_id="r0").update(user_id="u2")
        new_requests.create(
            source="gw", request_id="after", finished_at=T0 + timedelta(seconds=900.5),
            outcome="success", received_at=T0, day=T0.date(), gateway_team_id="team-0",
            user_id="u3", cost=1.0,
        )  # fmt: skip
        (users, users_stored), (teams, teams_stored) = per_user(*window)
        assert users == users_stored
        assert users[-1] == ("u3", 1, 0, 1.0)
        assert teams == teams_stored
        with connection.cursor() as cursor:
            cursor.execute(rollups.FOLD, [10_000])
        assert per_user(*window)[0] == (users_stored, users_stored)
    finally:
        migrate_to_latest()
