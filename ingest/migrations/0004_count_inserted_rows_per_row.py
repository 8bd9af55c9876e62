"""Inserted request rows are counted by a row-level trigger, but for the rows ingest's bulk
paths mark as counted themselves (ingest/store.py with ingest/rollups.py), in place of a
statement-level trigger whose transition table, a copy of every inserted row, cost ingest 8 to
17% (docs/rollups.md). Merged rows keep their trigger."""

from django.db import migrations, models

# As ingest/migrations/0003_request_rollups.py created them, for the way back.
INSERT_TRIGGER = """
CREATE FUNCTION ingest_request_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta (bucket, source, gateway_team_id, gateway_team_alias,
    key_alias, model_group, model, finished, failed_upstream, failed_gateway, failed_client)
    SELECT bucket, source, gateway_team_id, gateway_team_alias, key_alias, model_group, model,
    sum(finished), sum(failed_upstream), sum(failed_gateway), sum(failed_client) FROM (SELECT
    to_timestamp(ceil(extract(epoch FROM finished_at) / 1) * 1) AS bucket, source,
    gateway_team_id, gateway_team_alias, key_alias, model_group, model, 1 AS finished,
    (outcome = 'failure' AND failure_class = 'upstream')::int AS failed_upstream, (outcome =
    'failure' AND failure_class = 'gateway')::int AS failed_gateway, (outcome = 'failure' AND
    failure_class = 'client')::int AS failed_client FROM new_rows WHERE finished_at IS NOT
    NULL) AS changes GROUP BY bucket, source, gateway_team_id, gateway_team_alias, key_alias,
    model_group, model HAVING sum(finished) <> 0 OR sum(failed_upstream) <> 0 OR
    sum(failed_gateway) <> 0 OR sum(failed_client) <> 0; RETURN NULL; END $$;
CREATE TRIGGER ingest_request_inserted AFTER INSERT ON ingest_gatewayrequest
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION
    ingest_request_inserted();
"""
ROW_TRIGGER = """
CREATE FUNCTION ingest_request_inserted_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ingest_requestdelta (bucket, source, gateway_team_id, gateway_team_alias,
    key_alias, model_group, model, finished, failed_upstream, failed_gateway, failed_client)
    VALUES (to_timestamp(ceil(extract(epoch FROM NEW.finished_at))), NEW.source,
    NEW.gateway_team_id, NEW.gateway_team_alias, NEW.key_alias, NEW.model_group, NEW.model, 1,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'upstream')::int,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'gateway')::int,
    (NEW.outcome = 'failure' AND NEW.failure_class = 'client')::int);
    RETURN NULL; END $$;
CREATE TRIGGER ingest_request_inserted_row AFTER INSERT ON ingest_gatewayrequest FOR EACH ROW
    WHEN (NEW.finished_at IS NOT NULL AND NOT NEW.counted_on_insert)
    EXECUTE FUNCTION ingest_request_inserted_row();
"""
DROP_ROW_TRIGGER = """
DROP TRIGGER IF EXISTS ingest_request_inserted_row ON ingest_gatewayrequest;
DROP FUNCTION IF EXISTS ingest_request_inserted_row();
"""
DROP_INSERT_TRIGGER = """
DROP TRIGGER IF EXISTS ingest_request_inserted ON ingest_gatewayrequest;
DROP FUNCTION IF EXISTS ingest_request_inserted();
"""


def per_row(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INSERT_TRIGGER)
        schema_editor.execute(ROW_TRIGGER)


def per_statement(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_ROW_TRIGGER)
        schema_editor.execute(INSERT_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0003_request_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="gatewayrequest",
            name="counted_on_insert",
            field=models.BooleanField(
                db_default=False,
                default=False,
                editable=False,
                help_text="Whether the writer that inserted it counted it in the request counts "
                "itself (ingest's bulk paths), so that the insert trigger does not "
                "(ingest/rollups.py).",
            ),
        ),
        migrations.RunPython(per_row, per_statement),
    ]
