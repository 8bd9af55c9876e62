"""An incident's count over time, as the evaluator saw it: for its incident page's chart.

The count at a moment is what the policy counts in the window ending then (policies.counting).
Recounting every moment would be one query per point; instead one query counts the group's
requests per short bucket (a whole fraction of the window), and the count at each moment is
the sum of the buckets its window covers. The span is bounded: at most MAX_POINTS moments,
so at most MAX_POINTS windows of requests are read, whatever the incident's age.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from policies.counting import TABLE, window_for
from policies.evaluation import Count
from policies.models import AlertPolicy, GroupBy, Incident, PolicyKind
from policies.selection import GROUP_EXPRESSIONS

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


def span_for(window_seconds: float, opened: datetime, end: datetime) -> Span:
    """From one window before the incident opened (the rise) to `end`; finer steps for a short
    incident, one step a window for a long one, of which only the last MAX_POINTS are kept."""
    window = timedelta(seconds=window_seconds)
    length = max(end - (opened - window), window)
    per_window = max(1, min(MAX_STEPS_PER_WINDOW, int(MAX_POINTS * window / length)))
    step = window / per_window
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


def count_history(incident: Incident, end: datetime) -> History:
    policy = as_opened(incident)
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
    if policy.kind == PolicyKind.HUNG:
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
