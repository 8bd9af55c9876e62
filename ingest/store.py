"""Storing a batch of events: one row per (source, request id), merged, all or nothing.

On Postgres, small batches are one ``INSERT ... VALUES ... ON CONFLICT DO UPDATE`` that
applies the rules of ``merge.py`` to rows already stored. Large batches of requests not
stored yet are COPY'd straight into the table; otherwise they are COPY'd into a temporary
table and merged with the same ``ON CONFLICT``. Triggers write the request counts' changes of
what a statement changed (``rollups``), except on the large paths, which count the rows they
insert themselves, in bulk, and mark them so. Other databases (the embedded SQLite default)
take a slower ORM path that applies the same rules.

On Postgres each row is stored on its day's partition (``partitions``): events whose day is not
certain first take the day of their request's stored row, if it has one.
"""

from __future__ import annotations

import functools
import time
from dataclasses import fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any

import psycopg
from django.db import DatabaseError, connection, models, transaction

from ingest import partitions, rollups
from ingest.events import Event
from ingest.merge import FINISH_FIELDS, adds_something, merge, merge_batch
from ingest.models import GatewayRequest

EVENT_COLUMNS = tuple(f.name for f in fields(Event))
COLUMNS = ("source", *EVENT_COLUMNS, "received_at", "day")
TABLE = GatewayRequest._meta.db_table
# dataclasses.astuple deep-copies every value: ten times slower than reading the attributes.
event_values = attrgetter(*EVENT_COLUMNS)
_by_request_id = attrgetter("request_id")
# Rows written by the bulk paths are counted by them, not by the insert trigger (rollups).
COUNTED = "counted_on_insert"


def _set_clause() -> str:
    # The rules of merge.py, for a row already stored (t) and the incoming one (EXCLUDED).
    t_unfinished = "t.outcome = ''"
    parts = ["started_at = COALESCE(t.started_at, EXCLUDED.started_at)"]
    # The mark says a bulk path counted the row when it inserted it; cleared on update, it tells
    # the rows an upsert updated from those it inserted (rollups.counting_inserted).
    parts.append(f"{COUNTED} = false")
    for name in FINISH_FIELDS:
        if name == "latency_seconds":
            continue
        parts.append(f"{name} = CASE WHEN {t_unfinished} THEN EXCLUDED.{name} ELSE t.{name} END")
    parts.append(
        "latency_seconds = COALESCE("
        f"CASE WHEN {t_unfinished} THEN EXCLUDED.latency_seconds ELSE t.latency_seconds END, "
        "GREATEST(0, EXTRACT(EPOCH FROM COALESCE(t.finished_at, EXCLUDED.finished_at)"
        " - COALESCE(t.started_at, EXCLUDED.started_at))))"
    )
    descriptive = [c for c in EVENT_COLUMNS if c not in FINISH_FIELDS]
    for name in descriptive:
        if name in ("request_id", "started_at"):
            continue
        parts.append(f"{name} = CASE WHEN t.{name} = '' THEN EXCLUDED.{name} ELSE t.{name} END")
    return ", ".join(parts)


ON_CONFLICT = (
    f"ON CONFLICT (source, request_id, day) DO UPDATE SET {_set_clause()} "
    # A repeated event adds nothing: leave the row alone rather than write the same values.
    "WHERE (t.started_at IS NULL AND EXCLUDED.started_at IS NOT NULL) "
    "OR (t.outcome = '' AND EXCLUDED.outcome <> '')"
)
STAGING = "ingest_staging"
CREATE_STAGING_SQL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} AS "
    f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WITH NO DATA"
)
COPY_SQL = f"COPY {STAGING} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
COPY_FRESH_SQL = f"COPY {TABLE} ({', '.join(COLUMNS)}, {COUNTED}) FROM STDIN (FORMAT BINARY)"
# Rows are locked in the order they are written, on every path: the batch's, sorted by request
# id (store_events). A SELECT without ORDER BY returns the staging table's heap order, which
# stops being the COPY's order once earlier batches' deleted rows leave holes for it to fill.
# "C" compares code points, as Python's sort does, whatever the database's collation.
LOCK_ORDER = 'request_id COLLATE "C"'
MERGE_STAGING_SQL = rollups.counting_inserted(
    f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)}, {COUNTED}) "
    f"SELECT {', '.join(COLUMNS)}, true FROM {STAGING} ORDER BY {LOCK_ORDER} {ON_CONFLICT}"
)
# Emptied inside the same transaction, not at commit: a caller's outer transaction may
# store several batches before it commits.
CLEAR_STAGING_SQL = f"DELETE FROM {STAGING}"

