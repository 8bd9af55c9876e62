"""Request rows in one partition per UTC day (ingest/partitions.py), so that retention drops
whole days instead of deleting rows.

On Postgres the table is rebuilt: a partitioned table takes its name, every row is copied into
the partition of its day (its start's, or its finish's), and the old table is dropped. Its keys
include the day: the primary key (id, day), the unique (source, request_id, day). The request
counts are not touched; the triggers are created again on the new table, after the copy, so
that the copied rows are not counted twice. Other processes must be stopped first (README,
"Upgrading"): the copy holds the table. Backwards, the rows go back to one table."""

from datetime import UTC, datetime, timedelta

from django.db import migrations, models

import ingest.models

TABLE = "ingest_gatewayrequest"
OLD = "ingest_gatewayrequest_rebuilt"
DAY = "((coalesce(started_at, finished_at) AT TIME ZONE 'UTC')::date)"
AHEAD = 2
INDEXES = (
    "CREATE INDEX request_finished_at ON ingest_gatewayrequest (finished_at)",
    "CREATE INDEX request_started_at ON ingest_gatewayrequest (started_at)",
    "CREATE INDEX request_unfinished ON ingest_gatewayrequest (started_at) "
    "WHERE finished_at IS NULL",
)
# As ingest 0003 and 0004 created them; their functions are kept as 0008 last wrote them.
TRIGGERS = (
    "CREATE TRIGGER ingest_request_inserted_row AFTER INSERT ON ingest_gatewayrequest "
    "FOR EACH ROW WHEN (NEW.finished_at IS NOT NULL AND NOT NEW.counted_on_insert) "
    "EXECUTE FUNCTION ingest_request_inserted_row()",
    "CREATE TRIGGER ingest_request_updated AFTER UPDATE ON ingest_gatewayrequest "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION ingest_request_updated()",
)


def _late_index():
    # As ingest 0006 created it, but not CONCURRENTLY: an index on a partitioned table cannot be
    # built so (and the table is locked here anyway).
    import importlib

    frozen = importlib.import_module("ingest.migrations.0006_index_late_requests_by_start")
    return frozen.CREATE.replace("CONCURRENTLY IF NOT EXISTS ", "")


def _partition(day):
    return (
        f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')"
    )


def _days(cursor):
    """Every day from the oldest row's to a few days ahead of today."""
    cursor.execute(f"SELECT min({DAY}), max({DAY}) FROM {OLD}")
    first, last = cursor.fetchone()
    today = datetime.now(UTC).date()
    first, last = min(first or today, today), max(last or today, today + timedelta(days=AHEAD))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _rebuild(schema_editor, partitioned):
    run = schema_editor.execute
    # Writers wait (or, stopped as the README says, are not there); the copy must see them all.
    run(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    run(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING STORAGE"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
            [OLD],
        )
        columns = [name for (name,) in cursor.fetchall()]
        if partitioned:
            run(f"CREATE TABLE {TABLE} (LIKE {OLD} {like}) PARTITION BY RANGE (day)")
            run(f"ALTER TABLE {TABLE} ALTER COLUMN day SET NOT NULL")
            for day in _days(cursor):
                run(_partition(day))
        else:
            run(f"CREATE TABLE {TABLE} (LIKE {OLD} {like})")
            run(f"ALTER TABLE {TABLE} ALTER COLUMN day DROP NOT NULL")
    values = [DAY if name == "day" and partitioned else name for name in columns]
    run(f"INSERT INTO {TABLE} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {OLD}")
    run(f"DROP TABLE {OLD} CASCADE")  # its indexes, triggers and identity sequence
    if partitioned:
        run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, day)")
        run(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT request_unique_per_source_day "
            "UNIQUE (source, request_id, day)"
        )
    else:
        run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        run(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT request_unique_per_source "
            "UNIQUE (source, request_id)"
        )
    for sql in (*INDEXES, _late_index(), *TRIGGERS):
        run(sql)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        (sequence,) = cursor.fetchone()
    run(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    run(f"SELECT setval('{TABLE}_id_seq', coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    run(f"ANALYZE {TABLE}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=True)
    else:
        schema_editor.execute(
            f"UPDATE {TABLE} SET day = date(coalesce(started_at, finished_at)) WHERE day IS NULL"
        )


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=False)


class ElsewhereThanPostgres(migrations.SeparateDatabaseAndState):
    """Operations that change the state on every database and the schema on all but Postgres,
    where the rebuild above made the same change."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


_STATE = [
    migrations.AlterField(
        model_name="gatewayrequest",
        name="day",
        field=ingest.models.RequestDayField(
            editable=False,
            help_text="The UTC day of its start, or of its finish if no start was known when it "
            "was first stored: the day partition it is kept in, and dropped with.",
        ),
    ),
    migrations.RemoveConstraint(
        model_name="gatewayrequest",
        name="request_unique_per_source",
    ),
    migrations.AddConstraint(
        model_name="gatewayrequest",
        constraint=models.UniqueConstraint(
            fields=("source", "request_id", "day"), name="request_unique_per_source_day"
        ),
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0010_request_counts_room_for_updates"),
    ]

    operations = [
        migrations.AddField(
            model_name="gatewayrequest",
            name="day",
            field=ingest.models.RequestDayField(editable=False, null=True),
        ),
        migrations.RunPython(partition, unpartition),
        ElsewhereThanPostgres(state_operations=_STATE, database_operations=_STATE),
    ]

