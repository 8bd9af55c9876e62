"""The first screen of an incident's page, where PagerDuty's link lands, on a phone too: what
it is, whether it is open and paged, its count against the threshold over time, its top
errors, and what a person can do about it. Everything else is below it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from alerting_console.moments import shown
from ingest.models import Outcome
from policies import kinds
from policies.charts import CountChart, count_chart
from policies.count_history import History, count_history
from policies.kinds import Measure
from policies.kinds.budget import amount
from policies.models import Delivery, GroupBy, Incident, IncidentStatus
from policies.silence_form import Link, silence_links


def end_of(incident: Incident, now: datetime) -> datetime:
    return incident.resolved_at or now


def chart_of(history: History) -> CountChart:
    policy = history.policy
    span = history.span
    kind = kinds.get(policy.kind)
    if kind.out_of_finished:  # a share, in %: failed, or slower than T
        values = [round(100 * count.share, 1) for count in history.counts]
        if kind.measure is Measure.PERCENTILE:  # more slower than this: the percentile is above T
            threshold = float(100 - (policy.percentile or 100))
        else:
            threshold = float(policy.failure_rate_percent or 0)
    else:
        values = [float(count.matched) for count in history.counts]
        threshold = float(policy.threshold)
    return CountChart(
        values=values,
        labels=[shown(span.moment(i)) for i in range(span.points)],
        threshold=threshold,
        unit=kind.unit,
        last_window=span.per_window,
        opened_at=None,
    )


def chart_html(incident: Incident, now: datetime) -> tuple[SafeString, str]:
    """The chart, and a sentence saying what it shows."""
    kind = kinds.get(incident.policy.kind)
    if not kind.counts_requests:
        return SafeString(""), budget_caption(incident.details or {})
    if not kind.charted:
        return SafeString(""), (
            f"{incident.last_count} {kind.unit} at the last evaluation, within "
            f"{incident.policy.window_seconds:g} s (peak {incident.peak_count})."
        )
    history = count_history(incident, end_of(incident, now), now)
    chart = chart_of(history)
    span = history.span
    opened = round((incident.detected_at - span.first) / span.step)
    if 0 <= opened < span.points:
        chart = CountChart(**{**chart.__dict__, "opened_at": opened})
    window = history.policy.window_seconds
    caption = (
        f"{chart.unit.capitalize()} per {window:g} s window, {shown(span.first)} to "
        f"{shown(span.end)}. Dashed: the threshold ({chart.threshold:g}); shaded: the last "
        f"window ({chart.values[-1]:g}); the mark: opened."
    )
    return count_chart(chart), caption


def budget_caption(details: dict[str, Any]) -> str:
    """A budget incident's spend and levels, in place of a chart of counts."""
    unit = details.get("unit", "usd")
    spend = amount(float(details.get("spend") or 0), unit)
    budget = amount(float(details.get("budget") or 0), unit)
    levels = ", ".join(details.get("levels_announced") or []) or "none"
    words = (
        f"{spend} of {budget} ({details.get('percent_spent', 0)}%) spent in the "
        f"{details.get('period', 'period')} from {details.get('period_start', '?')}; "
        f"levels announced: {levels}."
    )
    if details.get("projected_date"):
        words += f" At this pace the budget is reached on {details['projected_date']}."
    return words


def open_for(incident: Incident, now: datetime) -> str:
    if incident.resolved_at:
        took = timesince(incident.detected_at, incident.resolved_at)
        return f"resolved {shown(incident.resolved_at)}, after {took}"
    return f"open for {timesince(incident.detected_at, now)}, since {shown(incident.detected_at)}"


def requests_link(incident: Incident, now: datetime) -> Link:
    """The gateway requests of the incident's time, from one window before it opened, in the
    request list with the filters it has (outcome, team, finished between)."""
    policy = incident.policy
    start = incident.started_at - timedelta(seconds=policy.window_seconds)
    query: dict[str, Any] = {
        "finished_at__gte": start.isoformat(),
        "finished_at__lt": (end_of(incident, now) + timedelta(seconds=1)).isoformat(),
    }
    what = "requests"
    if kinds.get(policy.kind).counts_failures:
        query["outcome__exact"] = Outcome.FAILURE
        what = "failed requests"
    team = incident.team if policy.group_by == GroupBy.TEAM else policy.filter_team
    if team is not None:
        query["team"] = team.pk
        what += f" of team {team}"
    elif incident.group_key:
        what += f" (all groups: the list cannot filter by {policy.get_group_by_display()})"
    url = reverse("admin:ingest_gatewayrequest_changelist") + "?" + urlencode(query)
    return Link(f"All {what} from {shown(start)} on", url)


def waiting_deliveries(incident: Incident) -> list[Delivery]:
    return list(incident.deliveries.filter(status=Delivery.Status.PENDING).order_by("pk"))


def describe_waiting(delivery: Delivery) -> str:
    action = delivery.get_action_display().lower()
    if delivery.attempts == 0:
        return f"The {action} is queued since {shown(delivery.created_at)}, not tried yet."
    due = shown(delivery.next_attempt_at) if delivery.next_attempt_at else "?"
    return (
        f"The {action} failed {delivery.attempts} time{'s' if delivery.attempts != 1 else ''}"
        f" (last error: {delivery.last_error or 'none recorded'}); next try at {due}."
    )


def first_screen(incident: Incident, now: datetime, may_act: bool) -> dict[str, Any]:
    chart, caption = chart_html(incident, now)
    waiting = waiting_deliveries(incident)
    return {
        "incident": incident,
        "is_open": incident.status == IncidentStatus.OPEN,
        "open_for": open_for(incident, now),
        "chart": chart,
        "chart_caption": caption,
        "top_errors": (incident.details or {}).get("top_errors") or [],
        "may_act": may_act,
        "silence_links": silence_links(incident),
        "waiting": [describe_waiting(d) for d in waiting],
        "requests_link": requests_link(incident, now),
    }
