"""Request counts of requests slower than each latency edge (ingest/latency.py), so that slow
policies are counted from the counts: a delta carries its requests' latency bin, the triggers
compute it, and folding turns bins into one column per edge. The counts already folded get
theirs from the request rows still stored.

While this runs, writes to the requests wait (the table is locked against writes), so that the
backfill sees every row and every later change is counted by the new triggers. Stop the old
version's ingest and workers before running it: their code writes no latency bin.
"""

from django.db import migrations, models

# ingest/latency.py's edges when this was written: a change to them comes with a migration.
EDGES = (
    0.1, 0.25, 0.5, 0.75,
    1, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
    10, 12, 15, 20, 25, 30, 40, 45, 50,
    60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
    3600, 7200, 14400, 43200, 86400,
)  # fmt: skip
DIMENSIONS = "source, gateway_team_id, gateway_team_alias, key_alias, model_group, model"
COUNTS = ("finished", "failed_upstream", "failed_gateway", "failed_client")


def _column(edge):
    milliseconds = round(edge * 1000)
    unit = f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"
    return f"slower_than_{unit}"


def _spelled(edge):
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if edge >= size and edge % size == 0:
            return f"{edge / size:g} {unit}"
    return f"{edge * 1000:g} ms" if edge < 1 else f"{edge:g} s"


def _bin(column):
    negated = ", ".join(f"{-edge!r}" for edge in reversed(EDGES))
    return f"COALESCE({len(EDGES)} - width_bucket(-{column}, ARRAY[{negated}]::float8[]), 0)"


# The triggers, with `sums`: the columns summed besides the counts (none here; ingest 0008
# adds the cost and tokens with these same builders, ingest 0013 dimensions).
def _delta_columns(sums, dimensions=DIMENSIONS):
    return f"bucket, {dimensions}, latency_bin, {', '.join(COUNTS + sums)}"


def _contribution(prefix, sign, sums, dimensions=DIMENSIONS):
    failed = ", ".join(
        f"{sign}({prefix}outcome = 'failure' AND {prefix}failure_class = '{cls}')::int"
        for cls in ("upstream", "gateway", "client")
    )
    summed = "".join(f", {sign}COALESCE({prefix}{name}, 0)" for name in sums)
    prefixed = ", ".join(f"{prefix}{d.strip()}" for d in dimensions.split(","))
    return (
        f"to_timestamp(ceil(extract(epoch FROM {prefix}finished_at))), {prefixed}, "
        f"{_bin(prefix + 'latency_seconds')}, {sign}1, {failed}{summed}"
    )


def row_trigger(sums=(), dimensions=DIMENSIONS):
    return f"""
CREATE OR REPLACE FUNCTION ingest_request_inserted_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta ({_delta_columns(sums, dimensions)})
    VALUES ({_contribution("NEW.", "", sums, dimensions)});
    RETURN NULL; END $$;
"""


def update_trigger(sums=(), dimensions=DIMENSIONS):
    measures = COUNTS + sums
    columns = _delta_columns(sums, dimensions)
    return f"""
CREATE OR REPLACE FUNCTION ingest_request_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta ({columns})
    SELECT bucket, {dimensions}, latency_bin, {", ".join(f"sum({m})" for m in measures)}
    FROM (
        SELECT {_contribution("", "", sums, dimensions)} FROM new_rows
            WHERE finished_at IS NOT NULL
        UNION ALL
        SELECT {_contribution("", "-", sums, dimensions)} FROM old_rows
            WHERE finished_at IS NOT NULL
    ) AS changes ({columns})
    GROUP BY bucket, {dimensions}, latency_bin
    HAVING {" OR ".join(f"sum({m}) <> 0" for m in measures)};
    RETURN NULL; END $$;
"""


