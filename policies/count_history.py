"""An incident's count over time, as the evaluator saw it: for its incident page's chart.

The count at a moment is what the policy counts in the window ending then (policies.counting).
Recounting every moment would be one query per point; instead one query reads the group's
counts once for the whole span and each moment sums those of its window. The span is bounded:
at most MAX_POINTS moments, whatever the incident's age.

On Postgres the counts are the request counts (ingest/rollups.py), so that a chart costs the
same at ten requests a second or ten thousand: the moments are whole seconds (whole minutes or
hours for a span older than the seconds are kept, `rollups.finest_kept`), and each moment's
window is the evaluator's (`selection.window_start`); hung requests are read through their own
indexes (`hung_counting.hung_requests`). Where a window's start is finer than the counts kept
for its time (a 90-second window of an incident older than three hours), and on the embedded
SQLite database, the group's request rows are counted per step instead.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from django.db import connection
from django.utils import timezone

from ingest import rollups
from policies import hung_counting, kinds, rollup_counting
from policies.counting import TABLE, window_for
from policies.evaluation import Count
from policies.kinds import Measure
from policies.models import AlertPolicy, GroupBy, Incident
from policies.selection import GROUP_EXPRESSIONS, failure_classes, filters_of, window_start

MAX_POINTS = 60
MAX_STEPS_PER_WINDOW = 12
# The thresholds the incident opened with: its chart compares with those, not with a later edit.
SNAPSHOT_FIELDS = (
    "kind", "threshold", "window_seconds", "duration_seconds", "failure_rate_percent",
    "min_requests", "group_by",
)  # fmt: skip


@dataclass(frozen=True)
class Span:
    """The moments charted: `points` of them, `step` apart, the last at `end`; a window is
    `per_window` steps."""

    end: datetime
    step: timedelta
    points: int
    per_window: int

    @property
    def first(self) -> datetime:
        return self.end - (self.points - 1) * self.step

    def moment(self, index: int) -> datetime:
        return self.first + index * self.step


def span_for(
    window_seconds: float, opened: datetime, end: datetime, grid: int | None = None
) -> Span:
    """From one window before the incident opened (the rise) to `end`; finer steps for a short
    incident, one step a window for a long one, of which only the last MAX_POINTS are kept.
    With a `grid` (seconds), the end and the steps are whole multiples of it."""
    window = timedelta(seconds=window_seconds)
    length = max(end - (opened - window), window)
    per_window = max(1, min(MAX_STEPS_PER_WINDOW, int(MAX_POINTS * window / length)))
    step = window / per_window
    if grid:
        unit = timedelta(seconds=grid)
        end = rollups.floor_to(end, grid)
        step = max(1, math.ceil(step / unit)) * unit
        per_window = max(1, round(window / step))
    points = min(MAX_POINTS, math.ceil(length / step) + 1)
    return Span(end, step, points, per_window)


@dataclass(frozen=True)
class History:
    span: Span
    counts: list[Count]  # one per moment of the span
    policy: AlertPolicy  # as it was when the incident opened (thresholds from its snapshot)


def as_opened(incident: Incident) -> AlertPolicy:
    """The incident's policy with the thresholds it had when the incident opened."""
    policy = copy.copy(incident.policy)
    snapshot = incident.policy_snapshot or {}
    for name in SNAPSHOT_FIELDS:
        if name in snapshot:
            setattr(policy, name, snapshot[name])
    return policy


def count_history(incident: Incident, end: datetime, now: datetime | None = None) -> History:
    policy = as_opened(incident)
    if connection.vendor == "postgresql":
        history = _from_counts(policy, incident, end, now or timezone.now())
        if history is not None:
            return history
    span = span_for(policy.window_seconds, incident.detected_at, end)
    buckets = bucket_counts(policy, incident.group_key, span)
    counts = [
        Count(
            sum(c.matched for c in buckets[i : i + span.per_window]),
            sum(c.total for c in buckets[i : i + span.per_window]),
        )
        for i in range(span.points)
    ]
    return History(span, counts, policy)


def _from_counts(
    policy: AlertPolicy, incident: Incident, end: datetime, now: datetime
) -> History | None:
    window = timedelta(seconds=policy.window_seconds)
    rough = span_for(policy.window_seconds, incident.detected_at, end)
    grid = rollups.finest_kept(rough.first - window, now)
    if grid is None:
        return None
    span = span_for(policy.window_seconds, incident.detected_at, end, grid)
    moments = [span.moment(i) for i in range(span.points)]
    if kinds.get(policy.kind).measure is Measure.HUNG:
        counts = _hung_history(policy, incident.group_key, moments, now)
    else:
        starts = [window_start(policy, moment) for moment in moments]
        kept = rollups.finest_kept(starts[0], now)
        if kept is None or any(rollups.floor_to(start, kept) != start for start in starts):
            return None  # a window's edge finer than the counts kept for its time
        cuts = sorted({*starts, *moments})
        ends, matched, total = _finished_per_bucket(policy, incident.group_key, cuts)
        counts = [_summed(ends, matched, total, s, m) for s, m in zip(starts, moments, strict=True)]
    return History(span, counts, policy)


