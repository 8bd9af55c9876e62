"""(2 of 3) Every row moves to the new shape: each route sends to the channel its routing key
became; each delivery goes to the channel its incident's routing key became; an incident that
opened muted (``paged`` false) gets a "muted" page per channel, which is what tells it is muted
from now on, with the reason ``muted_by`` held. The roles get the same rights on channels as
they had on routing keys. A migration of its own: Postgres cannot change the tables' schema in
the transaction that moved their rows."""

from django.db import migrations

MUTED_REASON_LIMIT = 500


def move_rows(apps, schema_editor):
    Route = apps.get_model("policies", "Route")
    Incident = apps.get_model("policies", "Incident")
    Delivery = apps.get_model("policies", "Delivery")
    for route in Route.objects.all():
        route.channels.add(route.routing_key_id)
    for incident in Incident.objects.exclude(routing_key=None).iterator():
        Delivery.objects.filter(incident=incident).update(channel_id=incident.routing_key_id)
    for incident in Incident.objects.filter(paged=False).iterator():
        Delivery.objects.create(
            incident=incident,
            channel_id=incident.routing_key_id,
            action="trigger",
            status="muted",
            created_at=incident.noticed_at,
            finished_at=incident.noticed_at,
            last_error=(incident.muted_by or "muted")[:MUTED_REASON_LIMIT],
        )


def grant_channel_permissions(apps, schema_editor):
    """Who had a right on routing keys has it on channels (the permissions' codenames follow the
    model's new name), and the inbox may be read by whoever reads incidents."""
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.all():
        for perm in list(group.permissions.filter(codename__endswith="_routingkey")):
            action = perm.codename.split("_", 1)[0]
            new = Permission.objects.filter(
                content_type__app_label="policies", codename=f"{action}_channel"
            ).first()
            if new is not None:
                group.permissions.add(new)
        if group.permissions.filter(codename="view_incident").exists():
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label="policies", codename="view_inboxmessage"
                )
            )
    # The old names stay attached to the renamed content type: gone, or the admin would list
    # rights on "routing keys" that no longer exist.
    Permission.objects.filter(
        content_type__app_label="policies", codename__endswith="_routingkey"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("policies", "0011_channels_routes_and_deliveries")]

    operations = [
        migrations.RunPython(move_rows, migrations.RunPython.noop),
        migrations.RunPython(grant_channel_permissions, migrations.RunPython.noop),
    ]
