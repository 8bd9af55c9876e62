"""Running a counting statement: one round trip, with the settings such statements need."""

from __future__ import annotations

from typing import Any

from django.db import connection

# For the counting statements only. Compiling their hundreds of small expressions costs about
# a second (300 ms for the request counts' read), far more than JIT saves, once the plan's cost
# crosses jit_above_cost. And the planner takes each segment's rows for distinct groups: with
# the default 4 MB it sorts on disk instead of hashing the few thousand groups there are (three
# times slower measured with every window at an hour).
POSTGRES_SETTINGS = ["SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'"]


def fetch_counts(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of a counting statement, run with POSTGRES_SETTINGS on Postgres."""
    settings = POSTGRES_SETTINGS if connection.vendor == "postgresql" else []
    with connection.cursor() as cursor:
        # Sent with the query as one message (Django's psycopg cursors bind parameters on the
        # client), so one implicit transaction: SET LOCAL ends with it, or with the caller's
        # transaction.
        cursor.execute("".join(f"{setting}; " for setting in settings) + sql, params)
        for _ in settings:
            cursor.nextset()
        return list(cursor.fetchall())
