"""What each budget policy's groups spent in their period so far: the cost or tokens of the
requests that finished within (period start, now]. On Postgres from the request counts (a
month is read as a few hundred rows per group, whatever its traffic: docs/rollups.md); on the
embedded SQLite from the request rows. Policies whose periods start together share one read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from ingest import rollups
from policies import budget
from policies.counting_query import fetch_counts
from policies.models import AlertPolicy, GroupBy
from policies.selection import GROUP_EXPRESSIONS, LONG_WINDOW_SECONDS, filters_of, window_start

COLUMNS = {"usd": "cost", "tokens": "total_tokens"}
# Sums are kept to 12 significant digits: the order a database adds floats in must not decide
# whether 85 % was reached (a mock request's cost is $0.0000135: no fixed number of decimals
# suits every budget).
DIGITS = 12


def period_of(policy: AlertPolicy, now: datetime) -> budget.Period:
    period = budget.period_at(
        policy.budget_period or "month",
        policy.budget_time_zone or "UTC",
        now,
        policy.window_seconds,
    )
    if period.end is None:  # a rolling window starts as other windows do
        return budget.Period(window_start(policy, now), None, period.name)
    return period


def spend_all(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, float]]:
    """Every group's spend for each budget policy at `now`, in one statement."""
    spent: dict[int, dict[str, float]] = {policy.pk: {} for policy in policies}
    if not policies:
        return spent
    starts = sorted({period_of(policy, now).start for policy in policies})
    sources: list[str] = []
    params: list[Any] = []
    if connection.vendor == "postgresql":
        for number, start in enumerate(starts):
            source, source_params = rollups.window_source(start, now, sums=True)
            sources.append(f"w{number} AS {source}")
            params += source_params
    selects = []
    for policy in policies:
        number = starts.index(period_of(policy, now).start)
        select, select_params = _select(policy, number, starts[number], now)
        selects.append(select)
        params += select_params
    statement = " UNION ALL ".join(selects)
    if sources:
        statement = f"WITH {', '.join(sources)} {statement}"
    long = now - starts[0] > timedelta(seconds=LONG_WINDOW_SECONDS)
    for policy_id, group, total in fetch_counts(statement, params, long):
        if total:
            spent[policy_id][str(group or "")] = float(f"{float(total):.{DIGITS}g}")
    return spent


def _select(
    policy: AlertPolicy, number: int, start: datetime, now: datetime
) -> tuple[str, list[Any]]:
    column = COLUMNS[policy.budget_unit or "usd"]
    conditions: list[str] = []
    params: list[Any] = []
    source = f"w{number}"
    if connection.vendor != "postgresql":
        source = rollups.REQUESTS
        conditions.append("finished_at > %s AND finished_at <= %s")
        params += [start, now]
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
    where = " AND ".join(conditions) or "true"
    sql = (
        f"SELECT {int(policy.pk)}, {group}, SUM({column}) FROM {source} WHERE {where} "  # noqa: S608
        "GROUP BY 2"
    )
    return f"SELECT * FROM ({sql}) AS s{policy.pk}", params  # noqa: S608
