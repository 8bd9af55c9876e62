"""Request counts per user too (the gateway's user owning the key, LiteLLM's internal user), for
budgets per user: the counts and their changes get the column, the triggers write it.

The counts of requests still stored are moved to their user: added under it and taken from
under "" (where the triggers before this counted them), in every bucket still kept. A change
written before this and not folded yet says "" too: its fold adds back under "" what was taken,
so every total is unchanged at every moment. Requests no longer stored stay counted under "".
As 0014: writes to the requests wait while this runs; stop the old version's ingest first.
"""

import importlib

from django.db import migrations, models

_0005 = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge")
_0013 = importlib.import_module("ingest.migrations.0013_count_per_provider_deployment_region")
_0014 = importlib.import_module("ingest.migrations.0014_count_time_to_first_token")
BEFORE = _0013.DIMENSIONS
DIMENSIONS = f"{BEFORE}, user_id"
_FAILED = ", ".join(
    f"count(*) FILTER (WHERE outcome = 'failure' AND failure_class = '{cls}') AS failed_{cls}"
    for cls in ("upstream", "gateway", "client")
)
_EDGES = (
    *((_0005._column(e), f"latency_seconds > {e!r}") for e in _0005.EDGES),
    (_0014.REPORTED, "time_to_first_token_seconds IS NOT NULL"),
    *((_0014._column(e), f"time_to_first_token_seconds > {e!r}") for e in _0014.EDGES),
)
_SUMS = ("finished", "failed_upstream", "failed_gateway", "failed_client", "cost", "total_tokens")
_COLUMNS = (*_SUMS, *(name for name, _ in _EDGES))
_KEYS = f"level, bucket, {DIMENSIONS}"
# Per bucket still kept and user: what the user's stored requests count; added under the user,
# taken from under "".
MOVE = f"""
WITH per_user AS (
    SELECT level, to_timestamp(ceil(extract(epoch FROM finished_at) / level) * level) AS bucket,
        {DIMENSIONS}, count(*) AS finished, {_FAILED},
        sum(COALESCE(cost, 0)) AS cost, sum(COALESCE(total_tokens, 0)) AS total_tokens,
        {", ".join(f"count(*) FILTER (WHERE {where}) AS {name}" for name, where in _EDGES)}
    FROM ingest_gatewayrequest CROSS JOIN (
        VALUES {", ".join(f"({level}, interval '{kept}')" for level, kept in _0014.KEPT.items())}
    ) AS l (level, kept)
    WHERE finished_at IS NOT NULL AND finished_at > now() - kept AND user_id <> ''
    GROUP BY 1, 2, {DIMENSIONS}
), moved AS (
    SELECT level, bucket, {DIMENSIONS}, {", ".join(_COLUMNS)} FROM per_user
    UNION ALL
    SELECT level, bucket, {BEFORE}, '', {", ".join(f"-sum({c})" for c in _COLUMNS)}
    FROM per_user GROUP BY level, bucket, {BEFORE}
)
INSERT INTO ingest_requestrollup AS r ({_KEYS}, {", ".join(_COLUMNS)})
SELECT {_KEYS}, {", ".join(_SUMS)}, {", ".join(f"NULLIF({name}, 0)" for name, _ in _EDGES)}
FROM moved ORDER BY {_KEYS}
ON CONFLICT ({_KEYS}) DO UPDATE SET
    {", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in _SUMS)},
    {", ".join(
        f"{c} = NULLIF(COALESCE(r.{c}, 0) + COALESCE(EXCLUDED.{c}, 0), 0)" for c, _ in _EDGES
    )}
"""


def count_per_user(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE ingest_gatewayrequest IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(_0014.row_trigger(DIMENSIONS))
    schema_editor.execute(_0014.update_trigger(DIMENSIONS))
    schema_editor.execute(MOVE)


def stop_counting_per_user(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0014.ROW_TRIGGER)
        schema_editor.execute(_0014.UPDATE_TRIGGER)


_UNIQUE = ("level", "bucket", *(d.strip() for d in BEFORE.split(",")))


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0014_count_time_to_first_token"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="requestrollup", name="rollup_unique_per_bucket"),
        migrations.AddField(
            model_name="requestdelta",
            name="user_id",
            field=models.CharField(db_default="", default="", max_length=255),
        ),
        migrations.AddField(
            model_name="requestrollup",
            name="user_id",
            field=models.CharField(db_default="", default="", max_length=255),
        ),
        migrations.AddConstraint(
            model_name="requestrollup",
            constraint=models.UniqueConstraint(
                fields=(*_UNIQUE, "user_id"), name="rollup_unique_per_bucket"
            ),
        ),
        migrations.RunPython(count_per_user, stop_counting_per_user),
    ]
