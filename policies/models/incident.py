from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PolicyState(models.Model):
    """What the evaluator remembers of a policy between evaluations."""

    policy = models.OneToOneField(
        "policies.AlertPolicy", on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    evaluated_at = models.DateTimeField(
        null=True, blank=True, help_text="The moment the last evaluation counted up to."
    )
    pending = models.JSONField(
        default=dict,
        blank=True,
        help_text="Groups breaching without an incident yet: group → {streak, since}.",
    )

    class Meta:
        verbose_name = "policy evaluation state"

    def __str__(self) -> str:
        return f"state of {self.policy_id}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Incident(models.Model):
    """One problem of one policy in one group, from the breach that opened it to its resolve."""

    policy = models.ForeignKey(
        "policies.AlertPolicy",
        on_delete=models.PROTECT,  # history outlives edits; disable a policy instead
        related_name="incidents",
        help_text="The policy that tripped.",
    )
    group_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="The team, API-key alias or model this incident is about; empty when the "
        "policy counts everything together.",
    )
    status = models.CharField(
        max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    dedup_key = models.CharField(
        max_length=255,
        unique=True,
        help_text="Its key in every channel: PagerDuty's dedup_key, the webhook's, the e-mail "
        "thread's.",
    )
    summary = models.CharField(max_length=1024, help_text="The page's one-line summary.")
    severity = models.CharField(
        max_length=10,
        help_text="Its severity now: the policy's, or critical while at the policy's critical "
        "level.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        help_text="The team the incident was routed for, if known.",
    )
    key_alias = models.CharField(
        max_length=255, blank=True, help_text="The API-key alias, if known."
    )
    model = models.CharField(
        max_length=255, blank=True, help_text="The model (LiteLLM's model_group), if known."
    )
    started_at = models.DateTimeField(help_text="The first breaching evaluation.")
    detected_at = models.DateTimeField(
        help_text="When the breach was detected: the evaluation moment that opened the "
        "incident. After a gap in evaluation, a moment replayed in the past."
    )
    noticed_at = models.DateTimeField(
        default=timezone.now,
        help_text="When the console noticed it: the real time the incident was recorded. "
        "Later than detected_at when a catch-up after a gap in evaluation found the breach.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person who resolved it by hand; empty when it cleared by itself.",
    )
    trigger_count = models.PositiveIntegerField(help_text="The count that tripped it.")
    peak_count = models.PositiveIntegerField(help_text="The highest count while open.")
    last_count = models.PositiveIntegerField(help_text="The count at the last evaluation.")
    clear_since = models.DateTimeField(
        null=True, blank=True, help_text="Below the resolve threshold since (resolve hold)."
    )
    critical_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="At the policy's critical level since; empty at its first level.",
    )
    calm_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Critical, but below the critical level since (it falls back after the "
        "resolve hold).",
    )
    last_paged_at = models.DateTimeField(
        help_text="The last trigger or renotify: when the renotify clock started."
    )
    policy_snapshot = models.JSONField(
        default=dict, help_text="The policy's thresholds when the incident opened."
    )
    details = models.JSONField(
        default=dict, help_text="Top error classes and codes, sample request ids."
    )

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # At most one open incident per (policy, group): two evaluators racing open one.
            models.UniqueConstraint(
                fields=["policy", "group_key"],
                condition=Q(status="open"),
                name="incident_one_open_per_group",
            )
        ]

    def __str__(self) -> str:
        return self.summary


class IncidentEvent(models.Model):
    """The incident's history: appended to, never changed."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        PEAK = "peak", "New peak"
        SEVERITY = "severity", "Severity changed"
        LEVEL = "level", "Level reached"  # a budget's
        MUTED = "muted", "Not paged"
        UNMUTED = "unmuted", "Paged after a silence"
        RENOTIFIED = "renotified", "Paged again"
        DELIVERY = "delivery", "Delivery"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=1000)
    data = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.message}"
