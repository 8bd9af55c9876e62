"""Links a message carries back into the console: the incident's page and the silence form
filled in for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from policies.models import GroupBy, Incident


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def incident_url(incident: Incident) -> str:
    """The incident's page, absolute ("" without CONSOLE_BASE_URL: a message cannot link)."""
    if not settings.CONSOLE_BASE_URL:
        return ""
    return settings.CONSOLE_BASE_URL + reverse("admin:policies_incident_change", args=[incident.pk])


def silence_url(incident: Incident) -> str:
    """The silence form filled in for the incident's group (or policy), absolute."""
    if not settings.CONSOLE_BASE_URL:
        return ""
    return settings.CONSOLE_BASE_URL + silence_links(incident)[0].url


def silence_links(incident: Incident) -> list[Link]:
    """The silence form, filled in for this incident's group, or its policy. A silence mutes
    one of them: a team's mutes its every policy, a policy's its every group."""
    policy = incident.policy
    reason = f"Incident #{incident.pk}: {incident.summary}"[:500]
    add = reverse("admin:policies_silence_add")
    fields: list[tuple[str, dict[str, Any]]] = []
    if policy.group_by == GroupBy.TEAM and incident.team_id is not None:
        fields.append((f"team {incident.team}", {"scope": "team", "team": incident.team_id}))
    elif policy.group_by == GroupBy.KEY_ALIAS and incident.group_key:
        label = f"API-key alias {incident.group_key}"
        fields.append((label, {"scope": "key_alias", "key_alias": incident.group_key}))
    elif policy.group_by == GroupBy.MODEL and incident.group_key:
        label = f"model {incident.group_key}"
        fields.append((label, {"scope": "model", "model": incident.group_key}))
    fields.append((f"policy “{policy.name}”", {"scope": "policy", "policy": policy.pk}))
    return [
        Link(f"Silence {label}", f"{add}?{urlencode({**prefill, 'reason': reason})}")
        for label, prefill in fields
    ]
