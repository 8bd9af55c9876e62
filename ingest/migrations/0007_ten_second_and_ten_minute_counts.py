"""Request counts per 10 seconds and per 10 minutes, between the seconds, minutes and hours, so
that a window's edges are read as a few dozen buckets per combination instead of up to 236
(docs/rollups.md). Built from the seconds and minutes already folded; while this runs, the
fold waits (the counts are locked against writes), so that no change is folded into the old
levels only. Stop the old version's workers before running it: their fold writes three levels.
"""

from django.db import migrations

DIMENSIONS = "source, gateway_team_id, gateway_team_alias, key_alias, model_group, model"
MEASURES = ("finished", "failed_upstream", "failed_gateway", "failed_client")
# ingest/latency.py's columns when this was written.
SLOWER = (
    "slower_than_100ms", "slower_than_250ms", "slower_than_500ms", "slower_than_750ms",
    "slower_than_1s", "slower_than_1500ms", "slower_than_2s", "slower_than_2500ms",
    "slower_than_3s", "slower_than_4s", "slower_than_5s", "slower_than_6s", "slower_than_8s",
    "slower_than_10s", "slower_than_12s", "slower_than_15s", "slower_than_20s",
    "slower_than_25s", "slower_than_30s", "slower_than_40s", "slower_than_45s",
    "slower_than_50s", "slower_than_60s", "slower_than_90s", "slower_than_120s",
    "slower_than_180s", "slower_than_240s", "slower_than_300s", "slower_than_360s",
    "slower_than_480s", "slower_than_600s", "slower_than_900s", "slower_than_1200s",
    "slower_than_1800s", "slower_than_2700s", "slower_than_3600s", "slower_than_7200s",
    "slower_than_14400s", "slower_than_43200s", "slower_than_86400s",
)  # fmt: skip
SUMS = ", ".join(
    [f"sum({m})" for m in MEASURES] + [f"NULLIF(sum({c}), 0)" for c in SLOWER]
)


def _rolled_up(level, source_level):
    return f"""
INSERT INTO ingest_requestrollup (level, bucket, {DIMENSIONS}, {", ".join(MEASURES)},
    {", ".join(SLOWER)})
SELECT {level}, to_timestamp(ceil(extract(epoch FROM bucket) / {level}) * {level}), {DIMENSIONS},
    {SUMS}
FROM ingest_requestrollup WHERE level = {source_level}
GROUP BY 2, {DIMENSIONS}
"""


def build(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE ingest_requestrollup IN EXCLUSIVE MODE")
    schema_editor.execute(_rolled_up(10, 1))
    schema_editor.execute(_rolled_up(600, 60))


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DELETE FROM ingest_requestrollup WHERE level IN (10, 600)")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0006_index_late_requests_by_start"),
    ]

    operations = [migrations.RunPython(build, remove)]
