"""Request rows in one Postgres partition per UTC day, so that retention drops whole days.

**The key.** A request's row lives in the partition of its *day*: the UTC day of its start, or
of its finish when no start is known yet. Postgres enforces uniqueness per partition only, so
the unique key is (source, request_id, day), and a request's events must agree on the day for
its start and finish to merge into one row. They do when each carries the start (LiteLLM's
always do). The cases where they may not, and the rule that settles them:

- a finish without a start time is keyed by its finish, and its start, arriving later, may
  fall on the day before;
- such a finish may arrive after its start, already stored on the day before.

So an event is **looked up** before it is stored, unless its day is certain: it carries a start
at least ``MARGIN`` inside the current day (``needs_lookup``). A looked-up event takes the day of
the request's stored row, in whichever partition it is, under a lock on the request's id
(``store.py``). Live traffic carrying starts is looked up only in the minutes around midnight;
finishes without a start always. The margin is the clock skew ingest accepts (``fields``): no
event for a request started well inside today can have been keyed on another day.

**Partitions** are created ahead by beat (``ensure_ahead``) and, for a day no partition holds
yet (a late or early event, a console that was down), by the writer (``ensure``) first, as a
table attached to the parent: attaching takes a lock that ingest's inserts do not conflict
with, where ``CREATE TABLE ... PARTITION OF`` would lock them out. There is no default
partition: it would forbid detaching without a lock (below) and would have to be scanned at
every attach. **Retention** detaches old days ``CONCURRENTLY`` (ingest never waits for it) and
drops them (``drop_before``). Postgres 14 or later; the embedded SQLite default has no
partitions and deletes rows (``pruning.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic

from django.conf import settings
from django.db import connection, transaction

from ingest.fields import MAX_CLOCK_SKEW

logger = logging.getLogger(__name__)

TABLE = "ingest_gatewayrequest"
PREFIX = f"{TABLE}_p"
_NAME = re.compile(rf"^{PREFIX}(\d{{8}})$")
MARGIN = MAX_CLOCK_SKEW
# This application's advisory locks are (namespace, id) pairs (policies/recording.py uses "AC" + 1).
CREATING_LOCK = 0x41430002  # creating partitions
REQUEST_LOCK = 0x41430003  # looking a request up across days (store.py)
# Days created ahead of today by beat, so that writers find their partition.
AHEAD = 2
# A writer waits at most this long to attach a partition (behind a detach, say) before it fails
# the post, which the gateway retries: better than a queue of inserts behind a lock.
ATTACH_LOCK_TIMEOUT = "5s"

# Days known to have a partition, per process; filled only after the creating transaction
# committed (a rolled-back attach must not be remembered).
_known: set[date] = set()


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date() if moment.utcoffset() else moment.date()


def key_day(started_at: datetime | None, finished_at: datetime | None) -> date:
    """The day a request's first event puts it on: its start's, or its finish's."""
    moment = started_at or finished_at
    if moment is None:
        raise ValueError("a request has a start or a finish")
    return day_of(moment)


def certain_starts(now: datetime) -> tuple[datetime, datetime] | None:
    """The starts whose day needs no lookup at ``now``, as [since, until): those at least the
    margin into today, unless midnight is within the margin of ``now`` (then none). Bounds,
    so that ingest compares each event's start rather than computing its day twice."""
    today = day_of(now - MARGIN)
    if day_of(now + MARGIN) != today:
        return None
    midnight = datetime.combine(today, time(), UTC)
    return midnight + MARGIN, midnight + timedelta(days=1)


def needs_lookup(started_at: datetime | None, certain: tuple[datetime, datetime] | None) -> bool:
    """Whether an event's request may already be stored on another day (module docstring)."""
    return started_at is None or certain is None or not certain[0] <= started_at < certain[1]


def name(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def parse(table: str) -> date | None:
    found = _NAME.match(table)
    return datetime.strptime(found[1], "%Y%m%d").replace(tzinfo=UTC).date() if found else None


# --- creating ---------------------------------------------------------------------------------


def attach_sql(day: date) -> list[str]:
    table, end = name(day), day + timedelta(days=1)
    return [
        # LIKE copies the columns, their NOT NULL and CHECK constraints and defaults; attaching
        # adds the parent's indexes and triggers.
        f"CREATE TABLE IF NOT EXISTS {table} "
        f"(LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)",
        f"SET LOCAL lock_timeout = '{ATTACH_LOCK_TIMEOUT}'",
        f"ALTER TABLE {TABLE} ATTACH PARTITION {table} FOR VALUES FROM ('{day}') TO ('{end}')",
    ]


def existing() -> dict[date, bool]:
    """The days that have a partition, and whether each is being detached."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.inhdetachpending FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        return {day: pending for table, pending in cursor.fetchall() if (day := parse(table))}


def ensure(days: Iterable[date], now: datetime) -> None:
    """Create the partitions of ``days`` that do not exist yet. Cheap when they all do: days
    this process has seen are not looked up again, but for those retention may drop soon.
    Days retention dropped are created again: their rows are dropped at its next run."""
    edge = _retention_edge(now)
    wanted = {day for day in days if day <= edge or day not in _known}
    if not wanted:
        return
    remembered = {day for day in wanted if day > edge}
    with transaction.atomic():
        if wanted - existing().keys():
            # One creator at a time, checking again under the lock: the check and the attach
            # are not atomic otherwise. Only writers that found a day missing wait for it.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [CREATING_LOCK])
                for day in sorted(wanted - existing().keys()):
                    for sql in attach_sql(day):
                        cursor.execute(sql)
        transaction.on_commit(lambda: _known.update(remembered))


def ensure_ahead(now: datetime) -> None:
    today = day_of(now)
    ensure((today + timedelta(days=n) for n in range(AHEAD + 1)), now)


def forget() -> None:
    """Drop what this process knows of partitions (after the table is rebuilt, in tests)."""
    _known.clear()


# --- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dropped:
    """A day whose partition retention dropped, and what it took (logged for operators)."""

    day: date
    size_bytes: int
    detach_seconds: float  # the part that touches the live table: milliseconds, unless it waits
    drop_seconds: float  # its files: ms, or 0.17 s a GB where freeing trims (online discard)


def drop_before(cutoff: date) -> list[Dropped]:
    """Detach and drop the partitions of days before ``cutoff``. Runs in autocommit mode: a
    concurrent detach is two transactions of its own."""
    if connection.in_atomic_block:
        raise RuntimeError("partitions are detached outside a transaction")
    dropped = []
    for day, pending in sorted(existing().items()):
        if day >= cutoff:
            break
        table = name(day)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
            size = int(cursor.fetchone()[0])
            started = monotonic()
            # A detach interrupted earlier (a worker killed mid-way) is finished, not restarted.
            mode = "FINALIZE" if pending else "CONCURRENTLY"
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {table} {mode}")
            detached = monotonic()
            cursor.execute(f"DROP TABLE {table}")
            done = Dropped(day, size, detached - started, monotonic() - detached)
        _known.discard(day)
        dropped.append(done)
        logger.info(
            "dropped the requests of %s (%.0f MB): detached in %.3f s, files removed in %.3f s",
            day, size / 1e6, done.detach_seconds, done.drop_seconds,
        )  # fmt: skip
    return dropped


def _retention_edge(now: datetime) -> date:
    # Retention drops the days before day_of(now) - retention: those up to a day after that
    # (clocks differ) are looked up each time rather than remembered.
    return day_of(now) - timedelta(days=settings.REQUEST_RETENTION_DAYS - 1)
