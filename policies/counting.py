"""The database side of evaluation: one query counts every group of every policy at once.

Plain SQL that Postgres and the embedded SQLite both run. `window_for` says what each
policy counts, as the WHERE clause of a query of its own (which `details_for` runs);
`count_rows` gets the same counts for all policies from one pass over the requests
(`sharedscan`), which is how the embedded SQLite counts. On Postgres, `count_all` counts
exactly as these queries do without reading every request of the windows: the policies of
finished requests from the request counts (`rollup_counting`), hung ones from the requests
that can be hung (`hung_counting`). Each kind reads one window:
- failures and failure_rate: requests that finished within (S, now], where S is the whole
  second at or before now - Y (the whole minute for windows over two hours:
  ``selection.window_start``);
- slow: requests that finished within the same window and took longer than T;
- hung: requests whose T-th second fell within the window while they were still running,
  that is started within (now - Y - T, now - T] and finished late or not at all. A request
  that hung and finished later still counts in the windows that saw it hang, as LiteLLM counts
  a hang when it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

from ingest.models import GatewayRequest
from policies import hung_counting, kinds, rollup_counting, team_key, traffic_counting
from policies.counting_query import fetch_counts
from policies.evaluation import Count
from policies.kinds import Measure
from policies.models import AlertPolicy, GroupBy
from policies.selection import GROUP_EXPRESSIONS, failed_of, filters_of, window_start
from policies.sharedscan import Spec, shared_sql

TABLE = GatewayRequest._meta.db_table


@dataclass(frozen=True)
class Window:
    """The WHERE clause selecting what a policy counts (and its parameters)."""

    where: str
    params: list[Any]
    # failure_rate only: which of the window's rows count as failed.
    matched: str = ""
    matched_params: tuple[Any, ...] = ()


def window_for(policy: AlertPolicy, now: datetime) -> Window:
    conditions: list[str] = []
    params: list[Any] = []
    matched: str = ""
    matched_params: tuple[Any, ...] = ()
    measure = kinds.get(policy.kind).measure
    if measure is Measure.HUNG:
        hang_after = timedelta(seconds=policy.duration_seconds or 0)
        start = now - timedelta(seconds=policy.window_seconds)
        conditions.append("started_at > %s AND started_at <= %s")
        params += [start - hang_after, now - hang_after]
        conditions.append("(finished_at IS NULL OR latency_seconds > %s)")
        params.append(policy.duration_seconds)
    else:
        conditions.append("finished_at > %s AND finished_at <= %s")
        params += [window_start(policy, now), now]
        failed, classes = failed_of(policy)
        if measure is Measure.FAILED:
            conditions.append(failed)
            params += classes
        elif measure is Measure.SLOW:
            conditions.append("latency_seconds > %s")
            params.append(policy.duration_seconds)
        elif measure is Measure.FAILED_SHARE:  # every finished request, and the failed ones
            matched, matched_params = failed, classes
        elif measure is Measure.PERCENTILE:  # every finished request, and the slower than T
            histogram = kinds.get(policy.kind).histogram
            if histogram.reported:  # the first token: only the requests that reported one
                conditions.append(f"{histogram.seconds} IS NOT NULL")
            matched, matched_params = f"{histogram.seconds} > %s", (policy.duration_seconds,)
        elif measure is Measure.SUCCEEDED:  # every finished request, and the successful ones
            matched = "outcome = 'success'"
        else:
            raise ValueError(f"{policy.kind} policies are not counted from request rows")
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    return Window(" AND ".join(conditions), params, matched, matched_params)


def count_all(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for every policy at `now`. On Postgres, the policies of finished
    requests are counted from the request counts (``rollup_counting``) and hung ones from the
    requests that can be hung (``hung_counting``): reads set by the number of groups and of
    hung requests, not by traffic. On the embedded SQLite, from the request rows."""
    measures = {policy.pk: kinds.get(policy.kind).measure for policy in policies}
    if any(measure is Measure.SPEND for measure in measures.values()):
        raise ValueError("budget policies are counted by budget_counting")
    # Groups with no traffic are judged too: their own read (traffic_counting).
    quiet = [policy for policy in policies if measures[policy.pk] is Measure.SUCCEEDED]
    policies = [policy for policy in policies if measures[policy.pk] is not Measure.SUCCEEDED]
    counted = traffic_counting.count_traffic(quiet, now)
    if connection.vendor != "postgresql":
        return {**count_rows(policies, now), **counted}
    hung = [policy for policy in policies if measures[policy.pk] is Measure.HUNG]
    finished = [policy for policy in policies if measures[policy.pk] is not Measure.HUNG]
    return {
        **rollup_counting.count_finished(finished, now),
        **hung_counting.count_hung(hung, now),
        **counted,
    }


