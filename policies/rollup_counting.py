"""Counting the policies of finished requests (failures, failure rate, slow) from the request
counts (ingest/rollups.py) rather than the request rows: the rows read are set by the groups in
the windows, not by their traffic. A slow policy's T is a latency edge (ingest/latency.py),
whose count of slower requests the counts keep.

One statement reads the counts once for every policy, as ``sharedscan`` reads the rows once:
the distinct window starts cut the widest window into segments, the counts of each segment are
summed per combination of what policies group and filter on (a few rows per group, whatever
the traffic), and each way of reading them (first segment, grouping, filters, failure
classes or latency edge) sums the segments from its own start on, once for the policies that
share it.

A window starts at the whole second at or before `now - Y` (over two hours: the whole minute;
``selection.window_start``), as ``counting.window_for`` starts it for a query of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest import latency, rollups
from policies import kinds
from policies.counting_query import fetch_counts
from policies.evaluation import Count
from policies.kinds import Measure
from policies.models import AlertPolicy, GroupBy
from policies.selection import (
    GROUP_EXPRESSIONS,
    LONG_WINDOW_SECONDS,
    failure_classes,
    filters_of,
    window_start,
)

# What the request counts answer; hung requests are counted from their own index.
MEASURES = (Measure.FAILED, Measure.FAILED_SHARE, Measure.SLOW, Measure.PERCENTILE)


def _kind(policy: AlertPolicy) -> kinds.Kind:
    return kinds.get(policy.kind)


def count_finished(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for each policy at `now`, in one statement: what a query of the
    rows gives for each of these policies."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    if not policies:
        return counts
    for policy in policies:
        if _kind(policy).measure not in MEASURES:
            raise ValueError(f"{policy.kind} policies are not counted from rollups")
    starts = sorted({window_start(policy, now) for policy in policies})
    slower = sorted({edge for policy in policies for edge in edges_of(policy)})
    sql, params = _segments(starts, now, slower)
    # Policies that read the same segments the same way (most often: the same window and
    # grouping, another threshold) share one read.
    reads: dict[Read, list[AlertPolicy]] = {}
    for policy in policies:
        read = Read(
            first_segment=starts.index(window_start(policy, now)),
            group_by=GroupBy(policy.group_by),
            filters=tuple(filters_of(policy)),
            classes=() if _kind(policy).counts_slower else tuple(failure_classes(policy)),
            slower=slow_edge(policy),
            spread=_kind(policy).min_failing_deployments > 0,
            critical_slower=critical_edge(policy),
            population=population_edge(policy),
        )
        reads.setdefault(read, []).append(policy)
    selects = []
    for number, read in enumerate(reads):
        select, select_params = _select(number, read)
        selects.append(select)
        params += select_params
    statement = f"WITH segments AS ({sql}) {' UNION ALL '.join(selects)}"
    by_number = list(reads.values())
    long = now - starts[0] > timedelta(seconds=LONG_WINDOW_SECONDS)
    for number, group, failed, finished, deployments, critical in fetch_counts(
        statement, params, long
    ):
        for policy in by_number[number]:
            # A failures policy counts its failed requests (a slow one, its slow ones); a rate
            # or a percentile, the finished and the failed (or slower) among them. Groups
            # whose counts net to nothing (a request moved to another team) are not shown, as
            # a query of the rows would not.
            shared = _kind(policy).out_of_finished
            total = int(finished) if shared else int(failed)
            if total > 0:
                counts[policy.pk][str(group or "")] = Count(
                    int(failed), total, int(deployments), int(critical)
                )
    return counts


@dataclass(frozen=True)
class Read:
    """What a policy reads of the segments."""

    first_segment: int
    group_by: GroupBy
    filters: tuple[tuple[str, tuple[Any, ...]], ...]
    classes: tuple[str, ...]
    slower: latency.Edge | None  # slow policies: the count of requests slower than their T
    spread: bool = False  # region outages: also how many deployments had failures
    critical_slower: latency.Edge | None = None  # percentiles: the count for their critical T
    # Percentiles of what not every request reports (the first token): the count of those
    # that did, their population. None: every finished request.
    population: latency.Edge | None = None


def slow_edge(policy: AlertPolicy) -> latency.Edge | None:
    """The T of a kind counting slower requests (slow, percentiles) as the count of requests
    slower than its edge; None for other kinds."""
    kind = _kind(policy)
    if not kind.counts_slower:
        return None
    return kind.histogram.edge(kind.histogram.index_of(policy.duration_seconds or 0))


def critical_edge(policy: AlertPolicy) -> latency.Edge | None:
    """A percentile's critical T as the count of requests slower than its edge; None for
    others."""
    kind = _kind(policy)
    if policy.critical_duration_seconds is None or not kind.counts_slower:
        return None
    return kind.histogram.edge(kind.histogram.index_of(policy.critical_duration_seconds))


def population_edge(policy: AlertPolicy) -> latency.Edge | None:
    """The count of the requests a percentile of the first token is taken over (those that
    reported one); None where every finished request is."""
    histogram = _kind(policy).histogram
    if not _kind(policy).out_of_finished or not histogram.reported:
        return None
    return histogram.reported_edge()


def edges_of(policy: AlertPolicy) -> list[latency.Edge]:
    """The counts besides the requests' own that counting this policy reads."""
    found = (slow_edge(policy), critical_edge(policy), population_edge(policy))
    return [edge for edge in found if edge is not None]


