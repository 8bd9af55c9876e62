"""The migrations describe the models: a model change without its migration fails here, not
on an operator's `migrate`."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_maintenance_on_from_before_end_times_gets_one_and_keeps_its_row():
    from datetime import timedelta

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    before, after = (
        ("policies", "0005_delivery_not_delivered_index"),
        (
            "policies",
            "0006_maintenance_ends_at",
        ),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps.get_model("policies", "Maintenance")
    old.objects.create(pk=1, enabled=True, reason="database upgrade")

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    new = executor.loader.project_state([after]).apps.get_model("policies", "Maintenance")
    row = new.objects.get()

    assert (row.enabled, row.reason) == (True, "database upgrade")
    assert timedelta(days=6) < row.ends_at - timezone.now() <= timedelta(days=7)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
