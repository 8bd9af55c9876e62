"""Pre-aggregated counts of finished requests, so that counting a window reads a number of rows
set by the groups in it, not by its traffic (docs/rollups.md).

- Each change to a request row (a finish stored, a team filled in later) is turned, in the
  transaction that made it, into a **delta**: what the new row adds to its second's counts,
  minus what the old row did. A delta exists if and only if its change committed. Triggers
  count every writer: a statement-level one the rows a merge changed (its transition tables
  hold only those), a row-level one each row inserted, but for rows marked
  ``counted_on_insert``: ingest's bulk paths count those themselves, in bulk (a transition
  table of every inserted row, or a trigger call per row, cost ingest 8 to 17%:
  docs/rollups.md).
- ``fold`` moves deltas into **rollups** of three levels (seconds, minutes, hours), off the hot
  path; two folders never take the same delta, and their additions commute.
- ``window_source`` adds the rollups and the deltas not folded yet (and the current second's
  fraction from the request rows): exact whatever the fold's lag.

A request counts in the bucket of the whole second at or after its finish, ``(t - 1 s, t]``, as
a window counts ``finished_at > now - Y AND finished_at <= now``; a minute or hour bucket is
``(m - level, m]``. Postgres only: the embedded SQLite default counts request rows.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.db import connection

from ingest import latency
from ingest.events import Event

# What policies group and filter on, as stored on the request.
DIMENSIONS: tuple[str, ...] = (
    "source",
    "gateway_team_id",
    "gateway_team_alias",
    "key_alias",
    "model_group",
    "model",
    "provider",
    "deployment_id",
    "region",
    # The gateway's user owning the key (LiteLLM's internal user): one per key, so counting
    # per user adds no rows. Not the end user, of whom a gateway has as many as its customers.
    "user_id",
)
# Before ingest 0013 added the provider, deployment and region; before 0015 added the user.
DIMENSIONS_BEFORE_0013 = DIMENSIONS[:6]
DIMENSIONS_BEFORE_0015 = DIMENSIONS[:9]
# What is counted per bucket and combination of the dimensions.
COUNTS = ("finished", "failed_upstream", "failed_gateway", "failed_client")
# And what is summed: the cost (USD, as the gateway reports it) and tokens of the finished.
SUMS = ("cost", "total_tokens")
MEASURES = (*COUNTS, *SUMS)
# A delta also says which latency and first-token bins its requests are in (ingest/latency.py);
# folding turns the bins into counts of requests slower than each edge, latency.COUNTED.
BINS = tuple(histogram.bin_column for histogram in latency.HISTOGRAMS)
DELTA_KEYS = ("bucket", *DIMENSIONS, *BINS)
FAILED_CLASSES = ("upstream", "gateway", "client")
# Bucket sizes, in seconds, largest first, each a multiple of the next: a window is read as
# at most 9 (5, 23) buckets of each size (of 10 s and 10 min; of hours) at either edge, and
# whole days (UTC) in the middle.
LEVELS = (86400, 3600, 600, 60, 10, 1)
# How long each level's buckets are kept (docs/rollups.md): seconds and tens of seconds for
# the edges of recent windows, minutes for a month's spend with room to spare, hours and days
# for a year.
KEEP = {
    1: timedelta(hours=3),
    10: timedelta(hours=3),
    60: timedelta(days=45),
    600: timedelta(days=45),
    3600: timedelta(days=400),
    86400: timedelta(days=400),
}

REQUESTS = "ingest_gatewayrequest"
DELTAS = "ingest_requestdelta"
ROLLUPS = "ingest_requestrollup"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- windows as buckets ---------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The buckets of one level whose end lies in (after, until]."""

    level: int
    after: datetime
    until: datetime


