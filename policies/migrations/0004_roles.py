"""The three roles as groups, with their model permissions, and the masked key hint of the
routing keys that existed before it was kept. Frozen here: a later change to the roles is a
new migration."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPS_ADMINS = "Ops admins"
TEAM_EDITORS = "Team editors"
VIEWERS = "Viewers"

POLICIES_EDITABLE = ["alertpolicy", "route", "routingkey", "silence", "team", "maintenance"]
POLICIES_WRITTEN = [
    "incident", "incidentevent", "delivery", "deliveryattempt", "policystate", "heartbeat",
]  # fmt: skip
INGEST_EDITABLE = ["ingesttoken"]
INGEST_WRITTEN = ["gatewayrequest"]
TEAM_EDITOR_MODELS = ["alertpolicy", "route", "routingkey", "silence"]
CRUD = ("add", "change", "delete")


def role_permissions():
    view_all = [("policies", f"view_{m}") for m in POLICIES_EDITABLE + POLICIES_WRITTEN] + [
        ("ingest", f"view_{m}") for m in INGEST_EDITABLE + INGEST_WRITTEN
    ]
    # Resolving an incident by hand is the incident "change" permission; team editors may
    # resolve their own teams' (the admin checks the team).
    resolve = [("policies", "change_incident")]
    edit_own = [("policies", f"{a}_{m}") for m in TEAM_EDITOR_MODELS for a in CRUD]
    everything = [(app, f"{a}_{m}") for app, ms in (("policies", POLICIES_EDITABLE), ("ingest", INGEST_EDITABLE)) for m in ms for a in CRUD]  # noqa: E501
    return {
        OPS_ADMINS: view_all + everything + resolve,
        TEAM_EDITORS: view_all + edit_own + resolve,
        VIEWERS: view_all,
    }


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations ran; these groups need them now. From
    # the models as they were here (apps), not as they are today: a model renamed since (the
    # routing keys, now channels) must still have its permissions made under its old name.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in wanted
        ]
        group.permissions.set(perms)


def fill_key_hints(apps, schema_editor):
    RoutingKey = apps.get_model("policies", "RoutingKey")
    for key in RoutingKey.objects.all():
        secret = key.integration_key
        key.key_hint = f"{secret[:4]}\u2026{secret[-4:]}" if len(secret) >= 16 else "\u2026" * 3
        key.save(update_fields=["key_hint"])


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("policies", "0003_silences_roles_history"),
        ("ingest", "0002_token_history"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(fill_key_hints, migrations.RunPython.noop),
    ]
