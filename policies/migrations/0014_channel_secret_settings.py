"""A channel's secret settings (a webhook's extra headers, which may carry a token) move to a
column of their own, which the change history never copies; the history loses the copies it
had. The other settings keep their column (``settings``), renamed ``public_settings`` in the
code only."""

from django.db import migrations, models

# The kinds' secret settings when this was written (policies/channels: Field(secret=True)).
SECRET = ("headers",)


def move_secret_settings(apps, schema_editor):
    Channel = apps.get_model("policies", "Channel")
    for channel in Channel.objects.all():
        public = dict(channel.public_settings or {})
        secret = {name: public.pop(name) for name in SECRET if name in public}
        if secret:
            Channel.objects.filter(pk=channel.pk).update(
                public_settings=public, secret_settings=secret
            )
    History = apps.get_model("policies", "HistoricalChannel")
    for record in History.objects.all():
        kept = {k: v for k, v in (record.public_settings or {}).items() if k not in SECRET}
        if kept != (record.public_settings or {}):
            History.objects.filter(pk=record.pk).update(public_settings=kept)


def settings_field():
    return models.JSONField(
        "settings",
        db_column="settings",
        default=dict,
        blank=True,
        help_text="The kind's settings that are not secret.",
    )


class Migration(migrations.Migration):
    dependencies = [("policies", "0013_drop_routing_key_columns")]

    operations = [
        # Only the code's name changes: the column stays `settings`.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("channel", "settings", "public_settings"),
                migrations.AlterField("channel", "public_settings", settings_field()),
                migrations.RenameField("historicalchannel", "settings", "public_settings"),
                migrations.AlterField("historicalchannel", "public_settings", settings_field()),
            ]
        ),
        migrations.AddField(
            model_name="channel",
            name="secret_settings",
            field=models.JSONField(
                blank=True, default=dict, help_text="The kind's secret settings: never shown back."
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="secret_settings_changed_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="secret settings changed",
                help_text="When the secret settings were last set or changed.",
            ),
        ),
        migrations.AddField(
            model_name="historicalchannel",
            name="secret_settings_changed_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="secret settings changed",
                help_text="When the secret settings were last set or changed.",
            ),
        ),
        migrations.RunPython(move_secret_settings, migrations.RunPython.noop),
    ]
