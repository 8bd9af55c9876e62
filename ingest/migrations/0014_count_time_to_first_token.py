"""Request counts of the time to first token, for first-token percentile policies: a change to
the counts carries its requests' first-token bin (0: none reported), the triggers compute it,
and folding turns it into the count of requests that reported one and one column per
first-token edge (ingest/latency.py). The counts already kept get theirs from the request rows
still stored.

While this runs, writes to the requests wait (the table is locked against writes), so that the
backfill sees every row and every later change is counted by the new triggers. The changes
written before (first-token bin 0) add nothing to the new columns when folded: the backfill
counts their rows. Stop the old version's ingest and workers before running it: their code
writes no first-token bin.
"""

import importlib

from django.db import migrations, models

_0005 = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge")
_0008 = importlib.import_module("ingest.migrations.0008_sum_cost_and_tokens")
_0013 = importlib.import_module("ingest.migrations.0013_count_per_provider_deployment_region")
# ingest/latency.py's first-token edges when this was written.
EDGES = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60)
DIMENSIONS = _0013.DIMENSIONS
SUMS = _0008.SUMS
MEASURES = _0005.COUNTS + SUMS
REPORTED = "first_token_reported"
# How long ingest/rollups.py kept each level's buckets: none older is backfilled.
KEPT = {86400: "400 days", 3600: "400 days", 600: "45 days", 60: "45 days", 10: "3 hours",
        1: "3 hours"}  # fmt: skip


def _column(edge):
    return "first_token_" + _0005._column(edge)


def _bin(column):
    negated = ", ".join(f"{-edge!r}" for edge in reversed(EDGES))
    return f"COALESCE(1 + {len(EDGES)} - width_bucket(-{column}, ARRAY[{negated}]::float8[]), 0)"


# The triggers, for `dimensions` (ingest 0015 adds one): the deltas' columns as 0013 wrote
# them, then the first-token bin.
def _columns(dimensions):
    return f"{_0005._delta_columns(SUMS, dimensions)}, first_token_bin"


def _contribution(prefix, sign, dimensions):
    counted = _0005._contribution(prefix, sign, SUMS, dimensions)
    return f"{counted}, {_bin(prefix + 'time_to_first_token_seconds')}"


def row_trigger(dimensions=DIMENSIONS):
    return f"""
CREATE OR REPLACE FUNCTION ingest_request_inserted_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta ({_columns(dimensions)})
    VALUES ({_contribution("NEW.", "", dimensions)});
    RETURN NULL; END $$;
"""


def update_trigger(dimensions=DIMENSIONS):
    columns = _columns(dimensions)
    return f"""
CREATE OR REPLACE FUNCTION ingest_request_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta ({columns})
    SELECT bucket, {dimensions}, latency_bin, {", ".join(f"sum({m})" for m in MEASURES)},
        first_token_bin
    FROM (
        SELECT {_contribution("", "", dimensions)} FROM new_rows WHERE finished_at IS NOT NULL
        UNION ALL
        SELECT {_contribution("", "-", dimensions)} FROM old_rows WHERE finished_at IS NOT NULL
    ) AS changes ({columns})
    GROUP BY bucket, {dimensions}, latency_bin, first_token_bin
    HAVING {" OR ".join(f"sum({m}) <> 0" for m in MEASURES)};
    RETURN NULL; END $$;
"""


ROW_TRIGGER = row_trigger()
UPDATE_TRIGGER = update_trigger()
_KEYS = f"level, bucket, {DIMENSIONS}"
_NEW = (REPORTED, *(_column(edge) for edge in EDGES))
_COUNTED = ", ".join(
    (
        f"NULLIF(count(*), 0) AS {REPORTED}",
        *(
            f"NULLIF(count(*) FILTER (WHERE time_to_first_token_seconds > {edge!r}), 0) "
            f"AS {_column(edge)}"
            for edge in EDGES
        ),
    )
)
# Each bucket still kept: its first-token counts from the request rows still stored. A bucket
# whose changes are not folded yet gets its row now, counting nothing else: the fold adds them.
BACKFILL = f"""
INSERT INTO ingest_requestrollup AS r ({_KEYS}, {", ".join(_0005.COUNTS)}, {", ".join(_NEW)})
SELECT level, to_timestamp(ceil(extract(epoch FROM finished_at) / level) * level), {DIMENSIONS},
    {", ".join("0" for _ in _0005.COUNTS)}, {_COUNTED}
FROM ingest_gatewayrequest CROSS JOIN (
    VALUES {", ".join(f"({level}, interval '{kept}')" for level, kept in KEPT.items())}
) AS l (level, kept)
WHERE finished_at > now() - kept AND time_to_first_token_seconds IS NOT NULL
GROUP BY 1, 2, {DIMENSIONS}
ORDER BY 1, 2, {DIMENSIONS}
ON CONFLICT ({_KEYS}) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _NEW)}
"""


def count_first_token(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE ingest_gatewayrequest IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(ROW_TRIGGER)
    schema_editor.execute(UPDATE_TRIGGER)
    schema_editor.execute(BACKFILL)


def stop_counting_first_token(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0013.ROW_TRIGGER)
        schema_editor.execute(_0013.UPDATE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0013_count_per_provider_deployment_region"),
    ]

    operations = [
        migrations.AddField(
            model_name="requestdelta",
            name="first_token_bin",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="0 for requests that reported no time to first token; else one more "
                "than the first-token edges below it (ingest/latency.py).",
            ),
        ),
        migrations.AddField(
            model_name="requestrollup",
            name=REPORTED,
            field=models.BigIntegerField(
                editable=False, help_text="Requests that reported a time to first token.", null=True
            ),
        ),
        *(
            migrations.AddField(
                model_name="requestrollup",
                name=_column(edge),
                field=models.BigIntegerField(
                    editable=False,
                    help_text=f"Requests slower than {_0005._spelled(edge)} to their first token.",
                    null=True,
                ),
            )
            for edge in EDGES
        ),
        migrations.RunPython(count_first_token, stop_counting_first_token),
    ]
