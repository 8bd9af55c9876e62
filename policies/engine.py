"""Evaluating a policy: count, decide (``evaluation.py``), and record what changed.

Each policy is evaluated in a transaction of its own, under a Postgres advisory lock, so two
evaluators (two beat processes, or two workers picking up the same tick) never both act on
it; the partial unique constraint on open incidents backs that up. Each transition is handed
to the dispatch step (``policies.dispatch``), which writes the outbox rows for it in the same
transaction: the state change is never lost, and nothing is sent for a change that rolled
back. The engine knows nothing of channels.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from policies import budget_engine, counting, dispatch, kinds, muting
from policies.dispatch import event as _event
from policies.evaluation import Action, Count, Decision, GroupState, Rule, evaluate
from policies.handover import handed_over_together
from policies.models import (
    AlertPolicy,
    GroupBy,
    Incident,
    IncidentEvent,
    IncidentStatus,
    Maintenance,
    PolicyState,
    Severity,
    Team,
)
from policies.recording import claim, dedup_key, resolve, snapshot, subject_of

logger = logging.getLogger(__name__)


def rule_for(policy: AlertPolicy) -> Rule:
    rate = policy.failure_rate_percent / 100 if policy.failure_rate_percent else None
    return Rule(
        threshold=policy.threshold,
        consecutive_breaches=policy.consecutive_breaches,
        resolve_below=policy.resolve_threshold,
        resolve_hold_seconds=policy.resolve_hold_seconds,
        renotify_seconds=policy.renotify_seconds,
        rate=rate,
        min_requests=policy.min_requests if kinds.get(policy.kind).uses_min_requests else 0,
        critical=policy.critical_level,
        percentile=policy.percentile / 100 if policy.percentile else None,
        min_deployments=kinds.get(policy.kind).min_failing_deployments,
        below=kinds.get(policy.kind).below,
    )


def evaluate_policy(
    policy_id: int, now: datetime, counted: tuple[datetime, dict[str, Count]] | None = None
) -> str:
    """Evaluate one policy at `now`; returns what happened, for the log. `counted`: its counts
    at `now` already read (with the policy as it was at its `updated_at`), so that they are not
    read again; moments replayed before `now` are read each."""
    with handed_over_together(), transaction.atomic():
        claimed = claim(policy_id, now)
        if isinstance(claimed, str):
            return claimed
        policy, state = claimed
        interval = settings.EVALUATION_INTERVAL_SECONDS
        # Moments before the policy's last change (say, while it was disabled) are not replayed:
        # the policy as it is now did not apply to them.
        since = state.evaluated_at
        if since is not None and policy.updated_at > since:
            since = policy.updated_at
        moments = catch_up_moments(since, now, interval)
        known = None
        if counted is not None and counted[0] == policy.updated_at:  # not edited since
            known = counted[1]
        outcomes = [
            _evaluate_at(policy, state, moment, known if moment == now else None)
            for moment in moments
        ]
        state.evaluated_at = now
        state.save()
    changes = [outcome for outcome in outcomes if outcome != "no change"]
    return "evaluated: " + ("; ".join(changes) or "no change")


def evaluate_all(now: datetime) -> dict[int, str]:
    """Evaluate every enabled policy at `now`.

    The common case, nothing changing, costs a few queries in all: every policy is counted
    in one query and decided in memory, and the policies with nothing to record only get
    their evaluation time moved on. A policy with something to record (a breach, an open
    incident, a gap to catch up) goes through ``evaluate_policy``, under its lock.
    A policy that fails is logged and skipped; the others go on.
    """
    Maintenance.end_if_over(now)
    policies = list(
        AlertPolicy.objects.filter(enabled=True)
        .select_related("filter_team", "state")
        .order_by("pk")
    )
    open_incidents: dict[int, dict[str, Incident]] = {}
    orphaned: list[int] = []  # open incidents of disabled policies
    open_now = Incident.objects.filter(status=IncidentStatus.OPEN).select_related("policy", "team")
    for incident in dispatch.with_never_paged(open_now):
        if incident.policy.enabled:
            open_incidents.setdefault(incident.policy_id, {})[incident.group_key] = incident
        else:
            orphaned.append(incident.pk)
    outcomes: dict[int, str] = {}
    for policy in [p for p in policies if p.kind not in kinds.KINDS]:
        # Written by a newer release that was rolled back: it cannot be counted, and must not
        # be counted as some other kind. The others go on.
        outcomes[policy.pk] = f"skipped: {kinds.UnknownKind(policy.kind)}"
        logger.error(
            "policy %s (%s) not evaluated: %s", policy.pk, policy.name, outcomes[policy.pk]
        )
        policies.remove(policy)
    # Budgets sum what was spent, and decide by levels per period (policies/budget_engine.py).
    budgets = [p for p in policies if not kinds.get(p.kind).counts_requests]
    outcomes.update(budget_engine.evaluate_budgets(budgets, now))
    policies = [p for p in policies if kinds.get(p.kind).counts_requests]
    counts = counting.count_all(policies, now)
    interval = settings.EVALUATION_INTERVAL_SECONDS
    quiet: list[int] = []
    for policy in policies:
        state = getattr(policy, "state", None)
        try:
            if state is not None and state.evaluated_at is not None and state.evaluated_at >= now:
                outcomes[policy.pk] = "skipped: already evaluated up to this moment"
                continue
            if (
                state is not None
                and state.evaluated_at is not None
                and catch_up_moments(state.evaluated_at, now, interval) == [now]
                and _nothing_to_record(
                    policy, state, open_incidents.get(policy.pk, {}), counts[policy.pk], now
                )
            ):
                quiet.append(policy.pk)
                outcomes[policy.pk] = "evaluated: no change"
                continue
            # Its counts at `now` are those just read for all: the read costs as much for
            # one policy as for all of them, and a policy with an open incident comes here
            # every tick.
            outcomes[policy.pk] = evaluate_policy(
                policy.pk, now, (policy.updated_at, counts[policy.pk])
            )
        except Exception:
            logger.exception("evaluation of policy %s failed; the others go on", policy.pk)
            outcomes[policy.pk] = "failed"
    # Guarded, so a concurrent evaluator that got further is never moved back.
    PolicyState.objects.filter(policy_id__in=quiet, evaluated_at__lt=now).update(evaluated_at=now)
    _resolve_orphaned(orphaned, now)
    dispatch.page_unmuted([i for group in open_incidents.values() for i in group.values()], now)
    return outcomes


def _resolve_orphaned(incident_ids: list[int], now: datetime) -> None:
    """An incident whose policy was disabled will never clear by itself: resolve it."""
    for incident_id in incident_ids:
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update()
                .filter(pk=incident_id, status=IncidentStatus.OPEN)
                .first()
            )
            if incident is not None:
                resolve(incident, now, "Resolved: its policy was disabled.")


def _nothing_to_record(
    policy: AlertPolicy,
    state: PolicyState,
    incidents: dict[str, Incident],
    counts: dict[str, Count],
    now: datetime,
) -> bool:
    """Whether evaluating this policy at `now` would change no row at all."""
    if state.pending:
        return False  # a streak to extend or to reset
    new_states, decisions = evaluate(rule_for(policy), counts, _group_states(state, incidents), now)
    if decisions:
        return False
    for group, incident in incidents.items():
        new = new_states.get(group)
        count = counts.get(group, Count(0)).matched
        if new is None or _remembered(incident) != (count, new.clear_since, new.calm_since):
            return False
    return True


def _group_states(state: PolicyState, incidents: dict[str, Incident]) -> dict[str, GroupState]:
    states = {group: GroupState(streak=int(p["streak"])) for group, p in state.pending.items()}
    for group, incident in incidents.items():
        states[group] = GroupState(
            open=True,
            peak=incident.peak_count,
            clear_since=incident.clear_since,
            last_paged_at=incident.last_paged_at,
            critical=incident.critical_since is not None,
            calm_since=incident.calm_since,
        )
    return states


def _evaluate_at(
    policy: AlertPolicy,
    state: PolicyState,
    now: datetime,
    counted: dict[str, Count] | None = None,
) -> str:
    counts = counted if counted is not None else counting.count_groups(policy, now)
    incidents = {
        incident.group_key: incident
        for incident in Incident.objects.select_for_update().filter(
            policy=policy, status=IncidentStatus.OPEN
        )
    }
    new_states, decisions = evaluate(rule_for(policy), counts, _group_states(state, incidents), now)

    pending: dict[str, Any] = {}
    for group, group_state in new_states.items():
        if not group_state.open:
            since = state.pending.get(group, {}).get("since") or now.isoformat()
            pending[group] = {"streak": group_state.streak, "since": since}
    for decision in decisions:
        if decision.action == Action.OPEN:
            since = state.pending.get(decision.group, {}).get("since")
            started = datetime.fromisoformat(since) if since else now
            _open(policy, decision, started, now)
        elif decision.action != Action.PENDING:
            _advance(incidents[decision.group], decision, now)
    for group, incident in incidents.items():
        _remember(incident, counts.get(group, Count(0)), new_states.get(group))
    state.pending = pending
    return ", ".join(f"{d.group or 'everything'} {d.action}" for d in decisions) or "no change"


def _remembered(incident: Incident) -> tuple[int, datetime | None, datetime | None]:
    return incident.last_count, incident.clear_since, incident.calm_since


def _remember(incident: Incident, count: Count, group_state: GroupState | None) -> None:
    """Keep an open incident's last count and its resolve and fall-back clocks up to date."""
    if incident.status != IncidentStatus.OPEN or group_state is None:
        return
    now = (count.matched, group_state.clear_since, group_state.calm_since)
    if _remembered(incident) != now:
        incident.last_count, incident.clear_since, incident.calm_since = now
        incident.save(update_fields=["last_count", "clear_since", "calm_since"])


