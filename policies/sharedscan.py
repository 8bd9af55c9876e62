"""Counting every policy from one pass over the requests.

Counted with one GROUP BY per policy, a request is read once for every policy whose window
holds it: with a hundred policies, the last minutes' requests are read a hundred times. Here
each request of the widest window is read once, and folded into a small table keyed by what
the policies whose windows hold it ask of it:

- ``w``: the segment of the window ladder it finished in. The distinct window starts cut
  the widest window into segments, and a policy reads the segments from its own start on;
- ``latency_bin``: how many of the slow policies' thresholds T it exceeds;
  ``first_token_bin``, for first-token percentiles: 0 if it reported no time to first token,
  else one more than the number of their T that time exceeds;
- its outcome and failure class, as stored;
- one 0/1 column per distinct filter (a team, a key alias, a model);
- its group under each ``group_by`` in use.

A segment keeps only what the policies reading it ask for (the others hold a blank), so the
old requests that only a wide "everything" policy reads fold into a handful of rows. Each
``group_by`` in use then sums that table down to its own groups, and each policy's counts
are sums over those. Hung requests get the same treatment over ``started_at``, with ``hl``
for which thresholds T they passed unfinished.

The result is exactly what the per-policy queries of ``counting.window_for`` count, in one
statement that Postgres and SQLite both run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingest import latency
from policies import kinds
from policies.kinds import Measure
from policies.models import AlertPolicy, GroupBy
from policies.selection import window_start

Condition = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Spec:
    """What one policy asks of the requests, as `counting` writes it."""

    policy: AlertPolicy
    filters: tuple[Condition, ...]
    failed: Condition  # which finished requests count as failed


@dataclass
class Statement:
    """SQL parts and their parameters, in the order their placeholders appear."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.parts.append(sql)
        self.params.extend(params)


@dataclass
class Output:
    """The statement being written: its common table expressions, and one SELECT per
    policy reading them."""

    now: datetime
    table: str
    ctes: Statement = field(default_factory=Statement)
    selects: Statement = field(default_factory=Statement)


@dataclass(frozen=True)
class Ladder:
    """Distinct cut points; a value's rung is how many of them it is above."""

    points: tuple[Any, ...]

    @classmethod
    def of(cls, points: Sequence[Any]) -> Ladder:
        return cls(tuple(sorted(set(points))))

    def case(self, column: str) -> Condition:
        whens = " ".join(
            f"WHEN {column} > %s THEN {rung}" for rung in range(len(self.points), 0, -1)
        )
        return (f"CASE {whens} ELSE 0 END" if whens else "0"), tuple(reversed(self.points))

    def rung(self, point: Any) -> int:
        """Values above `point` have at least this rung; None is above every rung."""
        return len(self.points) + 1 if point is None else self.points.index(point) + 1


@dataclass(frozen=True)
class Column:
    """A column of the first stage, computed where a policy reading the segment wants it."""

    name: str
    sql: str
    params: tuple[Any, ...]
    blank: str  # held instead where none does: '' or 0, of the column's type
    wanted: Callable[[Spec], bool]


@dataclass(frozen=True)
class Segment:
    """Rows whose ladder column is within (low, high], and the policies that read them."""

    rung: int
    low: Any
    high: Any
    specs: list[Spec]


def _kind(spec: Spec) -> kinds.Kind:
    return kinds.get(spec.policy.kind)


def _measure(spec: Spec) -> Measure:
    return _kind(spec).measure


def shared_sql(
    specs: Sequence[Spec], now: datetime, table: str, groups: dict[GroupBy, str]
) -> tuple[str, list[Any]]:
    """One statement whose rows are (policy id, group, matched, total, failing deployments,
    slower than a percentile's critical T), as `count_all` reads."""
    filters: dict[Condition, str] = {}
    for spec in specs:
        for condition in spec.filters:
            filters.setdefault(condition, f"f{len(filters)}")
    out = Output(now, table)
    finished = [spec for spec in specs if _measure(spec) is not Measure.HUNG]
    hung = [spec for spec in specs if _measure(spec) is Measure.HUNG]
    if finished:
        _finished(finished, _others(finished, groups, filters), out)
    if hung:
        _hung(hung, _others(hung, groups, filters), out)
    sql = f"WITH {', '.join(out.ctes.parts)} {' UNION ALL '.join(out.selects.parts)}"
    return sql, out.ctes.params + out.selects.params


@dataclass(frozen=True)
class Others:
    """The filter flags and group values the specs of one stage use."""

    flags: list[Column]
    flag_names: dict[Condition, str]
    dims: dict[GroupBy, Column | None]  # None for everything: no group column


