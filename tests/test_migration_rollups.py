"""Migration ingest 0003 counts the requests stored before it: the rows written by the previous
schema become deltas, and every change after it has its own (ingest/rollups.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ingest import rollups

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ingest", "0002_token_history")]
AFTER = [("ingest", "0003_request_rollups")]
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def counted(start, end):
    source, params = rollups.window_source(start, end)
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
        rollups.fold()
        # A change after the migration: the running request finishes.
        new.get_model("ingest", "GatewayRequest").objects.filter(request_id="running").update(
            finished_at=T0 + timedelta(seconds=30), outcome="success"
        )
        assert counted(T0, T0 + timedelta(hours=1)) == [("", 1, 0), ("team-search", 5, 2)]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


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
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
