"""Silences and maintenance mode: whether an incident may page now, and why not.

An incident that opens while muted is recorded (and visible in the history) but not paged;
the evaluation that first finds it no longer muted, while it is still open, pages it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from alerting_console.moments import shown
from policies.models import GroupBy, Incident, Maintenance, Silence, Subject


def subject_of(incident: Incident) -> Subject:
    """What the incident is surely about: its group, or its policy's filters. Not the team,
    key alias or model most of its sampled requests shared: a platform-wide incident must not
    be muted by one team's silence because that team happened to send the most requests."""
    policy = incident.policy
    group_by = policy.group_by
    return Subject(
        policy_id=policy.pk,
        team_id=incident.team_id if group_by == GroupBy.TEAM else policy.filter_team_id,
        key_alias=incident.group_key if group_by == GroupBy.KEY_ALIAS else policy.filter_key_alias,
        model=incident.group_key if group_by == GroupBy.MODEL else policy.filter_model,
    )


def model_of(group_by: str, group: str, filter_model: str) -> str:
    """The model an incident is surely about: its group, or the policy's filter; empty when
    it is about several (the busiest one is in its details, as information)."""
    return group if group_by == GroupBy.MODEL else filter_model


def first_match(
    silences: Iterable[Silence], subject: Subject, *moments: datetime
) -> Silence | None:
    """The first silence that matches the subject and is active at one of the moments."""
    for silence in silences:
        if any(silence.is_active(m) for m in moments) and silence.matches(subject):
            return silence
    return None


@dataclass(frozen=True)
class Mutes:
    """Maintenance mode and the silences active at a moment or now, read once: an evaluation
    that checks many incidents asks the database once, not once per incident."""

    maintenance: Maintenance
    silences: list[Silence]
    moment: datetime
    now: datetime

    @classmethod
    def load(cls, moment: datetime) -> Mutes:
        now = timezone.now()
        active = (
            Silence.objects.filter(
                Q(starts_at__lte=moment, ends_at__gt=moment)
                | Q(starts_at__lte=now, ends_at__gt=now)
            )
            .select_related("policy", "team", "created_by")
            .order_by("starts_at", "pk")
        )
        return cls(Maintenance.current(), list(active), moment, now)

    def why(self, subject: Subject) -> str:
        """Empty when the incident may page now; else what mutes it, for the timeline.

        `moment` is the evaluated one, which after an outage is in the past (the engine
        replays missed moments); the page would go out now, so a silence active now mutes it
        too."""
        if self.maintenance.is_active(self.now):
            return f"maintenance mode is on ({self.maintenance.reason or 'no reason given'})"
        silence = first_match(self.silences, subject, self.moment, self.now)
        if silence is None:
            return ""
        who = silence.created_by.get_username() if silence.created_by else "someone"
        return (
            f"silence #{silence.pk} of {silence.target} until "
            f"{shown(silence.ends_at)}, set by {who}: {silence.reason}"
        )[:600]


def why_muted(subject: Subject, moment: datetime) -> str:
    """What mutes the subject's incident at `moment` (see ``Mutes.why``); empty: nothing."""
    return Mutes.load(moment).why(subject)
