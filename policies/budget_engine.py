"""Evaluating a budget policy: read each group's spend in its period (``budget_counting``),
decide (``budget.decide``), and record what changed, as ``engine`` does for the policies of
request counts: in a transaction, under the policy's advisory lock, each page written to the
outbox with the change that caused it.

A budget incident remembers its period and the levels it announced (in its details), so a
level is announced once per period whatever the number of evaluators, replicas or restarts: a
new level raises the open incident (its severity, summary and page updated on every channel
that has it, as a change of level is), and a period's levels announced by an incident that
was resolved by hand are not announced again within that period.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from policies import budget, budget_counting, dispatch, muting
from policies.dispatch import event as _event
from policies.handover import handed_over_together
from policies.kinds.budget import amount
from policies.models import (
    AlertPolicy,
    GroupBy,
    Incident,
    IncidentEvent,
    IncidentStatus,
    Severity,
)
from policies.recording import claim, dedup_key, resolve, snapshot, subject_of

logger = logging.getLogger(__name__)

THIS_PERIOD = {"day": "today", "week": "this week", "month": "this month"}
GROUP_WORDS = {
    GroupBy.EVERYTHING: "",
    GroupBy.TEAM: " by team {}",
    GroupBy.KEY_ALIAS: " by key {}",
    GroupBy.MODEL: " on model {}",
    GroupBy.USER: " by user {}",
}


def evaluate_budgets(policies: list[AlertPolicy], now: datetime) -> dict[int, str]:
    """Evaluate these budget policies at `now`, their spends read in one statement. A policy
    that fails is logged and skipped; the others go on."""
    spent = budget_counting.spend_all(policies, now)
    outcomes = {}
    for policy in policies:
        try:
            outcomes[policy.pk] = evaluate_budget(
                policy.pk, now, (policy.updated_at, spent[policy.pk])
            )
        except Exception:
            logger.exception("evaluation of policy %s failed; the others go on", policy.pk)
            outcomes[policy.pk] = "failed"
    return outcomes


def evaluate_budget(
    policy_id: int, now: datetime, spent: tuple[datetime, dict[str, float]] | None = None
) -> str:
    """Evaluate one budget policy at `now`; `spent`: its spends already read, with the policy
    as it was at its `updated_at`."""
    with handed_over_together(), transaction.atomic():
        claimed = claim(policy_id, now)
        if isinstance(claimed, str):
            return claimed
        policy, state = claimed
        spends = spent[1] if spent is not None and spent[0] == policy.updated_at else None
        if spends is None:
            spends = budget_counting.spend_all([policy], now)[policy.pk]
        outcomes = _evaluate_at(policy, spends, now)
        state.evaluated_at = now
        state.save(update_fields=["evaluated_at"])
    return "evaluated: " + ("; ".join(outcomes) or "no change")


def _evaluate_at(policy: AlertPolicy, spends: dict[str, float], now: datetime) -> list[str]:
    period = budget_counting.period_of(policy, now)
    rule = budget.Budget(float(policy.budget or 0), policy.warning_percents)
    incidents = {
        incident.group_key: incident
        for incident in Incident.objects.select_for_update().filter(
            policy=policy, status=IncidentStatus.OPEN
        )
    }
    announced = _announced_in(policy, period) if period.end is not None else {}
    outcomes = []
    for group in sorted(set(spends) | set(incidents)):
        spend = spends.get(group, 0.0)
        incident = incidents.get(group)
        decision = budget.decide(
            rule,
            spend,
            period,
            now,
            announced.get(group, ()),
            _open_of(incident) if incident is not None else None,
        )
        if decision is None:
            if incident is not None:
                _remember(incident, policy, rule, spend)
            continue
        if decision.step is budget.Step.RESOLVE and incident is not None:
            resolve(incident, now, _resolved_because(period))
        elif decision.step is budget.Step.OPEN:
            _open(policy, group, rule, spend, period, decision, now)
        elif incident is not None:
            _raise(incident, policy, rule, spend, period, decision, now)
        outcomes.append(f"{group or 'everything'} {decision.step} {decision.level}".strip())
    return outcomes


def _announced_in(policy: AlertPolicy, period: budget.Period) -> dict[str, tuple[str, ...]]:
    """The levels each group's incidents of this period announced (resolved ones too)."""
    found: dict[str, tuple[str, ...]] = {}
    incidents = Incident.objects.filter(
        policy=policy, details__period_start=period.start.isoformat()
    ).values_list("group_key", "details")
    for group, details in incidents:
        found[group] = (*found.get(group, ()), *details.get("levels_announced", ()))
    return found