# How long a source whose COPY met a stored request is merged without trying COPY first.
MERGE_MEMORY_SECONDS = 60.0
_merge_until: dict[str, float] = {}  # per process; a source's time.time() to try COPY again

# Up to this many requests go in one INSERT ... VALUES: one statement, atomic on its own, one
# round trip. Larger batches are COPY'd, which costs a few round trips but is several times
# faster per row (bench/ingest.py).
VALUES_BATCH_LIMIT = 16


def _values_sql(rows: int) -> str:
    row = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)}) VALUES "
        + ", ".join([row] * rows)
        + f" {ON_CONFLICT}"
    )


_values_sql_for = functools.cache(_values_sql)


@functools.cache
def _binary_types() -> list[str]:
    types = []
    for name in COLUMNS:
        field = GatewayRequest._meta.get_field(name)
        db_type = field.db_type(connection) if isinstance(field, models.Field) else None
        db_type = db_type or "text"
        types.append(db_type.split("(")[0].replace("timestamp with time zone", "timestamptz"))
    return types


def store_events(source: str, events: list[Event], now: datetime) -> int:
    """Store the events atomically; returns the number of distinct requests they touched."""
    batch = merge_batch(events)
    if not batch:
        return 0
    # Rows are written, and their keys locked, in this order: the same for every post and every
    # path (VALUES lists them, COPY writes them, the merge selects them so), so two posts of
    # the same requests (replicas) wait for each other instead of deadlocking.
    batch.sort(key=_by_request_id)
    if connection.vendor != "postgresql":
        with transaction.atomic():
            _orm_upsert(source, batch, now)
        return len(batch)
    days = [partitions.key_day(e.started_at, e.finished_at) for e in batch]
    certain = partitions.certain_starts(now)
    uncertain = [i for i, e in enumerate(batch) if partitions.needs_lookup(e.started_at, certain)]
    partitions.ensure(set(days), now)
    if uncertain:
        with transaction.atomic():
            _take_stored_days(source, batch, days, uncertain)
            _store(source, batch, days, now)
    else:
        _store(source, batch, days, now)
    return len(batch)


def _take_stored_days(source: str, batch: list[Event], days: list[date], which: list[int]) -> None:
    """Give the events at ``which`` the day of their request's stored row, if it has one, on
    whichever day (ingest/partitions.py). Each request is locked first, in the batch's order:
    two posts of its events wait for each other rather than both find nothing and store it on
    two days."""
    ids = [batch[i].request_id for i in which]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s || '/' || id)) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS ids (id, n) ORDER BY n",
            [partitions.REQUEST_LOCK, source, ids],
        )
        cursor.execute(
            f"SELECT request_id, min(day) FROM {TABLE} "
            "WHERE source = %s AND request_id = ANY(%s) GROUP BY request_id",
            [source, ids],
        )
        stored = dict(cursor.fetchall())
    for i in which:
        days[i] = stored.get(batch[i].request_id, days[i])