def _finished_per_bucket(
    policy: AlertPolicy, group: str, cuts: list[datetime]
) -> tuple[list[datetime], list[int], list[int]]:
    """The group's counts per bucket of the request counts (by the bucket's end) from the first
    cut to the last; no bucket straddles a cut. With the running sums of each count."""
    edge = rollup_counting.slow_edge(policy)
    slower = rollup_counting.edges_of(policy)
    source, params = rollups.window_source(cuts[0], cuts[-1], cuts[1:-1], slower)
    matched = rollup_counting.matched_sql(tuple(failure_classes(policy)), edge)
    out_of_finished = kinds.get(policy.kind).out_of_finished
    total = rollup_counting.population_sql(policy) if out_of_finished else matched
    conditions = [f"{GROUP_EXPRESSIONS[GroupBy(policy.group_by)]} = %s"]
    params.append(group)
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    # Only our own SQL fragments are spliced in; every value is a bound parameter.
    sql = (
        f"SELECT bucket, sum({matched}), sum({total}) FROM {source} AS counts "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} GROUP BY bucket ORDER BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    ends = [bucket for bucket, _, _ in rows]
    return (
        ends,
        [0, *accumulate(int(n or 0) for _, n, _ in rows)],
        [0, *accumulate(int(n or 0) for _, _, n in rows)],
    )


def _summed(
    ends: list[datetime], matched: list[int], total: list[int], start: datetime, end: datetime
) -> Count:
    """The sum of the buckets ending within (start, end], from the running sums."""
    first, last = bisect_right(ends, start), bisect_right(ends, end)
    return Count(matched[last] - matched[first], total[last] - total[first])


def _hung_history(
    policy: AlertPolicy, group: str, moments: list[datetime], now: datetime
) -> list[Count]:
    """At each moment, the group's requests started within (moment - Y - T, moment - T] that
    hung: read once for the whole span through the indexes of the requests that can hang."""
    hang_after = timedelta(seconds=policy.duration_seconds or 0)
    window = timedelta(seconds=policy.window_seconds)
    group_sql = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    hung, params = hung_counting.hung_requests(
        policy, moments[0] - window - hang_after, moments[-1] - hang_after, now,
        f"started_at, {group_sql} AS g",
    )  # fmt: skip
    # Only our own SQL fragments are spliced in; every value is a bound parameter.
    sql = f"SELECT started_at, count(*) FROM ({hung}) AS hung WHERE g = %s GROUP BY 1 ORDER BY 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, group])
        rows = cursor.fetchall()
    starts = [start for start, _ in rows]
    running = [0, *accumulate(int(n) for _, n in rows)]
    counts = []
    for moment in moments:
        first = bisect_right(starts, moment - window - hang_after)
        last = bisect_right(starts, moment - hang_after)
        n = running[last] - running[first]
        counts.append(Count(n, n))
    return counts


def bucket_counts(policy: AlertPolicy, group: str, span: Span) -> list[Count]:
    """The group's counted requests per step, from one window before the first moment to the
    last: bucket j holds those of (origin + j step, origin + (j + 1) step], as a window holds
    those of (end - window, end]. One query."""
    buckets = span.points - 1 + span.per_window
    origin = span.first - span.per_window * span.step
    wide = copy.copy(policy)
    wide.window_seconds = (span.end - origin).total_seconds()
    window = window_for(wide, span.end)
    column = "finished_at"
    if kinds.get(policy.kind).measure is Measure.HUNG:
        # A request counts in the window its T-th second falls in: bucketed by its start, T
        # earlier (as counting.window_for selects it).
        column = "started_at"
        origin -= timedelta(seconds=policy.duration_seconds or 0)
    index, index_params = _bucket_index(column, origin, span.step.total_seconds())
    # failure_rate counts every finished request, and among them the failed ones.
    matched_params = list(window.matched_params) if window.matched else []
    matched_sql = (
        f"SUM(CASE WHEN {window.matched} THEN 1 ELSE 0 END)" if window.matched else "COUNT(*)"
    )
    group_sql = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    # Only our own SQL fragments are spliced in; every value is a bound parameter.
    sql = (
        f"SELECT {index} AS bucket, {matched_sql}, COUNT(*) FROM {TABLE} "  # noqa: S608
        f"WHERE {window.where} AND {group_sql} = %s GROUP BY bucket"
    )
    params = [*index_params, *matched_params, *window.params, group]
    counts = [Count(0, 0)] * buckets
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for bucket, hits, total in cursor.fetchall():
            if bucket is not None and 0 <= int(bucket) < buckets:
                counts[int(bucket)] = Count(int(hits or 0), int(total or 0))
    return counts


def _bucket_index(column: str, origin: datetime, step: float) -> tuple[str, list[object]]:
    """SQL for ceil((column - origin) / step) - 1: which half-open (…] bucket a row is in."""
    if connection.vendor == "postgresql":
        return f"(CEIL(EXTRACT(EPOCH FROM ({column} - %s)) / %s)::int - 1)", [origin, step]
    # SQLite: no CEIL before 3.35; a whole quotient belongs to the bucket below. julianday's
    # float is off by microseconds: rounded, a request on a bucket's edge stays in it.
    x = f"ROUND((julianday({column}) - julianday(%s)) * 86400.0 / %s, 4)"
    return f"(CAST({x} AS INTEGER) - ({x} = CAST({x} AS INTEGER)))", [origin, step] * 3