def _others(
    specs: Sequence[Spec], groups: dict[GroupBy, str], filters: dict[Condition, str]
) -> Others:
    used = {condition for spec in specs for condition in spec.filters}
    flags = [
        Column(name, f"CASE WHEN {sql} THEN 1 ELSE 0 END", params, "0", _uses((sql, params)))
        for (sql, params), name in filters.items()
        if (sql, params) in used
    ]
    dims: dict[GroupBy, Column | None] = {}
    for dim in sorted({GroupBy(spec.policy.group_by) for spec in specs}):
        dims[dim] = None
        if dim != GroupBy.EVERYTHING:
            dims[dim] = Column(f"g_{dim.value}", groups[dim], (), "''", _groups_by(dim))
    return Others(flags, filters, dims)


def _uses(condition: Condition) -> Callable[[Spec], bool]:
    return lambda spec: condition in spec.filters


def _groups_by(dim: GroupBy) -> Callable[[Spec], bool]:
    return lambda spec: spec.policy.group_by == dim


def _stages(
    name: str,
    table: str,
    ladder_column: str,
    segments: list[Segment],
    keys: list[Column],
    others: Others,
    narrowing: Callable[[Segment], Condition | None],
    ctes: Statement,
) -> None:
    """The first stage, one SELECT per segment read by some policy, then one sum per
    group_by in use."""
    columns = keys + others.flags + [group for group in others.dims.values() if group]
    selects = Statement()
    for segment in segments:
        if not segment.specs:
            continue
        select, grouped = [f"{segment.rung} AS r"], []
        params: list[Any] = []
        for column in columns:
            if any(column.wanted(spec) for spec in segment.specs):
                select.append(f"{column.sql} AS {column.name}")
                params += column.params
                grouped.append(str(len(select)))
            else:
                select.append(f"{column.blank} AS {column.name}")
        where = f"{ladder_column} > %s AND {ladder_column} <= %s"
        params += [segment.low, segment.high]
        narrow = narrowing(segment)
        if narrow is not None:
            where += f" AND ({narrow[0]})"
            params += narrow[1]
        selects.add(
            f"SELECT {', '.join(select)}, COUNT(*) AS n FROM {table} WHERE {where} "
            f"GROUP BY {', '.join(grouped or ['1'])}",
            params,
        )
    ctes.add(f"{name} AS ({' UNION ALL '.join(selects.parts)})", selects.params)
    names = ["r", *(column.name for column in keys + others.flags)]
    for dim, group in others.dims.items():
        listed = ", ".join(names + ([group.name] if group else []))
        summed = f"SELECT {listed}, SUM(n) AS n FROM {name} GROUP BY {listed}"
        ctes.add(f"{name}_{dim.value} AS ({summed})")


def _finished(specs: Sequence[Spec], others: Others, out: Output) -> None:
    now, table, ctes, selects = out.now, out.table, out.ctes, out.selects

    def start(spec: Spec) -> datetime:
        return window_start(spec.policy, now)

    starts = Ladder.of([start(spec) for spec in specs])
    ends = [*starts.points[1:], now]
    segments = [
        Segment(rung, low, high, [spec for spec in specs if starts.rung(start(spec)) <= rung])
        for rung, (low, high) in enumerate(zip(starts.points, ends, strict=True), start=1)
    ]

    def reads(histogram: latency.Histogram) -> Callable[[Spec], bool]:
        """Whether a policy counts requests slower than a T of this histogram."""
        return lambda spec: _kind(spec).counts_slower and _kind(spec).histogram is histogram

    def durations(histogram: latency.Histogram) -> Ladder:
        return Ladder.of(
            [
                duration
                for policy in (spec.policy for spec in specs if reads(histogram)(spec))
                for duration in (policy.duration_seconds, policy.critical_duration_seconds)
                if duration is not None
            ]
        )

    ladders = {histogram: durations(histogram) for histogram in latency.HISTOGRAMS}

    def slow_column(histogram: latency.Histogram) -> Column:
        """How slow a request was, for the policies of this histogram: how many of their T it
        exceeds, counted from the histogram's first bin of a reported value."""
        case, params = ladders[histogram].case(histogram.seconds)
        if histogram.reported:
            case = f"CASE WHEN {histogram.seconds} IS NULL THEN 0 ELSE 1 + {case} END"
        return Column(histogram.bin_column, case, params, "0", reads(histogram))

    def slower_than(spec: Spec, duration: float | None) -> str:
        histogram = _kind(spec).histogram
        rung = histogram.offset + ladders[histogram].rung(duration)
        return f"{histogram.bin_column} >= {rung}"

    def counts_failed(spec: Spec) -> bool:
        return not _kind(spec).counts_slower

    def spreads(spec: Spec) -> bool:
        return _kind(spec).min_failing_deployments > 0

    def narrowing(segment: Segment) -> Condition | None:
        # Where only failures policies read, only their failed requests are kept.
        if any(_measure(spec) is not Measure.FAILED for spec in segment.specs):
            return None
        failed = list(dict.fromkeys(spec.failed for spec in segment.specs))
        values = tuple(itertools.chain.from_iterable(values for _, values in failed))
        return " OR ".join(f"({sql})" for sql, _ in failed), values

    keys = [
        *(slow_column(histogram) for histogram in latency.HISTOGRAMS),
        Column("outcome", "outcome", (), "''", counts_failed),
        Column("failure_class", "failure_class", (), "''", counts_failed),
        Column("dep", "deployment_id", (), "''", spreads),
    ]
    _stages("finished", table, "finished_at", segments, keys, others, narrowing, ctes)
    for spec in specs:
        policy = spec.policy
        conditions = [f"r >= {starts.rung(start(spec))}"]
        params: list[Any] = []
        matched, matched_params = "SUM(n)", ()
        measure = _measure(spec)
        if measure is Measure.FAILED:
            conditions.append(spec.failed[0])
            params += spec.failed[1]
        elif measure is Measure.SLOW:
            conditions.append(slower_than(spec, policy.duration_seconds))
        elif measure is Measure.FAILED_SHARE:  # every finished request, and the failed ones
            matched = f"SUM(CASE WHEN {spec.failed[0]} THEN n ELSE 0 END)"
            matched_params = spec.failed[1]
        elif measure is Measure.PERCENTILE:  # every finished request, and the slower than T
            slower = slower_than(spec, policy.duration_seconds)
            matched = f"SUM(CASE WHEN {slower} THEN n ELSE 0 END)"
            histogram = _kind(spec).histogram
            if histogram.reported:  # only the requests that reported a first token count
                conditions.append(f"{histogram.bin_column} >= {histogram.offset}")
        else:
            raise ValueError(f"{policy.kind} policies are not counted from request rows")
        conditions += [f"{others.flag_names[condition]} = 1" for condition in spec.filters]
        # Region outages: the deployments among its failed requests (the kind's filter keeps
        # those without one out).
        deployments = "COUNT(DISTINCT dep)" if spreads(spec) else "0"
        critical = "0"
        if measure is Measure.PERCENTILE and policy.critical_duration_seconds is not None:
            slower = slower_than(spec, policy.critical_duration_seconds)
            critical = f"SUM(CASE WHEN {slower} THEN n ELSE 0 END)"
        selects.add(
            _select(policy, "finished", matched, conditions, deployments, critical),
            [*matched_params, *params],
        )


