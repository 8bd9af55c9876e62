"""Counting too-little-traffic policies: each expected group's successful requests within the
window, and its successful requests of the baseline (the last day), whose number tells
whether it is expected (policies/kinds/too_little_traffic.py). On Postgres from the request
counts, the window's start a cut in the baseline's read; on the embedded SQLite from the rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from ingest import rollups
from policies.counting_query import fetch_counts
from policies.evaluation import Count
from policies.kinds.too_little_traffic import BASELINE_SECONDS
from policies.models import AlertPolicy, GroupBy
from policies.selection import GROUP_EXPRESSIONS, filters_of, window_start

SUCCEEDED = "finished - failed_upstream - failed_gateway - failed_client"


def baseline_start(now: datetime) -> datetime:
    """Where the baseline begins: a day before, on the whole minute (what the counts keep)."""
    return (now - timedelta(seconds=BASELINE_SECONDS)).replace(second=0, microsecond=0)


def count_traffic(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Each policy's expected groups at `now`: Count(successes in the window, successes in
    the baseline, at least 1 where a policy of everything always expects its one group)."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    if not policies:
        return counts
    start = baseline_start(now)
    params: list[Any] = []
    postgres = connection.vendor == "postgresql"
    if postgres:
        cuts = sorted({window_start(policy, now) for policy in policies})
        source, source_params = rollups.window_source(start, now, cuts)
        params += source_params
        succeeded, bucket = SUCCEEDED, "bucket"
    else:
        source = f"(SELECT * FROM {rollups.REQUESTS} WHERE finished_at > %s AND finished_at <= %s)"  # noqa: S608
        params += [start, now]
        succeeded, bucket = "CASE WHEN outcome = 'success' THEN 1 ELSE 0 END", "finished_at"
    selects = []
    for policy in policies:
        # A count in the window: its bucket ends after the window's start (the start is a cut:
        # no bucket read straddles it).
        in_window = f"CASE WHEN {bucket} > %s THEN {succeeded} ELSE 0 END"
        params.append(window_start(policy, now))
        conditions: list[str] = []
        for condition, condition_params in filters_of(policy):
            conditions.append(condition)
            params += condition_params
        group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
        selects.append(
            f"SELECT {int(policy.pk)}, {group}, SUM({in_window}), SUM({succeeded}) "  # noqa: S608
            f"FROM w WHERE {' AND '.join(conditions) or '1 = 1'} GROUP BY 2"
        )
    statement = f"WITH w AS {source} {' UNION ALL '.join(selects)}"
    for policy_id, group, in_window, baseline in fetch_counts(statement, params, long=postgres):
        counts[policy_id][str(group or "")] = Count(int(in_window or 0), int(baseline or 0))
    for policy in policies:
        groups = counts[policy.pk]
        for group, count in list(groups.items()):
            if count.total < max(1, policy.min_requests):
                del groups[group]  # too little traffic before to be expected
        if policy.group_by == GroupBy.EVERYTHING:
            found = groups.get("", Count(0, 0))
            groups[""] = Count(found.matched, max(found.total, 1))
    return counts
