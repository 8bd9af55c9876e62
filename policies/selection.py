"""What a policy selects among the requests, in SQL that Postgres and the embedded SQLite both
run, and that means the same on a request row as on a row of request counts (both carry the
columns these read): its groups, its filters, which finished requests it counts as failed,
and where its window starts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ingest import rollups
from policies import kinds, team_key
from policies.models import AlertPolicy, GroupBy

GROUP_EXPRESSIONS = {
    GroupBy.EVERYTHING: "''",
    GroupBy.TEAM: team_key.KEY_SQL,
    GroupBy.KEY_ALIAS: "key_alias",
    GroupBy.MODEL: "COALESCE(NULLIF(model_group, ''), model)",
    GroupBy.DEPLOYMENT: "deployment_id",
    # "azure/eastus": two providers' regions of one name are not one outage.
    GroupBy.REGION: "provider || '/' || region",
    # The gateway's user owning the key (LiteLLM's internal user), as ingest stores it.
    GroupBy.USER: "user_id",
}


def failure_classes(policy: AlertPolicy) -> list[str]:
    classes = ["upstream"]
    if policy.count_gateway_rejections:
        classes.append("gateway")
    if policy.count_client_errors:
        classes.append("client")
    return classes


def filters_of(policy: AlertPolicy) -> list[tuple[str, tuple[Any, ...]]]:
    """The policy's filters, each a condition and its parameters: its kind's, then its own."""
    conditions: list[tuple[str, tuple[Any, ...]]] = list(kinds.get(policy.kind).filters)
    if policy.filter_team is not None:
        conditions.append(team_key.condition(policy.filter_team))
    if policy.filter_key_alias:
        conditions.append(("key_alias = %s", (policy.filter_key_alias,)))
    if policy.filter_model:
        conditions.append(("(model_group = %s OR model = %s)", (policy.filter_model,) * 2))
    return conditions


def failed_of(policy: AlertPolicy) -> tuple[str, tuple[Any, ...]]:
    """Which finished requests count as failed for this policy."""
    classes = failure_classes(policy)
    placeholders = ", ".join(["%s"] * len(classes))
    return f"outcome = 'failure' AND failure_class IN ({placeholders})", tuple(classes)


# Request counts per second are kept for a while (ingest/rollups.py, KEEP); a window that
# reaches further back starts on a minute, with an hour's margin for the hourly pruning.
LONG_WINDOW_SECONDS = (rollups.KEEP[1] - timedelta(hours=1)).total_seconds()


def window_start(policy: AlertPolicy, now: datetime) -> datetime:
    """Where the window of a policy of finished requests starts (docs/rollups.md, the edge
    rule): the whole second at or before `now - Y` (up to a second earlier than `now - Y`), or
    for a window over two hours the whole minute (up to a minute earlier, under 0.9% of it),
    so that the request counts, kept per whole second and per whole minute, answer it
    exactly."""
    start = (now - timedelta(seconds=policy.window_seconds)).replace(microsecond=0)
    if policy.window_seconds > LONG_WINDOW_SECONDS:
        return start.replace(second=0)
    return start
