"""Request counts also sum the cost and tokens of the finished requests (for spend over a day or
a month without reading the requests): a delta carries them, the triggers write them, folding
adds them. The counts already folded get theirs from the request rows still stored.

As in 0005: while this runs, writes to the requests wait, so that the backfill sees every row
and every later change is counted by the new triggers; the deltas written before (without
cost) are folded first. Stop the old version's ingest and workers before running it.
"""

import importlib

from django.db import migrations, models

# The frozen SQL pieces of the migrations before this one.
_0005 = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge")
_0007 = importlib.import_module("ingest.migrations.0007_ten_second_and_ten_minute_counts")
DIMENSIONS = _0005.DIMENSIONS
DIMENSION_LIST = [d.strip() for d in DIMENSIONS.split(",")]
COUNTS = _0005.COUNTS
SUMS = ("cost", "total_tokens")
LEVELS = (3600, 600, 60, 10, 1)
SLOWER = _0007.SLOWER
ROW_TRIGGER = _0005.row_trigger(SUMS)
UPDATE_TRIGGER = _0005.update_trigger(SUMS)
_KEYS = f"level, bucket, {DIMENSIONS}"
# The fold of ingest/rollups.py as 0007 left it, for the deltas written before this.
FOLD_BEFORE = f"""
WITH taken AS (
    DELETE FROM ingest_requestdelta WHERE id IN (
        SELECT id FROM ingest_requestdelta ORDER BY id LIMIT 10000 FOR UPDATE SKIP LOCKED
    ) RETURNING *
), levels AS (
    SELECT level, to_timestamp(ceil(extract(epoch FROM bucket) / level) * level) AS bucket,
        {DIMENSIONS}, {", ".join(f"sum({m}) AS {m}" for m in COUNTS)},
        {", ".join(
            f"NULLIF(sum(finished) FILTER (WHERE latency_bin > {i}), 0) AS {name}"
            for i, name in enumerate(SLOWER)
        )}
    FROM taken CROSS JOIN (VALUES {", ".join(f"({level})" for level in LEVELS)}) AS l (level)
    GROUP BY 1, 2, {DIMENSIONS}
), written AS (
    INSERT INTO ingest_requestrollup AS r ({_KEYS}, {", ".join(COUNTS + SLOWER)})
    SELECT * FROM levels ORDER BY {_KEYS}
    ON CONFLICT ({_KEYS}) DO UPDATE SET
        {", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in COUNTS)},
        {", ".join(
            f"{c} = NULLIF(COALESCE(r.{c}, 0) + COALESCE(EXCLUDED.{c}, 0), 0)" for c in SLOWER
        )}
)
SELECT count(*) FROM taken
"""
# Each bucket of the counts already folded: its sums from the request rows still stored.
BACKFILL = f"""
UPDATE ingest_requestrollup AS r SET cost = s.cost, total_tokens = s.total_tokens
FROM (
    SELECT level, to_timestamp(ceil(extract(epoch FROM finished_at) / level) * level) AS bucket,
        {DIMENSIONS}, sum(COALESCE(cost, 0)) AS cost,
        sum(COALESCE(total_tokens, 0)) AS total_tokens
    FROM ingest_gatewayrequest
        CROSS JOIN (VALUES {", ".join(f"({level})" for level in LEVELS)}) AS l (level)
    WHERE finished_at IS NOT NULL AND (cost IS NOT NULL OR total_tokens IS NOT NULL)
    GROUP BY 1, 2, {DIMENSIONS}
) AS s
WHERE (r.level, r.bucket, {", ".join("r." + d for d in DIMENSION_LIST)})
    = (s.level, s.bucket, {", ".join("s." + d for d in DIMENSION_LIST)})
"""


def lock_and_fold(apps, schema_editor):
    _0005.lock_requests_and_fold(schema_editor, FOLD_BEFORE)  # deltas with no cost


def sum_cost_and_tokens(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_TRIGGER)
        schema_editor.execute(UPDATE_TRIGGER)
        schema_editor.execute(BACKFILL)


def stop_summing(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0005.ROW_TRIGGER)
        schema_editor.execute(_0005.UPDATE_TRIGGER)


def _fields(model):
    return [
        migrations.AddField(
            model_name=model,
            name="cost",
            field=models.FloatField(
                db_default=0, default=0, help_text="The finished requests' cost."
            ),
        ),
        migrations.AddField(
            model_name=model,
            name="total_tokens",
            field=models.BigIntegerField(
                db_default=0, default=0, help_text="The finished requests' tokens."
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0007_ten_second_and_ten_minute_counts"),
    ]

    operations = [
        migrations.RunPython(lock_and_fold, migrations.RunPython.noop),
        *_fields("requestdelta"),
        *_fields("requestrollup"),
        migrations.RunPython(sum_cost_and_tokens, stop_summing),
    ]
