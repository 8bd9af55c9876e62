"""An incident's transition as a ``Notice``: the kind-neutral facts every channel kind renders
(``policies.channels``). Read from the incident and its policy when a delivery is claimed, so
a message says what is true when it goes out."""

from __future__ import annotations

from typing import Any

from policies.channels.base import Event, Notice
from policies.models import Delivery, GroupBy, Incident
from policies.silence_form import incident_url, silence_url

EVENTS = {
    Delivery.Action.TRIGGER: Event.TRIGGER,
    Delivery.Action.RENOTIFY: Event.RENOTIFY,
    Delivery.Action.UPDATE: Event.UPDATE,
    Delivery.Action.RESOLVE: Event.RESOLVE,
}
GROUP_WORDS = {
    GroupBy.TEAM: "team",
    GroupBy.KEY_ALIAS: "key alias",
    GroupBy.MODEL: "model",
    GroupBy.DEPLOYMENT: "deployment",
    GroupBy.REGION: "region",
    GroupBy.USER: "user",
}


def group_label(group_by: str, group: str) -> str:
    if not group:
        return "everything"
    return f"{GROUP_WORDS.get(GroupBy(group_by), 'group')} {group}"


def custom_details(incident: Incident) -> dict[str, Any]:
    """What PagerDuty shows as the alert's details, and the webhook carries."""
    policy = incident.policy
    details: dict[str, Any] = {
        "policy": policy.name,
        "rule": policy.describe(),
        "group": incident.group_key or "everything",
        "count": incident.last_count,
        "count_at_open": incident.trigger_count,
        "peak": incident.peak_count,
        "window_seconds": policy.window_seconds,
        "started_at": incident.started_at.isoformat(),
        # When the breach happened, and when the console noticed it: later after a gap in
        # evaluation, when it was found by replaying the moments missed.
        "detected_at": incident.detected_at.isoformat(),
        "noticed_at": incident.noticed_at.isoformat(),
        **incident.details,
    }
    if policy.runbook_url:
        details["runbook_url"] = policy.runbook_url
    if policy.description:
        details["description"] = policy.description
    return details


def top_errors(details: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    rows = []
    for row in details.get("top_errors") or []:
        label = " ".join(
            str(part) for part in (row.get("error_class"), row.get("status_code")) if part
        )
        rows.append((label or "unclassified", int(row.get("count") or 0)))
    return tuple(rows)


def notice_for(incident: Incident, action: str) -> Notice:
    policy = incident.policy
    details = custom_details(incident)
    return Notice(
        event=EVENTS[Delivery.Action(action)],
        incident_id=incident.pk,
        dedup_key=incident.dedup_key,
        summary=incident.summary,
        severity=incident.severity,
        policy=policy.name,
        rule=policy.describe(),
        policy_kind=policy.kind,
        group=incident.group_key,
        group_label=group_label(policy.group_by, incident.group_key),
        count=incident.last_count,
        threshold=policy.threshold,
        peak=incident.peak_count,
        window_seconds=policy.window_seconds,
        started_at=incident.started_at,
        detected_at=incident.detected_at,
        noticed_at=incident.noticed_at,
        resolved_at=incident.resolved_at,
        team=incident.team.name if incident.team else "",
        model=incident.model,
        top_errors=top_errors(incident.details),
        sample_request_ids=tuple(str(i) for i in incident.details.get("sample_request_ids") or ()),
        runbook_url=policy.runbook_url,
        incident_url=incident_url(incident),
        silence_url=silence_url(incident),
        details=details,
    )