def count_rows(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Every group's count for every policy at `now`, in one query that reads each request
    of the windows once for all the policies (``sharedscan``): one round trip in all."""
    counts: dict[int, dict[str, Count]] = {policy.pk: {} for policy in policies}
    if not policies:
        return counts
    specs = [Spec(policy, tuple(filters_of(policy)), failed_of(policy)) for policy in policies]
    sql, params = shared_sql(specs, now, TABLE, GROUP_EXPRESSIONS)
    for policy_id, group, matched, total, deployments, critical in fetch_counts(sql, params):
        counts[policy_id][str(group or "")] = Count(
            int(matched or 0), int(total or 0), int(deployments or 0), int(critical or 0)
        )
    return counts


def count_groups(policy: AlertPolicy, now: datetime) -> dict[str, Count]:
    """Every group's count for this policy at `now`, in one query."""
    return count_all([policy], now)[policy.pk]


def details_for(policy: AlertPolicy, group: str, now: datetime) -> dict[str, Any]:
    """What a responder wants on the page: the top error classes and codes, a few sample
    request ids, and the team, key alias and model most of the counted requests share (the
    busiest, which for a platform-wide incident are not its owners)."""
    window = window_for(policy, now)
    where = window.where
    params = list(window.params)
    # What the count is made of; for too little traffic, the window's requests, whose errors
    # tell why so few succeeded.
    if window.matched and kinds.get(policy.kind).measure is not Measure.SUCCEEDED:
        where += f" AND {window.matched}"
        params += window.matched_params
    where += f" AND {GROUP_EXPRESSIONS[GroupBy(policy.group_by)]} = %s"
    params.append(group)
    details: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT error_class, status_code, COUNT(*) AS n FROM {TABLE} WHERE {where} "
            "GROUP BY error_class, status_code ORDER BY n DESC, error_class LIMIT 5",
            params,
        )
        details["top_errors"] = [
            {"error_class": cls or "", "status_code": code, "count": n}
            for cls, code, n in cursor.fetchall()
        ]
        if kinds.get(policy.kind).min_failing_deployments:
            # A region outage: which of its deployments fail, the most failing first.
            cursor.execute(
                f"SELECT deployment_id, COUNT(*) AS n FROM {TABLE} WHERE {where} "
                "GROUP BY deployment_id ORDER BY n DESC, deployment_id LIMIT 10",
                params,
            )
            details["failing_deployments"] = [
                {"deployment_id": deployment, "count": n} for deployment, n in cursor.fetchall()
            ]
        cursor.execute(
            f"SELECT request_id, gateway_team_id, gateway_team_alias, key_alias, "
            f"COALESCE(NULLIF(model_group, ''), model), provider, api_base, region "
            f"FROM {TABLE} WHERE {where} "
            "ORDER BY COALESCE(finished_at, started_at) DESC LIMIT 50",
            params,
        )
        rows = cursor.fetchall()
    details["sample_request_ids"] = [row[0] for row in rows[:5]]
    # Information for the responder, named so as not to pass for the incident's owner: routing,
    # labels and muting use only what the incident is surely about (recording.subject_of).
    for name, values in (
        ("busiest_team", [team_key.key_of(row[1], row[2]) for row in rows]),
        ("busiest_key_alias", [row[3] for row in rows]),
        ("busiest_model", [row[4] for row in rows]),
        ("busiest_provider", [row[5] for row in rows]),
        ("busiest_api_base", [_address_only(row[6]) for row in rows]),
        ("busiest_region", [row[7] for row in rows]),
    ):
        common = _most_common(values)
        if common:
            details[name] = common
    return details


def _address_only(url: str) -> str:
    """An API base without what may be a credential: a user and password, a query string."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    return urlunsplit((parts.scheme, f"{host}{port}", parts.path, "", ""))


def _most_common(values: list[str]) -> str:
    tally: dict[str, int] = {}
    for value in values:
        if value:
            tally[value] = tally.get(value, 0) + 1
    return max(tally, key=lambda v: (tally[v], v)) if tally else ""
