"""(3 of 3) The PagerDuty-shaped columns go, now that their rows have moved (0012): an incident's
routing key, its "paged" flag and reason, and a route's one routing key."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("policies", "0012_move_rows_to_channels")]

    operations = [
        migrations.RemoveField(
            model_name="historicalroute",
            name="routing_key",
        ),
        migrations.RemoveField(
            model_name="incident",
            name="muted_by",
        ),
        migrations.RemoveField(
            model_name="incident",
            name="paged",
        ),
        migrations.RemoveField(
            model_name="incident",
            name="routing_key",
        ),
        migrations.RemoveField(
            model_name="route",
            name="routing_key",
        ),
    ]