def spans(start: datetime, end: datetime, levels: tuple[int, ...] = LEVELS) -> list[Span]:
    """The window (start, end], both whole seconds, as the fewest buckets: whole hours in the
    middle, whole minutes next to them, seconds at the edges. The spans are disjoint and their
    buckets cover the window exactly."""
    if start.microsecond or end.microsecond:
        raise ValueError("a window's edges are whole seconds")
    return list(_spans(start, end, levels)) if start < end else []


def _spans(start: datetime, end: datetime, levels: tuple[int, ...]) -> Iterator[Span]:
    level, smaller = levels[0], levels[1:]
    if not smaller:
        yield Span(level, start, end)
        return
    first = _ceil(start, level)  # the first boundary of this level at or after start
    last = floor_to(end, level)  # the last at or before end
    if first >= last:
        yield from _spans(start, end, smaller)
        return
    if start < first:
        yield from _spans(start, first, smaller)
    yield Span(level, first, last)
    if last < end:
        yield from _spans(last, end, smaller)


def finest_kept(oldest: datetime, now: datetime) -> int | None:
    """The smallest bucket size whose buckets are all still kept back to `oldest` (with an
    hour to spare for a prune run late): a read from then on may cut windows at its multiples
    only. None when even the days are gone."""
    for level in sorted(LEVELS):
        if oldest > now - KEEP[level] + timedelta(hours=1):
            return level
    return None


