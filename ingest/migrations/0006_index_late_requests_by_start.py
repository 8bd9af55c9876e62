"""An index of the finished requests slower than the smallest latency edge, by latency bin and
start, from which hung policies read the requests that finished late (policies/hung_counting.py)
instead of every request started in their window. Built without locking out ingest
(CONCURRENTLY), so this migration runs outside a transaction."""

from django.db import migrations

# ingest/latency.py's bin of a request's latency when this was written: the counting query
# uses the same expression, or the planner would not use the index (a test checks it does).
EDGES = (
    0.1, 0.25, 0.5, 0.75,
    1, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
    10, 12, 15, 20, 25, 30, 40, 45, 50,
    60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
    3600, 7200, 14400, 43200, 86400,
)  # fmt: skip
NEGATED = ", ".join(f"{-edge!r}" for edge in reversed(EDGES))
BIN = f"COALESCE({len(EDGES)} - width_bucket(-latency_seconds, ARRAY[{NEGATED}]::float8[]), 0)"
CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS request_late_by_start ON ingest_gatewayrequest "
    f"(({BIN}), started_at) WHERE latency_seconds > {EDGES[0]!r} AND started_at IS NOT NULL"
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