def describe_count(policy: AlertPolicy, count: Count) -> str:
    return kinds.get(policy.kind).describe_count(policy, count)


def _summary(policy: AlertPolicy, group: str, count: Count) -> str:
    label = {
        GroupBy.EVERYTHING: "",
        GroupBy.TEAM: f" for team {group}",
        GroupBy.KEY_ALIAS: f" for key {group}",
        GroupBy.MODEL: f" on model {group}",
        GroupBy.DEPLOYMENT: f" on deployment {group}",
        GroupBy.REGION: f" in region {group}",
        GroupBy.USER: f" for user {group}",
    }[GroupBy(policy.group_by)]
    return f"{policy.name}: {describe_count(policy, count)} in {policy.window_seconds} s{label}"[
        :1024
    ]


def _open(policy: AlertPolicy, decision: Decision, started: datetime, now: datetime) -> None:
    details = counting.details_for(policy, decision.group, now)
    team, key_alias = subject_of(policy, decision.group)
    try:
        with transaction.atomic():  # a savepoint: should the constraint fire, only this is undone
            incident = _create_incident(policy, decision, started, now, details, team, key_alias)
    except IntegrityError:
        # The partial unique constraint: another evaluator opened this group's incident. The
        # advisory lock makes this all but impossible; the database has the last word.
        logger.warning("policy %s group %r: already open", policy.pk, decision.group)
        return
    dispatch.opened(incident, now)


