"""Room on each page of the request counts for their updates: folding updates a bucket's row
many times (every few seconds while it is recent), and with free space on its page Postgres
writes the new version there without touching the indexes (a HOT update), and reclaims the old
one when it next reads the page, vacuum or not. Applies to pages written from now on."""

from django.db import migrations


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ingest_requestrollup SET (fillfactor = 70)")


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ingest_requestrollup RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0009_daily_counts"),
    ]

    operations = [migrations.RunPython(leave_room, fill)]
