"""Request counts per day (UTC), above the hours, so that a month's spend is read as about 30
buckets per combination instead of 720 (docs/rollups.md). Built from the hours already folded;
the fold waits while this runs. Stop the old version's workers before running it: their fold
writes no days."""

import importlib

from django.db import migrations

_0007 = importlib.import_module("ingest.migrations.0007_ten_second_and_ten_minute_counts")
DIMENSIONS = _0007.DIMENSIONS
ADDED = (*_0007.MEASURES, "cost", "total_tokens")
SLOWER = _0007.SLOWER
DAYS = f"""
INSERT INTO ingest_requestrollup (level, bucket, {DIMENSIONS}, {", ".join(ADDED + SLOWER)})
SELECT 86400, to_timestamp(ceil(extract(epoch FROM bucket) / 86400) * 86400), {DIMENSIONS},
    {", ".join([f"sum({m})" for m in ADDED] + [f"NULLIF(sum({c}), 0)" for c in SLOWER])}
FROM ingest_requestrollup WHERE level = 3600
GROUP BY 2, {DIMENSIONS}
"""


def build(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("LOCK TABLE ingest_requestrollup IN EXCLUSIVE MODE")
        schema_editor.execute(DAYS)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DELETE FROM ingest_requestrollup WHERE level = 86400")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0008_sum_cost_and_tokens"),
    ]

    operations = [migrations.RunPython(build, remove)]