def _create_incident(
    policy: AlertPolicy,
    decision: Decision,
    started: datetime,
    now: datetime,
    details: dict[str, Any],
    team: Team | None,
    key_alias: str,
) -> Incident:
    return Incident.objects.create(
        policy=policy,
        group_key=decision.group,
        dedup_key=dedup_key(policy, decision.group),
        summary=_summary(policy, decision.group, decision.count),
        severity=Severity.CRITICAL if decision.state.critical else policy.severity,
        critical_since=now if decision.state.critical else None,
        team=team,
        key_alias=key_alias,
        model=muting.model_of(policy.group_by, decision.group, policy.filter_model),
        started_at=started,
        detected_at=now,
        trigger_count=decision.count.matched,
        peak_count=decision.count.matched,
        last_count=decision.count.matched,
        last_paged_at=now,
        policy_snapshot=snapshot(policy),
        details=details,
    )


def _advance(incident: Incident, decision: Decision, now: datetime) -> None:
    if decision.action in (Action.ESCALATE, Action.DEESCALATE):
        _change_level(incident, decision, now)
    elif decision.action == Action.PEAK:
        incident.peak_count = decision.count.matched
        incident.save(update_fields=["peak_count"])
        new = "New low" if kinds.get(incident.policy.kind).below else "New peak"
        _event(incident, now, IncidentEvent.Kind.PEAK, f"{new}: {decision.count.matched}.")
    elif decision.action == Action.RENOTIFY:
        incident.last_paged_at = now  # the renotify clock restarts, paged or not
        incident.save(update_fields=["last_paged_at"])
        dispatch.renotify(incident, now)
    elif decision.action == Action.RESOLVE:
        resolve(incident, now, f"Resolved: the count fell to {decision.count.matched}.")


def _change_level(incident: Incident, decision: Decision, now: datetime) -> None:
    """To the critical level, or back to the first: its severity changes, every channel that
    has its page is told (PagerDuty: a trigger with the same dedup_key; Slack and Discord: the
    message edited)."""
    policy = incident.policy
    count = describe_count(policy, decision.count)
    below = kinds.get(policy.kind).below  # too little traffic: critical below its level
    if decision.action == Action.ESCALATE:
        incident.severity = Severity.CRITICAL
        incident.critical_since = now
        incident.peak_count = decision.state.peak
        where = "below" if below else "at or above"
        message = f"Critical: {count}, {where} the critical level."
    else:
        incident.severity = policy.severity
        incident.critical_since = None
        where = "back at or above" if below else "below"
        message = f"Back to {policy.severity}: {count}, {where} the critical level."
    incident.calm_since = None
    incident.save(update_fields=["severity", "critical_since", "calm_since", "peak_count"])
    _event(incident, now, IncidentEvent.Kind.SEVERITY, message)
    dispatch.severity_changed(incident, now)


def catch_up_moments(last: datetime | None, now: datetime, interval: float) -> list[datetime]:
    """The moments to evaluate at: `now`, and, after a gap (beat or Redis down, a restart),
    the moments missed since the last evaluation, so that what happened meanwhile still opens
    incidents. Bounded by EVALUATION_CATCH_UP_SECONDS and at most 60 steps."""
    if last is None or now - last <= timedelta(seconds=interval * 2):
        return [now]
    start = max(last, now - timedelta(seconds=settings.EVALUATION_CATCH_UP_SECONDS))
    gap = (now - start).total_seconds()
    step = max(interval, gap / 60)
    moments = []
    moment = start + timedelta(seconds=step)
    while moment < now:
        moments.append(moment)
        moment += timedelta(seconds=step)
    return [*moments, now]