def _store(source: str, batch: list[Event], days: list[date], now: datetime) -> None:
    if len(batch) <= VALUES_BATCH_LIMIT:
        params: list[Any] = []
        for event, day in zip(batch, days, strict=True):
            params += (source, *event_values(event), now, day)
        sql = _values_sql_for(len(batch))
        # No health check ("SELECT 1") first, as Django would make: it would double the round
        # trips of a single-event post. A connection Postgres dropped fails the upsert, which is
        # idempotent (merge.py), so it is sent once more on a new connection.
        try:
            _execute_prepared(sql, params)
        except DatabaseError:
            if connection.in_atomic_block or not _connection_lost():
                raise
            connection.close()
            _execute_prepared(sql, params)
    else:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            # psycopg's own cursor: Django's has no COPY
            _store_large(cursor.cursor, source, batch, days, now)


def _store_large(
    cursor: psycopg.Cursor[Any], source: str, batch: list[Event], days: list[date], now: datetime
) -> None:
    """COPY the batch straight into the table; if a request of it is already stored, merge.

    A plain COPY writes rows in bulk, about a third faster than INSERT ... ON CONFLICT, which
    inserts and checks one row at a time (README, "Performance"). But one request already
    stored fails the COPY on the unique constraint: it is then undone alone (a savepoint) and
    the batch is merged instead. That is the rule for a source fed by the shipped callback, whose
    finishes follow their starts, so such a source is merged directly for a while rather than
    fail a COPY per batch; LiteLLM's generic_api sends each request once, and is COPY'd."""
    if time.time() >= _merge_until.get(source, 0.0):
        try:
            with transaction.atomic():
                _copy(cursor, COPY_FRESH_SQL, source, batch, days, now, counted=True)
        except psycopg.errors.UniqueViolation:
            _merge_until[source] = time.time() + MERGE_MEMORY_SECONDS
        else:
            rollups.copy_deltas(cursor, source, batch)
            return
    cursor.execute(CREATE_STAGING_SQL)
    _copy(cursor, COPY_SQL, source, batch, days, now)
    cursor.execute(MERGE_STAGING_SQL)
    cursor.execute(CLEAR_STAGING_SQL)


def _copy(
    cursor: psycopg.Cursor[Any],
    sql: str,
    source: str,
    events: list[Event],
    days: list[date],
    now: datetime,
    counted: bool = False,
) -> None:
    # Binary COPY: a third of the cost of text COPY, the server parses no timestamps.
    with cursor.copy(sql) as copy:
        if counted:  # the column COUNTED follows COLUMNS
            copy.set_types([*_binary_types(), "bool"])
            for event, day in zip(events, days, strict=True):
                copy.write_row((source, *event_values(event), now, day, True))
        else:
            copy.set_types(_binary_types())
            for event, day in zip(events, days, strict=True):
                copy.write_row((source, *event_values(event), now, day))


def _execute_prepared(sql: str, params: list[Any]) -> None:
    # Raw psycopg: Django's error wrapper must be asked for, or errors would not be
    # DatabaseError and Django would not know the connection failed.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # A server-side prepared statement: Postgres plans this long upsert once per
        # connection instead of on every post, and psycopg skips quoting the values.
        cursor.execute(sql, params, prepare=True)


def _connection_lost() -> bool:
    raw = connection.connection
    return raw is None or bool(raw.closed) or bool(raw.broken)


def _orm_upsert(source: str, batch: list[Event], now: datetime) -> None:
    stored = {
        row.request_id: row
        for row in GatewayRequest.objects.select_for_update()
        .filter(source=source, request_id__in=[e.request_id for e in batch])
        .order_by("request_id")  # locked in the batch's order, as on the other paths
    }
    new_rows = []
    for event in batch:
        row = stored.get(event.request_id)
        if row is None:
            new_rows.append(GatewayRequest(source=source, received_at=now, **_values(event)))
            continue
        old = Event(**{name: getattr(row, name) for name in EVENT_COLUMNS})
        if not adds_something(old, event):
            continue
        for name, value in _values(merge(old, event)).items():
            setattr(row, name, value)
        row.save()
    GatewayRequest.objects.bulk_create(new_rows)


def _values(event: Event) -> dict[str, object]:
    return dict(zip(EVENT_COLUMNS, event_values(event), strict=True))
