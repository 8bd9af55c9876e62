"""Counting hung policies on Postgres from the few requests that can be hung, not from every
request of the window.

A hung policy counts the requests started within (now - Y - T, now - T] that had not finished
T seconds later: still unfinished, or finished slower than T. Both are read from an index of
their own, so the rows read are the hung requests themselves (and those still running),
whatever the traffic:

- unfinished: the partial index of unfinished requests (``request_unfinished``);
- finished slower than T: the index of requests by latency bin and start
  (``request_late_by_start``, ingest migration 0006). T is a latency edge
  (ingest/latency.py), so "slower than T" is "in a bin above T's"; one index search per bin
  above it, each over the window's starts only.

One statement for all hung policies (a UNION ALL of each one's two reads). Each reads only the
day partitions from its window's first day to today (ingest/partitions.py): a request's day is
never before its start's (it is its start's, or its finish's when the start came later) nor
after the day it arrived, give or take the gateways' clocks, for which a day is allowed; the
partitions made ahead of time are not searched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ingest import latency, partitions, rollups
from policies import kinds
from policies.counting_query import fetch_counts
from policies.evaluation import Count
from policies.kinds import Measure
from policies.models import AlertPolicy, GroupBy
from policies.selection import GROUP_EXPRESSIONS, filters_of

REQUESTS = rollups.REQUESTS
# The index's expression, as the migration wrote it: the planner uses the index only for
# this very expression.
LATE_BIN = latency.bin_sql("latency_seconds")
CLOCKS = timedelta(days=1)


def count_hung(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for each hung policy at `now`: what ``counting.window_for``'s query
    of the rows counts."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    selects: list[str] = []
    params: list[Any] = []
    for policy in policies:
        if kinds.get(policy.kind).measure is not Measure.HUNG:
            raise ValueError(f"{policy.kind} policies are not hung policies")
        select, select_params = _select(policy, now)
        selects.append(select)
        params += select_params
    if not selects:
        return counts
    for policy_id, group, n in fetch_counts(" UNION ALL ".join(selects), params):
        counts[policy_id][str(group or "")] = Count(int(n), int(n))
    return counts


def _select(policy: AlertPolicy, now: datetime) -> tuple[str, list[Any]]:
    hang_after = timedelta(seconds=policy.duration_seconds or 0)
    start = now - timedelta(seconds=policy.window_seconds) - hang_after
    group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    hung, params = hung_requests(policy, start, now - hang_after, now, f"{group} AS g")
    return f"(SELECT {policy.pk}, g, count(*) FROM ({hung}) AS hung GROUP BY g)", params


def hung_requests(
    policy: AlertPolicy, start: datetime, until: datetime, now: datetime, columns: str
) -> tuple[str, list[Any]]:
    """The `columns` of the requests the hung `policy` counts that started within
    (start, until]: still unfinished, or finished slower than its T; read through their two
    indexes, in the day partitions that can hold them (from the start's day, give or take the
    clocks, to `now`'s: the partitions made ahead of time hold nothing yet)."""
    conditions = ["started_at > %s", "started_at <= %s", "day >= %s", "day <= %s"]
    params: list[Any] = [
        start, until, partitions.day_of(start) - CLOCKS, partitions.day_of(now) + CLOCKS,
    ]  # fmt: skip
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    where = " AND ".join(conditions)
    edge = latency.index_of(policy.duration_seconds or 0)
    # Slower than EDGES[edge]: a bin above it (and the latency itself, which the index's
    # predicate needs to see, and which says the same).
    bins = ", ".join(str(b) for b in range(edge + 1, len(latency.EDGES) + 1))
    sql = (
        f"SELECT {columns} FROM {REQUESTS} WHERE finished_at IS NULL AND {where} "
        f"UNION ALL SELECT {columns} FROM {REQUESTS} WHERE {LATE_BIN} IN ({bins}) "
        f"AND latency_seconds > %s AND finished_at IS NOT NULL AND {where}"
    )
    return sql, [*params, float(latency.EDGES[edge]), *params]
