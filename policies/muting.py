"""Silences and maintenance mode: whether an incident may page now, and why not.

An incident that opens while muted is recorded (and visible in the history) but not paged;
the evaluation that first finds it no longer muted, while it is still open, pages it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policies.models import GroupBy, Incident, Maintenance, Silence, Subject


def subject_of(incident: Incident) -> Subject:
    return Subject(
        policy_id=incident.policy_id,
        team_id=incident.team_id,
        key_alias=incident.key_alias,
        model=incident.model,
    )


def model_of(group_by: str, group: str, filter_model: str, sampled: str) -> str:
    """The model an incident is about: its group, the policy's filter, or what most of its
    requests used."""
    if group_by == GroupBy.MODEL:
        return group
    return filter_model or sampled


def first_match(silences: Iterable[Silence], subject: Subject, moment: datetime) -> Silence | None:
    for silence in silences:
        if silence.is_active(moment) and silence.matches(subject):
            return silence
    return None


def why_muted(subject: Subject, moment: datetime) -> str:
    """Empty when the incident may page at `moment`; else what mutes it, for the timeline."""
    maintenance = Maintenance.current()
    if maintenance.enabled:
        return f"maintenance mode is on ({maintenance.reason or 'no reason given'})"
    active = Silence.objects.active_at(moment).select_related("policy", "team", "created_by")
    silence = first_match(active, subject, moment)
    if silence is None:
        return ""
    who = silence.created_by.get_username() if silence.created_by else "someone"
    return (
        f"silence #{silence.pk} of {silence.target} until {silence.ends_at:%Y-%m-%d %H:%M} UTC, "
        f"set by {who}: {silence.reason}"
    )[:600]
