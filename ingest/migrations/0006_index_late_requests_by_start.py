"""An index of the finished requests slower than the smallest latency edge, by latency bin and
start, from which hung policies read the requests that finished late (policies/hung_counting.py)
instead of every request started in their window. Built without locking out ingest
(CONCURRENTLY), so this migration runs outside a transaction."""

import importlib

from django.db import migrations

# The bin of a request's latency as ingest 0005 froze it: the counting query uses the same
# expression (ingest/latency.py), or the planner would not use the index (a test checks it does).
_0005 = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge")
BIN = _0005._bin("latency_seconds")
CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS request_late_by_start ON ingest_gatewayrequest "
    f"(({BIN}), started_at) WHERE latency_seconds > {_0005.EDGES[0]!r} "
    "AND started_at IS NOT NULL"
)
DROP = "DROP INDEX CONCURRENTLY IF EXISTS request_late_by_start"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ingest", "0005_count_slower_per_latency_edge"),
    ]

    operations = [migrations.RunPython(create, drop)]
