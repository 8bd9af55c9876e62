"""Counting the policies of finished requests (failures, failure rate) from the request counts
(ingest/rollups.py) rather than the request rows: the rows read are set by the groups in each
window, not by its traffic.

Issue 13, step 2 (docs/rollups.md): a window starts at the whole second at or before
`now - Y` (the edge rule), and is exact: tested against a query of the rows with the same rule,
and against ``counting.window_for``'s at whole-second moments, where the two rules agree.
Evaluation does not call it yet: slow and hung policies need latency counts the rollups do not
keep yet, and the per-request query must take the same rule first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from ingest import rollups
from policies.counting import GROUP_EXPRESSIONS, failure_classes, filters_of
from policies.evaluation import Count
from policies.models import AlertPolicy, GroupBy, PolicyKind

KINDS = (PolicyKind.FAILURES, PolicyKind.FAILURE_RATE)


def count_finished(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for each policy at `now`, in one statement: what
    ``counting.count_all`` gives for these policies, over windows starting at the whole second
    at or before `now - Y`."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    if not policies:
        return counts
    selects: list[str] = []
    params: list[Any] = []
    for policy in policies:
        sql, policy_params = _select(policy, now)
        selects.append(sql)
        params += policy_params
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for policy_id, group, matched, total in cursor.fetchall():
            counts[policy_id][str(group or "")] = Count(int(matched), int(total))
    return counts


def window_start(policy: AlertPolicy, now: datetime) -> datetime:
    """The edge rule: the whole second at or before `now - Y`."""
    return (now - timedelta(seconds=policy.window_seconds)).replace(microsecond=0)


def _select(policy: AlertPolicy, now: datetime) -> tuple[str, list[Any]]:
    if policy.kind not in KINDS:
        raise ValueError(f"{policy.kind} policies are not counted from rollups yet")
    source, params = rollups.window_source(window_start(policy, now), now)
    failed = " + ".join(f"failed_{cls}" for cls in failure_classes(policy))
    # A failures policy counts its failed requests; a rate, the finished and the failed among
    # them. Groups whose counts net to nothing (a request moved to another team) are not shown,
    # as a query of the rows would not show them.
    total = f"sum({failed})" if policy.kind == PolicyKind.FAILURES else "sum(finished)"
    conditions = ["true"]
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    sql = (
        f"(SELECT {int(policy.pk)}, {group}, sum({failed}), {total} FROM {source} AS r "
        f"WHERE {' AND '.join(conditions)} GROUP BY 2 HAVING {total} > 0)"
    )
    return sql, params