def population_sql(policy: AlertPolicy) -> str:
    """What a share's total is in a row of the counts: the finished requests, or those of
    them that reported a first token."""
    return _total_sql(population_edge(policy))


def _total_sql(population: latency.Edge | None) -> str:
    return "finished" if population is None else f"COALESCE({population.column}, 0)"


def _segments(
    starts: list[datetime], now: datetime, slower: list[latency.Edge]
) -> tuple[str, list[Any]]:
    """The counts of the window (starts[0], now], summed per segment `s` (finished after
    starts[s], and before the next start) and combination of the dimensions; with the counts
    of requests slower than the edges `slower`."""
    source, source_params = rollups.window_source(starts[0], now, starts[1:], slower)
    # Every count read lies in one segment (no bucket read straddles a start): the one whose
    # start is before the bucket's end, and whose next start is at or after it. The current
    # second's fraction falls in the last.
    rungs = " ".join(f"WHEN bucket <= %s THEN {s}" for s in range(len(starts) - 1))
    params = [*starts[1:], *source_params]  # in the order of their placeholders
    segment = f"CASE {rungs} ELSE {len(starts) - 1} END" if rungs else "0"
    measures = (*rollups.COUNTS, *(edge.column for edge in slower))
    sums = ", ".join(f"sum({measure}) AS {measure}" for measure in measures)
    dimensions = ", ".join(rollups.DIMENSIONS)
    sql = (
        f"SELECT {segment} AS s, {dimensions}, {sums} FROM {source} AS counts "
        f"GROUP BY 1, {dimensions}"
    )
    return sql, params


def matched_sql(classes: tuple[str, ...], slower: latency.Edge | None) -> str:
    """What a policy counts in a row of the counts: its failure classes' failed requests, or
    (a slow policy) those slower than its edge."""
    if slower is None:
        return " + ".join(f"failed_{cls}" for cls in classes)
    return f"COALESCE({slower.column}, 0)"  # none slower: NULL


def _select(number: int, read: Read) -> tuple[str, list[Any]]:
    failed = matched_sql(read.classes, read.slower)
    conditions = [f"s >= {read.first_segment}"]
    params: list[Any] = []
    for condition, condition_params in read.filters:
        conditions.append(condition)
        params += condition_params
    group = GROUP_EXPRESSIONS[read.group_by]
    where = " AND ".join(conditions)
    critical = "0"
    if read.critical_slower is not None:
        critical = f"sum({matched_sql((), read.critical_slower)})"
    if read.spread:
        # Summed per deployment first: a deployment counts once its failures in the whole
        # window add up to more than none (not per segment, where a moved request's minus
        # and plus may fall apart).
        per_deployment = (
            f"SELECT {group} AS g, deployment_id, sum({failed}) AS failed, "
            f"sum(finished) AS finished FROM segments WHERE {where} GROUP BY 1, 2"
        )
        sql = (
            f"(SELECT {number}, g, sum(failed), sum(finished), "
            f"count(*) FILTER (WHERE failed > 0), 0 FROM ({per_deployment}) AS d "
            "GROUP BY 2 HAVING sum(finished) > 0)"
        )
        return sql, params
    total = _total_sql(read.population)
    sql = (
        f"(SELECT {number}, {group}, sum({failed}), sum({total}), 0, {critical} FROM segments "
        f"WHERE {where} GROUP BY 2 HAVING sum({total}) > 0)"
    )
    return sql, params