def _seconds(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def floor_to(moment: datetime, level: int) -> datetime:
    """The boundary of `level` seconds at or before `moment`."""
    return EPOCH + timedelta(seconds=_seconds(moment) // level * level)


def _ceil(moment: datetime, level: int) -> datetime:
    return EPOCH + timedelta(seconds=-(-_seconds(moment) // level) * level)


# --- capture -------------------------------------------------------------------------------
# The triggers are SQL of migrations ingest 0003 (merged rows: _aggregate_into_deltas over the
# new rows' contributions and the old rows' negated) and 0004 (each row inserted), frozen there.


def _bucket(column: str, level: str = "1") -> str:
    """The end of the bucket holding `column`: the boundary of `level` seconds at or after it
    (computed from the epoch, so that no time zone moves it)."""
    return f"to_timestamp(ceil(extract(epoch FROM {column}) / {level}) * {level})"


def _counted(sign: str = "") -> str:
    """What one request row adds to the counts (or, with sign "-", takes from them): the
    columns DIMENSIONS, BINS and MEASURES."""
    failed = ", ".join(
        f"{sign}(outcome = 'failure' AND failure_class = '{cls}')::int AS failed_{cls}"
        for cls in FAILED_CLASSES
    )
    binned = ", ".join(
        f"{histogram.bin_sql(histogram.seconds)} AS {histogram.bin_column}"
        for histogram in latency.HISTOGRAMS
    )
    summed = ", ".join(f"{sign}COALESCE({name}, 0) AS {name}" for name in SUMS)
    return f"{', '.join(DIMENSIONS)}, {binned}, {sign}1 AS finished, {failed}, {summed}"


def _contributions(rows: str, sign: str, condition: str = "true") -> str:
    return (
        f"SELECT {_bucket('finished_at')} AS bucket, {_counted(sign)} "
        f"FROM {rows} WHERE finished_at IS NOT NULL AND {condition}"
    )


def _aggregate_into_deltas(source: str) -> str:
    keys = ", ".join(DELTA_KEYS)
    sums = ", ".join(f"sum({m})" for m in MEASURES)
    nonzero = " OR ".join(f"sum({m}) <> 0" for m in MEASURES)
    return (
        f"INSERT INTO {DELTAS} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {keys}, {sums} FROM ({source}) AS changes GROUP BY {keys} HAVING {nonzero}"
    )


def counting_inserted(upsert: str) -> str:
    """`upsert` (an ``INSERT ... ON CONFLICT DO UPDATE`` into the requests, whose rows are
    marked ``counted_on_insert``) as one statement that also writes the deltas of the rows it
    inserted, aggregated. The rows it updated are the update trigger's; the mark tells them
    apart, as the upsert clears it on the rows it updates (store.py; ``xmax``, which would
    tell too, cannot be returned from a partitioned table)."""
    returned = ", ".join(
        (
            "counted_on_insert AS inserted",
            "finished_at",
            "outcome",
            "failure_class",
            *(histogram.seconds for histogram in latency.HISTOGRAMS),
            *SUMS,
        )
    )
    written = _contributions("written", "", "inserted")
    return (
        f"WITH written AS ({upsert} RETURNING {returned}, {', '.join(DIMENSIONS)}) "
        + _aggregate_into_deltas(written)
    )


def count_rows_sql(where: str) -> str:
    """The statement that writes the deltas of the request rows matching `where` (SQL with
    placeholders): for a bulk load that marked its rows ``counted_on_insert``."""
    return _aggregate_into_deltas(_contributions(REQUESTS, "", where))


_DELTA_COLUMNS = (*DELTA_KEYS, *MEASURES)
COPY_DELTAS = f"COPY {DELTAS} ({', '.join(_DELTA_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_DELTA_TYPES = [
    "timestamptz", *(["text"] * len(DIMENSIONS)), *(["int2"] * len(BINS)),
    *(["int8"] * len(COUNTS)), "float8", "int8",
]  # fmt: skip


def copy_deltas(cursor: psycopg.Cursor[Any], source: str, events: Iterable[Event]) -> None:
    """Write the deltas of requests just inserted by a COPY (which returns nothing; the rows it
    wrote are marked ``counted_on_insert``): one per bucket, combination of the dimensions and
    bins, COPY'd."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for event in events:
        finished = event.finished_at
        if finished is None:
            continue
        # The bucket as whole seconds since the epoch, as the SQL's ceil: exact (a float holds
        # today's microseconds; a fraction of one is never rounded away), and a third of the
        # cost of datetime arithmetic, which is paid per event.
        key = (
            math.ceil(finished.timestamp()),
            *_event_dimensions(event),
            latency.bin_of(event.latency_seconds),
            latency.FIRST_TOKEN.bin_of(event.time_to_first_token_seconds),
        )
        counted = sums.get(key)
        if counted is None:
            counted = sums[key] = [0, 0, 0, 0, 0.0, 0]
        counted[0] += 1
        if event.outcome == "failure" and event.failure_class in FAILED_CLASSES:
            counted[1 + FAILED_CLASSES.index(event.failure_class)] += 1
        counted[_COST] += event.cost or 0.0
        counted[_TOKENS] += event.total_tokens or 0
    if not sums:
        return
    with cursor.copy(COPY_DELTAS) as copy:
        copy.set_types(_DELTA_TYPES)
        for (bucket, *keys), counted in sums.items():
            copy.write_row((EPOCH + timedelta(seconds=bucket), source, *keys, *counted))


_event_dimensions = operator.attrgetter(*DIMENSIONS[1:])  # the source is the post's
_COST, _TOKENS = MEASURES.index("cost"), MEASURES.index("total_tokens")


# --- folding --------------------------------------------------------------------------------


def _slower(edges: Sequence[latency.Edge]) -> str:
    # Each count besides the requests' own, from the deltas' bins (Edge.of_deltas): the
    # requests slower than an edge, or that reported a first token. None: NULL, no room taken.
    return ", ".join(
        f"NULLIF(sum(finished) FILTER (WHERE {edge.of_deltas}), 0) AS {edge.column}"
        for edge in edges
    )


def _rolled_up(
    deltas: str,
    levels: tuple[int, ...],
    dimensions: Sequence[str] = DIMENSIONS,
    edges: Sequence[latency.Edge] = latency.COUNTED,
) -> str:
    """Rows shaped as deltas (`deltas`, a table or a parenthesized query) summed into the
    buckets of each of `levels`: the rollups' keys and columns."""
    return f"""
    SELECT level, rolled AS bucket, {", ".join(dimensions)},
        {", ".join(f"sum({m}) AS {m}" for m in MEASURES)}, {_slower(edges)}
    FROM (
        SELECT d.*, l.level, {_bucket("d.bucket", "l.level")} AS rolled
        FROM {deltas} AS d CROSS JOIN (VALUES {", ".join(f"({level})" for level in levels)})
            AS l (level)
    ) AS each_level
    GROUP BY level, rolled, {", ".join(dimensions)}"""


def _add_to_rollups(
    rolled: str,
    dimensions: Sequence[str] = DIMENSIONS,
    edges: Sequence[latency.Edge] = latency.COUNTED,
) -> str:
    """Adds the rows of `rolled` to the rollups, in key order (so that two writers never
    deadlock)."""
    keys = ", ".join(("level", "bucket", *dimensions))
    columns = [edge.column for edge in edges]
    rolled_columns = ", ".join((*MEASURES, *columns))
    added = ", ".join(
        f"{c} = NULLIF(COALESCE(r.{c}, 0) + COALESCE(EXCLUDED.{c}, 0), 0)" for c in columns
    )
    return f"""
    INSERT INTO {ROLLUPS} AS r ({keys}, {rolled_columns})
    SELECT {keys}, {rolled_columns} FROM {rolled} ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET
        {", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in MEASURES)},
        {added}"""


def fold_sql(
    dimensions: Sequence[str] = DIMENSIONS, edges: Sequence[latency.Edge] = latency.COUNTED
) -> str:
    """Takes a batch of deltas (rows another folder holds are skipped), adds them to each
    level, in key order, and says how many it took. (`dimensions` and `edges`: those of an
    earlier schema, for the tests of its migrations.)"""
    return f"""
WITH taken AS (
    DELETE FROM {DELTAS} WHERE id IN (
        SELECT id FROM {DELTAS} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
    ) RETURNING *
), levels AS ({_rolled_up("taken", LEVELS, dimensions, edges)}
), written AS ({_add_to_rollups("levels", dimensions, edges)}
)
SELECT count(*) FROM taken
"""


FOLD = fold_sql()


def count_rows_into_levels(
    cursor: Any, levels: tuple[int, ...], where: str, params: list[Any]
) -> None:
    """For a bulk load whose rows are marked ``counted_on_insert``: add the request rows
    matching `where` (SQL with placeholders for `params`) straight into the counts of
    `levels`, as writing their deltas and folding them would, without the deltas (folding a
    hundred million requests' deltas takes over an hour here). The rows are first summed per
    bucket of the finest of `levels` (each a multiple of it), group and latency bin: deltas of
    coarser buckets, cheap to sum, and fewer to turn into counts per edge, a level at a time."""
    keys = ", ".join(DELTA_KEYS)
    contributions = (
        f"SELECT {_bucket('finished_at', str(min(levels)))} AS bucket, {_counted()} "
        f"FROM {REQUESTS} WHERE finished_at IS NOT NULL AND ({where})"
    )
    cursor.execute("DROP TABLE IF EXISTS bulk_deltas")
    cursor.execute(
        f"CREATE TEMPORARY TABLE bulk_deltas AS SELECT {keys}, "
        f"{', '.join(f'sum({m}) AS {m}' for m in MEASURES)} "
        f"FROM ({contributions}) AS contributions GROUP BY {keys}",
        params,
    )
    for level in levels:
        cursor.execute(
            f"WITH levels AS ({_rolled_up('bulk_deltas', (level,))}) " + _add_to_rollups("levels")
        )
    cursor.execute("DROP TABLE bulk_deltas")


# Deltas taken by one fold: one transaction of a few hundred milliseconds at most.
FOLD_BATCH = 10_000


def fold(limit: int = FOLD_BATCH) -> int:
    """Move up to `limit` deltas into the rollups, in one statement (so one transaction);
    returns how many were taken. Rollup rows are written in key order, so two folders never
    deadlock."""
    with connection.cursor() as cursor:
        cursor.execute(FOLD, [limit])
        return int(cursor.fetchone()[0])


def reclaim_deltas() -> None:
    """VACUUM the deltas. They are a queue: each row is deleted seconds after it is written,
    and every evaluation reads what is there. Without a vacuum, the dead rows pile up and each
    read scans more: autovacuum may come late, or be off (on the development machine, three
    minutes of the soak run left 537,325 dead rows beside 3,300 live ones, 81 MB). Not within
    a transaction, where VACUUM cannot run.

    Without truncating the table's empty end: that takes an exclusive lock, and while VACUUM
    waits for it (up to 5 s) every insert of a delta (every ingest) and every read of the
    counts would queue behind it. The pages stay, empty, for the next deltas."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (TRUNCATE false) {DELTAS}")


def prune(now: datetime, batch: int = 10_000) -> int:
    """Delete the buckets older than their level is kept, a batch per transaction."""
    deleted = 0
    with connection.cursor() as cursor:
        for level, kept in KEEP.items():
            while True:
                cursor.execute(
                    f"DELETE FROM {ROLLUPS} WHERE id IN (SELECT id FROM {ROLLUPS} "
                    "WHERE level = %s AND bucket < %s LIMIT %s)",
                    [level, now - kept, batch],
                )
                deleted += cursor.rowcount
                if cursor.rowcount < batch:
                    break
    return deleted


# --- reading --------------------------------------------------------------------------------


def window_source(
    start: datetime,
    end: datetime,
    cuts: Sequence[datetime] = (),
    slower: Sequence[latency.Edge] = (),
    sums: bool = False,
    dimensions: Sequence[str] = DIMENSIONS,
) -> tuple[str, list[Any]]:
    """A subquery of the counts of requests finished in (start, end], with the columns
    ``bucket`` (the end of a count's bucket), DIMENSIONS, COUNTS (and SUMS, if asked for) and
    the counts kept besides them named in `slower` (requests slower than an edge: each
    ``Edge.column``, NULL for none): the rollups and the deltas not folded yet for its
    whole seconds, and for the fraction of a second after the last of them (when `end` is not a
    whole second), the request rows themselves. `start` is a whole second (docs/rollups.md);
    so are `cuts`, moments within the window that no bucket read may straddle (where shorter
    windows start). (`dimensions`: those of an earlier schema, for the tests of its
    migrations.)"""
    whole_end = end.replace(microsecond=0)
    edges = sorted({start, *(cut for cut in cuts if start < cut < whole_end), whole_end})
    conditions = []
    params: list[Any] = []
    for after, until in itertools.pairwise(edges):
        for span in spans(after, until):
            conditions.append("(level = %s AND bucket > %s AND bucket <= %s)")
            params += [span.level, span.after, span.until]
    summed = SUMS if sums else ()
    columns = ", ".join(("bucket", *dimensions, *COUNTS, *summed))
    names = [edge.column for edge in slower]
    rolled = ", ".join((columns, *names))
    rollups = f"SELECT {rolled} FROM {ROLLUPS} WHERE {' OR '.join(conditions) or 'false'}"
    binned = ", ".join(
        (columns, *(f"CASE WHEN {edge.of_deltas} THEN finished END" for edge in slower))
    )
    deltas = f"SELECT {binned} FROM {DELTAS} WHERE bucket > %s AND bucket <= %s"
    params += [start, whole_end]
    parts = [rollups, deltas]
    if end > whole_end:
        failed = ", ".join(
            f"(outcome = 'failure' AND failure_class = '{cls}')::int" for cls in FAILED_CLASSES
        )
        added = (f"COALESCE({name}, 0)" for name in summed)
        slow = (f"({edge.of_rows})::int" for edge in slower)
        counted = ", ".join((_bucket("finished_at"), *dimensions, "1", failed, *added, *slow))
        parts.append(
            f"SELECT {counted} FROM {REQUESTS} WHERE finished_at > %s AND finished_at <= %s"
        )
        params += [whole_end, end]
    return f"({' UNION ALL '.join(parts)})", params
