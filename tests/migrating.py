"""Moving the test database to a migration and back, for tests of data migrations: rows are
written with the models as they were before a migration, and read after it."""

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ingest import partitions


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Migrate to `targets`; the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    partitions.forget()  # the requests' table may have been rebuilt, its partitions with it
    return executor.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    """The last migration of each app."""
    leaves: list[tuple[str, str]] = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return leaves


def migrate_to_latest() -> None:
    migrate(latest())
