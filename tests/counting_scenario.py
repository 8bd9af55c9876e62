"""Policies and requests on every edge the shared counting query has, and the count it must
agree with: each policy counted by a query of its own, straight from `window_for`.

Used by test_counting_shared.py on Postgres, and by sqlite_counting.py on the embedded
SQLite database.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from ingest.models import GatewayRequest
from policies import kinds
from policies.counting import TABLE, window_for
from policies.evaluation import Count
from policies.models import AlertPolicy, GroupBy, PolicyKind, Team
from policies.selection import GROUP_EXPRESSIONS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)  # what Postgres and SQLite store at the finest
WINDOWS = (60, 300, 3600)
DURATIONS = (5.0, 30.0)

TEAMS = [("team-a", "A"), ("", "Checkout"), ("team-b", ""), ("", ""), ("search", "Search")]
KEY_ALIASES = ["k1", "k2", ""]
DEPLOYMENTS = ["dep-1", "dep-2", ""]
REGIONS = [("azure", "eastus"), ("azure", "westus"), ("openai", ""), ("bedrock", "eastus")]
MODELS = [("gpt-4o", "openai/gpt-4o"), ("", "openai/gpt-4o-mini"), ("gpt-4o", ""), ("", "")]
OUTCOMES = [
    ("failure", "upstream"),
    ("failure", "gateway"),
    ("failure", "client"),
    ("success", ""),
    ("success", ""),
]
# None: finished without a reported start. The others sit on both sides of each T.
FIRST_TOKENS = [None, None, 0.5, 5.0, 5.0 + 1e-6, 30.0, 31.0]
LATENCIES = [None, 0.5, 5.0, 5.0 + 1e-6, 29.9, 30.0, 31.0, 100.0]


def reference_counts(policies: list[AlertPolicy], now: datetime) -> dict[int, dict[str, Count]]:
    """Each policy counted by its own query: the straightforward SQL for what it counts."""
    counts: dict[int, dict[str, Count]] = {}
    with connection.cursor() as cursor:
        for policy in policies:
            window = window_for(policy, now)
            group = GROUP_EXPRESSIONS[GroupBy(policy.group_by)]
            matched = "COUNT(*)"
            if window.matched:
                matched = f"SUM(CASE WHEN {window.matched} THEN 1 ELSE 0 END)"
            # Region outages: the deployments among the counted (failed) requests.
            spread = kinds.get(policy.kind).min_failing_deployments > 0
            deployments = "COUNT(DISTINCT deployment_id)" if spread else "0"
            # Percentiles: the requests slower than their critical T.
            critical, critical_params = "0", []
            if policy.critical_duration_seconds is not None:
                seconds = kinds.get(policy.kind).histogram.seconds
                critical = f"SUM(CASE WHEN {seconds} > %s THEN 1 ELSE 0 END)"
                critical_params = [policy.critical_duration_seconds]
            cursor.execute(
                f"SELECT {group}, {matched}, COUNT(*), {deployments}, {critical} "  # noqa: S608
                f"FROM {TABLE} WHERE {window.where} GROUP BY 1",
                [*window.matched_params, *critical_params, *window.params],
            )
            counts[policy.pk] = {
                str(g or ""): Count(int(m or 0), int(t), int(d), int(c or 0))
                for g, m, t, d, c in cursor.fetchall()
            }
    return counts


def search_team() -> Team:
    return Team.objects.create(
        name="Search", slug="search", gateway_team_id="team-search", gateway_team_alias="Search"
    )


def make_policies(team: Team) -> list[AlertPolicy]:
    """Every kind, grouping and window; two thresholds T; filters; failure-class opt-ins;
    and a hung policy whose window lies far from the others'."""
    fields: list[dict[str, Any]] = []
    for kind, group_by, window in itertools.product(PolicyKind, GroupBy, WINDOWS):
        if not kinds.get(kind).counts_requests or kinds.get(kind).below:
            continue  # budgets sum spends, quiet groups have their own read: their own tests
        allowed = kinds.get(kind).group_by
        if allowed and group_by not in allowed:
            continue
        durations = DURATIONS if kinds.get(kind).uses_duration else (None,)
        for duration in durations:
            fields.append(
                {
                    "kind": kind,
                    "group_by": group_by,
                    "window_seconds": window,
                    "duration_seconds": duration,
                }
            )
    for kind, duration in [
        (PolicyKind.FAILURES, None),
        (PolicyKind.FAILURE_RATE, None),
        (PolicyKind.SLOW, 5.0),
        (PolicyKind.HUNG, 30.0),
    ]:
        filter_sets: list[dict[str, Any]] = [
            {"filter_team": team},
            {"filter_key_alias": "k1"},
            {"filter_model": "gpt-4o"},
            {"filter_team": team, "filter_key_alias": "k2", "filter_model": "openai/gpt-4o"},
        ]
        for filters in filter_sets:
            fields.append(
                {"kind": kind, "duration_seconds": duration, "group_by": GroupBy.MODEL, **filters}
            )
    for kind in (PolicyKind.FAILURES, PolicyKind.FAILURE_RATE):
        fields.append({"kind": kind, "count_gateway_rejections": True})
        fields.append({"kind": kind, "count_client_errors": True, "window_seconds": 300})
        fields.append({"kind": kind, "count_gateway_rejections": True, "count_client_errors": True})
    fields.append({"kind": PolicyKind.HUNG, "duration_seconds": 3600.0, "window_seconds": 60})
    policies = []
    for i, values in enumerate(fields):
        if values["kind"] == PolicyKind.FAILURE_RATE:
            values["failure_rate_percent"] = 50.0
        if kinds.get(values["kind"]).measure is kinds.Measure.PERCENTILE:
            values["percentile"] = (50, 90, 95, 99)[i % 4]
            if values.get("duration_seconds") == DURATIONS[0] and i % 2:
                values["critical_duration_seconds"] = DURATIONS[1]  # its critical T
        policies.append(AlertPolicy.objects.create(name=f"scenario {i}", **values))
    return policies


