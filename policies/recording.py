"""What every evaluator records the same way, whatever it decides with (``engine`` for counts,
``budget_engine`` for spends): its claim on a policy for one evaluation, and an incident's
dedup key, owner, snapshot of the policy and resolve."""

from __future__ import annotations

import uuid
import zlib
from datetime import datetime
from typing import Any

from django.db import connection

from policies import dispatch
from policies.dispatch import event as _event
from policies.models import (
    AlertPolicy,
    GroupBy,
    Incident,
    IncidentEvent,
    IncidentStatus,
    PolicyState,
    Team,
)

LOCK_NAMESPACE = 0x41430001  # "AC" + 1: this application's advisory locks


def lock(policy_id: int) -> bool:
    """This transaction's advisory lock on the policy; False if another evaluator holds it."""
    if connection.vendor != "postgresql":
        return True  # SQLite: transactions begin IMMEDIATE, so evaluators take turns anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, policy_id])
        return bool(cursor.fetchone()[0])


def claim(policy_id: int, now: datetime) -> tuple[AlertPolicy, PolicyState] | str:
    """In a transaction: the policy and its state, to evaluate at `now`; or why not, for the
    log (another evaluator holds it; it was deleted or disabled; it was evaluated up to now)."""
    if not lock(policy_id):
        return "skipped: another evaluator holds it"
    policy = AlertPolicy.objects.select_related("filter_team").filter(pk=policy_id).first()
    if policy is None or not policy.enabled:
        return "skipped: deleted or disabled"
    state, _ = PolicyState.objects.get_or_create(policy=policy)
    if state.evaluated_at is not None and state.evaluated_at >= now:
        return "skipped: already evaluated up to this moment"
    return policy, state


def dedup_key(policy: AlertPolicy, group: str) -> str:
    # Stable for the incident's life (trigger, renotify and resolve share it), new for the next
    # incident of the same group; readable, and always within PagerDuty's 255 characters.
    group_part = f"{zlib.crc32(group.encode()):08x}" if group else "all"
    return f"alerting-console/{policy.pk}/{group_part}/{uuid.uuid4().hex[:12]}"


def subject_of(policy: AlertPolicy, group: str) -> tuple[Team | None, str]:
    """The team and key alias an incident is surely about, to label and route it: its group,
    or its policy's filters. Never those most of its sampled requests shared: a platform-wide
    incident belongs to no team and takes the default route; its busiest team is in its
    details, as information."""
    team = policy.filter_team
    if policy.group_by == GroupBy.TEAM and group:
        team = Team.objects.owning(group)
    key_alias = group if policy.group_by == GroupBy.KEY_ALIAS else policy.filter_key_alias
    return team, key_alias


def snapshot(policy: AlertPolicy) -> dict[str, Any]:
    """The policy as the incident opened under it (the page and its chart read it later)."""
    fields = (
        "kind", "threshold", "window_seconds", "duration_seconds", "failure_rate_percent",
        "min_requests", "group_by", "consecutive_breaches", "resolve_threshold",
        "resolve_hold_seconds", "severity", "critical_threshold", "critical_failure_rate_percent",
        "critical_duration_seconds", "percentile",
    )  # fmt: skip
    return {name: getattr(policy, name) for name in fields} | {"rule": policy.describe()}


def resolve(incident: Incident, now: datetime, message: str, user: Any = None) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.resolved_by = user
    incident.save(update_fields=["status", "resolved_at", "resolved_by"])
    told = dispatch.resolved(incident, now)
    _event(incident, now, IncidentEvent.Kind.RESOLVED, f"{message} {told}".strip(), user=user)
