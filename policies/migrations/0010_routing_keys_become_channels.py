"""Routing keys become PagerDuty channels: the same rows, renamed, so that every incident,
delivery, attempt and test event keeps pointing at them. The next migration adds what the
other kinds need and moves the rows to the new shape."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("policies", "0009_test_events")]

    operations = [
        migrations.RenameModel("RoutingKey", "Channel"),
        migrations.RenameModel("HistoricalRoutingKey", "HistoricalChannel"),
        migrations.RenameField("channel", "integration_key", "secret"),
        migrations.RenameField("channel", "key_hint", "secret_hint"),
        migrations.RenameField("historicalchannel", "key_hint", "secret_hint"),
        # The index names the column: dropped and made again around the rename (SQLite remakes
        # the table, and would build the old index on a column that is gone).
        migrations.RemoveIndex("probe", "probe_key_sent_at"),
        migrations.RenameField("probe", "routing_key", "channel"),
        migrations.AddIndex(
            "probe", models.Index(fields=["channel", "-sent_at"], name="probe_channel_sent_at")
        ),
    ]