def make_requests(now: datetime = NOW, seed: int = 7) -> None:
    """Requests finished and started on each side of every window's edges and every T."""
    rng = random.Random(seed)
    finished_ago = [-1.0, 0.0, 1.0, 45.0, 200.0, 1000.0, 5000.0]
    for window in WINDOWS:
        finished_ago += [window - 1e-6, float(window), window + 1e-6]
    started_ago = []
    for window, duration in [*itertools.product(WINDOWS, DURATIONS), (60, 3600.0)]:
        for edge in (window + duration, duration):
            started_ago += [edge - 1e-6, edge, edge + 1e-6]
    rows: list[GatewayRequest] = []
    for seconds in finished_ago:
        for latency in LATENCIES:
            finished = now - timedelta(seconds=seconds)
            started = None if latency is None else finished - timedelta(seconds=latency)
            rows.append(_row(rng, started, finished, latency, len(rows)))
    for seconds in started_ago:
        start = now - timedelta(seconds=seconds)
        for latency in [None, 4.0, 5.0, 6.0, 30.0, 31.0, seconds + 10]:  # None: unfinished
            end = None if latency is None else start + timedelta(seconds=latency)
            rows.append(_row(rng, start, end, latency, len(rows)))
    GatewayRequest.objects.bulk_create(rows)


def _row(
    rng: random.Random,
    started: datetime | None,
    finished: datetime | None,
    latency: float | None,
    n: int,
) -> GatewayRequest:
    team_id, team_alias = rng.choice(TEAMS)
    model_group, model = rng.choice(MODELS)
    provider, region = rng.choice(REGIONS)
    outcome, failure_class = rng.choice(OUTCOMES) if finished else ("", "")
    return GatewayRequest(
        source="gw",
        request_id=f"r{n}",
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        failure_class=failure_class,
        latency_seconds=latency,
        gateway_team_id=team_id,
        gateway_team_alias=team_alias,
        key_alias=rng.choice(KEY_ALIASES),
        model_group=model_group,
        model=model,
        deployment_id=rng.choice(DEPLOYMENTS),
        provider=provider,
        region=region,
        # Streamed or not; around the durations T.
        time_to_first_token_seconds=rng.choice(FIRST_TOKENS) if finished else None,
        received_at=NOW,
    )
