"""Request counts per provider, deployment and region too, for the deployment and region outage
kinds: the counts and their changes get the three columns, the triggers write them.

Every count already folded, and every change written before this, says "" for the three.
For the deployment and the region that is what their requests said: ingest 0012 added them in
the same release. For the provider, those counts stay under "" (their total is unchanged: a
later change to such a request takes back what it counted under its provider and adds it
again there); the outage kinds read only requests with a deployment or a region.
"""

import importlib

from django.db import migrations, models

_0005 = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge")
_0008 = importlib.import_module("ingest.migrations.0008_sum_cost_and_tokens")
# ingest/rollups.py's DIMENSIONS when this was written.
DIMENSIONS = f"{_0005.DIMENSIONS}, provider, deployment_id, region"
ROW_TRIGGER = _0005.row_trigger(_0008.SUMS, DIMENSIONS)
UPDATE_TRIGGER = _0005.update_trigger(_0008.SUMS, DIMENSIONS)


def _triggers(row, update):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(row)
            schema_editor.execute(update)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0012_request_deployment_region_ttft_user_tags"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="requestrollup",
            name="rollup_unique_per_bucket",
        ),
        migrations.AddField(
            model_name="requestdelta",
            name="deployment_id",
            field=models.CharField(db_default="", default="", max_length=255),
        ),
        migrations.AddField(
            model_name="requestdelta",
            name="provider",
            field=models.CharField(db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="requestdelta",
            name="region",
            field=models.CharField(db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="requestrollup",
            name="deployment_id",
            field=models.CharField(db_default="", default="", max_length=255),
        ),
        migrations.AddField(
            model_name="requestrollup",
            name="provider",
            field=models.CharField(db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="requestrollup",
            name="region",
            field=models.CharField(db_default="", default="", max_length=100),
        ),
        migrations.AddConstraint(
            model_name="requestrollup",
            constraint=models.UniqueConstraint(
                fields=(
                    "level",
                    "bucket",
                    "source",
                    "gateway_team_id",
                    "gateway_team_alias",
                    "key_alias",
                    "model_group",
                    "model",
                    "provider",
                    "deployment_id",
                    "region",
                ),
                name="rollup_unique_per_bucket",
            ),
        ),
        migrations.RunPython(
            _triggers(ROW_TRIGGER, UPDATE_TRIGGER),
            _triggers(_0008.ROW_TRIGGER, _0008.UPDATE_TRIGGER),
        ),
    ]
