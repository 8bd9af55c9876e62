"""Running a counting statement: one round trip, with the settings such statements need."""

from __future__ import annotations

from typing import Any

from django.db import connection

# For the counting statements only. Compiling their hundreds of small expressions costs about
# a second (300 ms for the request counts' read), far more than JIT saves, once the plan's cost
# crosses jit_above_cost. And the planner takes each segment's rows for distinct groups: with
# the default 4 MB it sorts on disk instead of hashing the few thousand groups there are (three
# times slower measured with every window at an hour).
# And no parallel workers: with 100 million requests stored, the planner's estimates for the
# index of late requests on a day's large partition made half the hung policies' reads start
# workers, some 7 ms each, for reads of a few rows: evaluation took 180 ms instead of 92.
POSTGRES_SETTINGS = [
    "SET LOCAL jit = off",
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL max_parallel_workers_per_gather = 0",
]
# For reads of the request counts over days (a month's spend). The counts are read by ranges of
# buckets, one per level, ORed; Postgres estimates each range's share of the table as if levels
# and buckets were independent (they are not: the seconds crowd the last hours), and over 30
# days chose to scan the whole table: 1.4 s for the 45,000 rows such a read takes among 7
# million, against 20 to 31 ms through the index. Not for evaluation's windows of an hour or
# less, which Postgres plans well (55 ms at 10 million requests, 128 ms with this).
LONG_READ_SETTINGS = [*POSTGRES_SETTINGS, "SET LOCAL enable_seqscan = off"]


def fetch_counts(sql: str, params: list[Any], long: bool = False) -> list[tuple[Any, ...]]:
    """The rows of a counting statement, run with POSTGRES_SETTINGS on Postgres (with
    LONG_READ_SETTINGS if it reads the counts over days: `long`)."""
    settings: list[str] = []
    if connection.vendor == "postgresql":
        settings = LONG_READ_SETTINGS if long else POSTGRES_SETTINGS
    with connection.cursor() as cursor:
        # Sent with the query as one message (Django's psycopg cursors bind parameters on the
        # client), so one implicit transaction: SET LOCAL ends with it, or with the caller's
        # transaction.
        cursor.execute("".join(f"{setting}; " for setting in settings) + sql, params)
        for _ in settings:
            cursor.nextset()
        return list(cursor.fetchall())
