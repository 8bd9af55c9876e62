"""Storing a batch of events: one row per (source, request id), merged, all or nothing.

On Postgres the batch is COPY'd into a temporary table and merged with one
``INSERT ... ON CONFLICT DO UPDATE``: about ten times faster than ORM inserts (see
bench/ingest.py). Other databases (the embedded SQLite default) take a slower ORM path that
applies the same rules (``merge.py``).
"""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import datetime

from django.db import connection, transaction

from ingest.events import Event
from ingest.merge import FINISH_FIELDS, adds_something, merge, merge_batch
from ingest.models import GatewayRequest

EVENT_COLUMNS = tuple(f.name for f in fields(Event))
COLUMNS = ("source", *EVENT_COLUMNS, "received_at")
TABLE = GatewayRequest._meta.db_table
STAGING = "ingest_staging"


def _set_clause() -> str:
    # The rules of merge.py, for a row already stored (t) and the incoming one (EXCLUDED).
    t_unfinished = "t.outcome = ''"
    parts = ["started_at = COALESCE(t.started_at, EXCLUDED.started_at)"]
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


# Built from column names in this module only; no input reaches these strings.
UPSERT_SQL = (
    f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(COLUMNS)} FROM {STAGING} "
    f"ON CONFLICT (source, request_id) DO UPDATE SET {_set_clause()} "
    # A repeated event adds nothing: leave the row alone rather than write the same values.
    "WHERE (t.started_at IS NULL AND EXCLUDED.started_at IS NOT NULL) "
    "OR (t.outcome = '' AND EXCLUDED.outcome <> '')"
)
CREATE_STAGING_SQL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} AS "
    f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WITH NO DATA"
)
COPY_SQL = f"COPY {STAGING} ({', '.join(COLUMNS)}) FROM STDIN"
# Emptied inside the same transaction, not at commit: a caller's outer transaction (or a
# test's) may store several batches before it commits.
CLEAR_STAGING_SQL = f"DELETE FROM {STAGING}"


def store_events(source: str, events: list[Event], now: datetime) -> int:
    """Store the events atomically; returns the number of distinct requests they touched."""
    batch = merge_batch(events)
    if not batch:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _copy_upsert(source, batch, now)
        else:
            _orm_upsert(source, batch, now)
    return len(batch)


def _copy_upsert(source: str, batch: list[Event], now: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CREATE_STAGING_SQL)
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy(COPY_SQL) as copy:
            for event in batch:
                copy.write_row((source, *astuple(event), now))
        cursor.execute(UPSERT_SQL)
        cursor.execute(CLEAR_STAGING_SQL)


def _orm_upsert(source: str, batch: list[Event], now: datetime) -> None:
    stored = {
        row.request_id: row
        for row in GatewayRequest.objects.select_for_update().filter(
            source=source, request_id__in=[e.request_id for e in batch]
        )
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
    return dict(zip(EVENT_COLUMNS, astuple(event), strict=True))
