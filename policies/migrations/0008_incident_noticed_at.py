"""Incident.noticed_at: when the console noticed a breach, beside detected_at, the moment it
happened (a replayed one after a gap in evaluation). Rows recorded before it was kept were
noticed when they were detected, as far as anyone can tell: they get detected_at."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def noticed_when_detected(apps, schema_editor):
    Incident = apps.get_model("policies", "Incident")
    Incident.objects.update(noticed_at=F("detected_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0007_routing_key_owning_team"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="noticed_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(noticed_when_detected, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="incident",
            name="noticed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When the console noticed it: the real time the incident was recorded. "
                "Later than detected_at when a catch-up after a gap in evaluation found the breach.",
            ),
        ),
        migrations.AlterField(
            model_name="incident",
            name="detected_at",
            field=models.DateTimeField(
                help_text="When the breach was detected: the evaluation moment that opened the "
                "incident. After a gap in evaluation, a moment replayed in the past."
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="attempts",
            field=models.PositiveIntegerField(
                default=0, help_text="Calls to PagerDuty started, counted when a worker claims it."
            ),
        ),
    ]