ROW_TRIGGER = row_trigger()
UPDATE_TRIGGER = update_trigger()
# As ingest/migrations/0003 and 0004 created them, for the way back.
ROW_TRIGGER_BEFORE = """
CREATE OR REPLACE FUNCTION ingest_request_inserted_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta (bucket, source, gateway_team_id, gateway_team_alias,
    key_alias, model_group, model, finished, failed_upstream, failed_gateway, failed_client)
    VALUES (to_timestamp(ceil(extract(epoch FROM NEW.finished_at))), NEW.source,
    NEW.gateway_team_id, NEW.gateway_team_alias, NEW.key_alias, NEW.model_group, NEW.model, 1,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'upstream')::int,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'gateway')::int,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'client')::int);
    RETURN NULL; END $$;
"""
UPDATE_TRIGGER_BEFORE = """
CREATE OR REPLACE FUNCTION ingest_request_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta (bucket, source, gateway_team_id, gateway_team_alias,
    key_alias, model_group, model, finished, failed_upstream, failed_gateway, failed_client)
    SELECT bucket, source, gateway_team_id, gateway_team_alias, key_alias, model_group, model,
    sum(finished), sum(failed_upstream), sum(failed_gateway), sum(failed_client) FROM (SELECT
    to_timestamp(ceil(extract(epoch FROM finished_at) / 1) * 1) AS bucket, source,
    gateway_team_id, gateway_team_alias, key_alias, model_group, model, 1 AS finished,
    (outcome = 'failure' AND failure_class = 'upstream')::int AS failed_upstream, (outcome =
    'failure' AND failure_class = 'gateway')::int AS failed_gateway, (outcome = 'failure' AND
    failure_class = 'client')::int AS failed_client FROM new_rows WHERE finished_at IS NOT
    NULL UNION ALL SELECT to_timestamp(ceil(extract(epoch FROM finished_at) / 1) * 1) AS
    bucket, source, gateway_team_id, gateway_team_alias, key_alias, model_group, model, -1 AS
    finished, -(outcome = 'failure' AND failure_class = 'upstream')::int AS failed_upstream,
    -(outcome = 'failure' AND failure_class = 'gateway')::int AS failed_gateway, -(outcome =
    'failure' AND failure_class = 'client')::int AS failed_client FROM old_rows WHERE
    finished_at IS NOT NULL) AS changes GROUP BY bucket, source, gateway_team_id,
    gateway_team_alias, key_alias, model_group, model HAVING sum(finished) <> 0 OR
    sum(failed_upstream) <> 0 OR sum(failed_gateway) <> 0 OR sum(failed_client) <> 0; RETURN
    NULL; END $$;
"""
# The fold of ingest/rollups.py when 0003 was written: the deltas waiting, before they have a
# latency bin.
FOLD_BEFORE = f"""
WITH taken AS (
    DELETE FROM ingest_requestdelta WHERE id IN (
        SELECT id FROM ingest_requestdelta ORDER BY id LIMIT 10000 FOR UPDATE SKIP LOCKED
    ) RETURNING *
), levels AS (
    SELECT level, to_timestamp(ceil(extract(epoch FROM bucket) / level) * level) AS rolled,
        {DIMENSIONS}, sum(finished) AS finished, sum(failed_upstream) AS failed_upstream,
        sum(failed_gateway) AS failed_gateway, sum(failed_client) AS failed_client
    FROM taken CROSS JOIN (VALUES (3600), (60), (1)) AS l (level)
    GROUP BY 1, 2, {DIMENSIONS}
), written AS (
    INSERT INTO ingest_requestrollup AS r (level, bucket, {DIMENSIONS}, finished,
        failed_upstream, failed_gateway, failed_client)
    SELECT * FROM levels ORDER BY level, rolled, {DIMENSIONS}
    ON CONFLICT (level, bucket, {DIMENSIONS}) DO UPDATE SET
        finished = r.finished + EXCLUDED.finished,
        failed_upstream = r.failed_upstream + EXCLUDED.failed_upstream,
        failed_gateway = r.failed_gateway + EXCLUDED.failed_gateway,
        failed_client = r.failed_client + EXCLUDED.failed_client
)
SELECT count(*) FROM taken
"""
_SLOWER = ", ".join(
    f"NULLIF(count(*) FILTER (WHERE latency_seconds > {edge!r}), 0) AS {_column(edge)}"
    for edge in EDGES
)
# Each bucket of the counts already folded: its slow counts from the request rows still stored.
BACKFILL = f"""
UPDATE ingest_requestrollup AS r SET {", ".join(f"{_column(e)} = s.{_column(e)}" for e in EDGES)}
FROM (
    SELECT level, to_timestamp(ceil(extract(epoch FROM finished_at) / level) * level) AS bucket,
        {DIMENSIONS}, {_SLOWER}
    FROM ingest_gatewayrequest CROSS JOIN (VALUES (3600), (60), (1)) AS l (level)
    WHERE finished_at IS NOT NULL AND latency_seconds > {EDGES[0]!r}
    GROUP BY 1, 2, {DIMENSIONS}
) AS s
WHERE (r.level, r.bucket, r.source, r.gateway_team_id, r.gateway_team_alias, r.key_alias,
    r.model_group, r.model) = (s.level, s.bucket, s.source, s.gateway_team_id,
    s.gateway_team_alias, s.key_alias, s.model_group, s.model)
"""


def lock_requests_and_fold(schema_editor, fold):
    """Writes to the requests wait until this migration commits; the deltas written before are
    folded by `fold` (the fold of their time), so that a backfill from the rows covers what
    they counted."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE ingest_gatewayrequest IN SHARE ROW EXCLUSIVE MODE")
        while True:
            cursor.execute(fold)
            if not cursor.fetchone()[0]:
                break


def lock_and_fold(apps, schema_editor):
    lock_requests_and_fold(schema_editor, FOLD_BEFORE)  # deltas with no latency bin


def count_slower(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_TRIGGER)
        schema_editor.execute(UPDATE_TRIGGER)
        schema_editor.execute(BACKFILL)


def stop_counting_slower(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_TRIGGER_BEFORE)
        schema_editor.execute(UPDATE_TRIGGER_BEFORE)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0004_count_inserted_rows_per_row"),
    ]

    operations = [
        migrations.RunPython(lock_and_fold, migrations.RunPython.noop),
        migrations.AddField(
            model_name="requestdelta",
            name="latency_bin",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="How many latency edges lie below its requests' latency "
                "(ingest/latency.py).",
            ),
        ),
        *(
            migrations.AddField(
                model_name="requestrollup",
                name=_column(edge),
                field=models.BigIntegerField(
                    editable=False, help_text=f"Requests slower than {_spelled(edge)}.", null=True
                ),
            )
            for edge in EDGES
        ),
        migrations.RunPython(count_slower, stop_counting_slower),
    ]