def _open_of(incident: Incident) -> budget.Open:
    details = incident.details
    return budget.Open(
        datetime.fromisoformat(details["period_start"]),
        tuple(details.get("levels_announced", ())),
    )


def _resolved_because(period: budget.Period) -> str:
    if period.end is None:
        return "Resolved: the spend within the window fell below the first level."
    return f"Resolved: the {period.name} is over; a new one begins."


def summary(
    policy: AlertPolicy, group: str, rule: budget.Budget, spend: float, period: budget.Period,
    projected: datetime | None,
) -> str:  # fmt: skip
    """ "Team budgets: $86.10 of $100.00 (86%) spent this month (UTC) by team search"."""
    unit = policy.budget_unit or "usd"
    when = f"within {policy.window_seconds} s"
    if period.end is not None:
        when = f"{THIS_PERIOD[period.name]} ({policy.budget_time_zone or 'UTC'})"
    words = (
        f"{policy.name}: {amount(spend, unit)} of {amount(rule.amount, unit)} "
        f"({rule.percent(spend)}%) spent {when}"
        + GROUP_WORDS[GroupBy(policy.group_by)].format(group)
    )
    if projected is not None:
        words += f"; at this pace the budget is reached on {projected.date().isoformat()}"
    return words[:1024]


def _details(
    policy: AlertPolicy, rule: budget.Budget, spend: float, period: budget.Period,
    decision: budget.Decision,
) -> dict[str, Any]:  # fmt: skip
    return {
        "spend": spend,
        "budget": rule.amount,
        "unit": policy.budget_unit or "usd",
        "percent_spent": rule.percent(spend),
        "period": period.name,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat() if period.end else None,
        "levels_announced": list(decision.announced),
        "projected_date": decision.projected.date().isoformat() if decision.projected else None,
    }


def _severity(policy: AlertPolicy, decision: budget.Decision) -> str:
    return Severity.CRITICAL if decision.critical else policy.severity


def _open(
    policy: AlertPolicy, group: str, rule: budget.Budget, spend: float, period: budget.Period,
    decision: budget.Decision, now: datetime,
) -> None:  # fmt: skip
    team, key_alias = subject_of(policy, group)
    percent = rule.percent(spend)
    try:
        with transaction.atomic():  # a savepoint: should the constraint fire, only this is undone
            incident = Incident.objects.create(
                policy=policy,
                group_key=group,
                dedup_key=dedup_key(policy, group),
                summary=summary(policy, group, rule, spend, period, decision.projected),
                severity=_severity(policy, decision),
                critical_since=now if decision.critical else None,
                team=team,
                key_alias=key_alias,
                model=muting.model_of(policy.group_by, group, policy.filter_model),
                started_at=now,
                detected_at=now,
                trigger_count=percent,
                peak_count=percent,
                last_count=percent,
                last_paged_at=now,
                policy_snapshot=snapshot(policy),
                details=_details(policy, rule, spend, period, decision),
            )
    except IntegrityError:
        return  # another evaluator opened it; the advisory lock makes this all but impossible
    dispatch.opened(incident, now)


def _raise(
    incident: Incident, policy: AlertPolicy, rule: budget.Budget, spend: float,
    period: budget.Period, decision: budget.Decision, now: datetime,
) -> None:  # fmt: skip
    """A new level: the incident says it (severity, summary, details) and every channel that
    has its page is told."""
    percent = rule.percent(spend)
    incident.summary = summary(policy, incident.group_key, rule, spend, period, decision.projected)
    incident.severity = _severity(policy, decision)
    if decision.critical and incident.critical_since is None:
        incident.critical_since = now
    incident.peak_count = max(incident.peak_count, percent)
    incident.last_count = percent
    incident.details = {**incident.details, **_details(policy, rule, spend, period, decision)}
    incident.save(
        update_fields=[
            "summary", "severity", "critical_since", "peak_count", "last_count", "details",
        ]
    )  # fmt: skip
    level = "projected to exceed" if decision.level == budget.PROJECTED else decision.level
    _event(incident, now, IncidentEvent.Kind.LEVEL, f"Level reached: {level}. {incident.summary}")
    dispatch.severity_changed(incident, now)


def _remember(incident: Incident, policy: AlertPolicy, rule: budget.Budget, spend: float) -> None:
    """Keep an open incident's spend up to date (its page says what is true when it goes out),
    written only when the whole percentage changes."""
    percent = rule.percent(spend)
    if percent == incident.last_count:
        return
    incident.last_count = percent
    incident.peak_count = max(incident.peak_count, percent)
    incident.details = {**incident.details, "spend": spend, "percent_spent": percent}
    incident.save(update_fields=["last_count", "peak_count", "details"])
