"""The roles (groups and their rights) as the migrations made them, for tests that run after
another test's flush emptied the tables."""

from __future__ import annotations

import importlib

from django.db import connection
from django.db.migrations.loader import MigrationLoader

# Each step with the models of its time: 0004 grants rights on routing keys, which 0012 turns
# into rights on channels.
STEPS = (
    ("0004_roles", "create_roles"),
    ("0012_move_rows_to_channels", "grant_channel_permissions"),
)


def make_roles() -> None:
    loader = MigrationLoader(connection)
    for name, function in STEPS:
        models_then = loader.project_state(("policies", name)).apps
        getattr(importlib.import_module(f"policies.migrations.{name}"), function)(models_then, None)
