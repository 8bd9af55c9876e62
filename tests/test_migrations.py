"""The migrations describe the models: a model change without its migration fails here, not
on an operator's `migrate`."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
