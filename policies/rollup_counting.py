"""Counting the policies of finished requests (failures, failure rate) from the request counts
(ingest/rollups.py) rather than the request rows: the rows read are set by the groups in the
windows, not by their traffic.

One statement reads the counts once for every policy, as ``sharedscan`` reads the rows once:
the distinct window starts cut the widest window into segments, the counts of each segment are
summed per combination of what policies group and filter on (a few rows per group, whatever
the traffic), and each policy sums the segments from its own start on.

A window starts at the whole second at or before `now - Y` (``selection.window_start``), as
``counting.window_for`` starts it for a query of the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection

from ingest import rollups
from policies.evaluation import Count
from policies.models import AlertPolicy, GroupBy, PolicyKind
from policies.selection import GROUP_EXPRESSIONS, failure_classes, filters_of, window_start

KINDS = (PolicyKind.FAILURES, PolicyKind.FAILURE_RATE)


def count_finished(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for each policy at `now`, in one statement: what a query of the
    rows gives for each of these policies."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    if not policies:
        return counts
    for policy in policies:
        if policy.kind not in KINDS:
            raise ValueError(f"{policy.kind} policies are not counted from rollups yet")
    starts = sorted({window_start(policy, now) for policy in policies})
    sql, params = _segments(starts, now)
    selects = []
    for policy in policies:
        select, select_params = _select(policy, starts.index(window_start(policy, now)))
        selects.append(select)
        params += select_params
    with connection.cursor() as cursor:
        cursor.execute(f"WITH segments AS ({sql}) {' UNION ALL '.join(selects)}", params)
        for policy_id, group, matched, total in cursor.fetchall():
            counts[policy_id][str(group or "")] = Count(int(matched), int(total))
    return counts


def _segments(starts: list[datetime], now: datetime) -> tuple[str, list[Any]]:
    """The counts of the window (starts[0], now], summed per segment `s` (finished after
    starts[s], and before the next start) and combination of the dimensions."""
    source, source_params = rollups.window_source(starts[0], now, cuts=starts[1:])
    # Every count read lies in one segment (no bucket read straddles a start): the one whose
    # start is before the bucket's end, and whose next start is at or after it. The current
    # second's fraction falls in the last.
    rungs = " ".join(f"WHEN bucket <= %s THEN {s}" for s in range(len(starts) - 1))
    params = [*starts[1:], *source_params]  # in the order of their placeholders
    segment = f"CASE {rungs} ELSE {len(starts) - 1} END" if rungs else "0"
    sums = ", ".join(f"sum({measure}) AS {measure}" for measure in rollups.MEASURES)
    dimensions = ", ".join(rollups.DIMENSIONS)
    sql = (
        f"SELECT {segment} AS s, {dimensions}, {sums} FROM {source} AS counts "
        f"GROUP BY 1, {dimensions}"
    )
    return sql, params


def _select(policy: AlertPolicy, first_segment: int) -> tuple[str, list[Any]]:
    failed = " + ".join(f"failed_{cls}" for cls in failure_classes(policy))
    # A failures policy counts its failed requests; a rate, the finished and the failed among
    # them. Groups whose counts net to nothing (a request moved to another team) are not shown,
    # as a query of the rows would not show them.
    total = f"sum({failed})" if policy.kind == PolicyKind.FAILURES else "sum(finished)"
    conditions = [f"s >= {first_segment}"]
    params: list[Any] = []
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    sql = (
        f"(SELECT {int(policy.pk)}, {group}, sum({failed}), {total} FROM segments "
        f"WHERE {' AND '.join(conditions)} GROUP BY 2 HAVING {total} > 0)"
    )
    return sql, params