def _hung(specs: Sequence[Spec], others: Others, out: Output) -> None:
    now, table, ctes, selects = out.now, out.table, out.ctes, out.selects

    def bounds(spec: Spec) -> tuple[datetime, datetime]:
        """A request hung within the window if its T-th second fell in it: it started
        within (now - Y - T, now - T]."""
        hang_after = timedelta(seconds=spec.policy.duration_seconds or 0)
        return now - timedelta(seconds=spec.policy.window_seconds) - hang_after, now - hang_after

    starts = Ladder.of([point for spec in specs for point in bounds(spec)])

    def rungs(spec: Spec) -> range:
        low, high = bounds(spec)
        return range(starts.rung(low), starts.rung(high))

    segments = [
        Segment(rung, low, high, [spec for spec in specs if rung in rungs(spec)])
        for rung, (low, high) in enumerate(itertools.pairwise(starts.points), start=1)
    ]
    durations = Ladder.of(
        [spec.policy.duration_seconds for spec in specs if spec.policy.duration_seconds is not None]
    )
    # Unfinished requests passed every T; finished ones, the T they took longer than.
    passed, passed_params = durations.case("latency_seconds")
    unfinished = len(durations.points) + 1
    hl = f"CASE WHEN finished_at IS NULL THEN {unfinished} ELSE {passed} END"

    def narrowing(segment: Segment) -> Condition:
        """Only what hung for the shortest T of the policies reading the segment."""
        known = [spec.policy.duration_seconds for spec in segment.specs]
        shortest = min((t for t in known if t is not None), default=None)
        if shortest is None:
            return "finished_at IS NULL", ()
        return "finished_at IS NULL OR latency_seconds > %s", (shortest,)

    keys = [Column("hl", hl, passed_params, "0", lambda spec: True)]
    _stages("hung", table, "started_at", segments, keys, others, narrowing, ctes)
    for spec in specs:
        span = rungs(spec)
        conditions = [
            f"r >= {span.start}",
            f"r < {span.stop}",
            f"hl >= {durations.rung(spec.policy.duration_seconds)}",
        ]
        conditions += [f"{others.flag_names[condition]} = 1" for condition in spec.filters]
        selects.add(_select(spec.policy, "hung", "SUM(n)", conditions))


def _select(
    policy: AlertPolicy,
    stage: str,
    matched: str,
    conditions: list[str],
    deployments: str = "0",
    critical: str = "0",
) -> str:
    dim = GroupBy(policy.group_by)
    group = "''" if dim == GroupBy.EVERYTHING else f"g_{dim.value}"
    return (
        f"SELECT {int(policy.pk)}, {group}, {matched}, SUM(n), {deployments}, {critical} "
        f"FROM {stage}_{dim.value} "
        f"WHERE {' AND '.join(conditions)} GROUP BY 2"
    )
