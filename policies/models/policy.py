from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

MAX_WINDOW_SECONDS = 7 * 24 * 3600


class PolicyKind(models.TextChoices):
    FAILURES = "failures", "Failures: X failed requests within Y seconds"
    HUNG = "hung", "Hung: X requests unfinished after T seconds, within Y seconds"
    SLOW = "slow", "Slow: X requests slower than T seconds, within Y seconds"


# Kinds that need T, the duration after which a request counts (hung) or is too slow (slow).
KINDS_WITH_DURATION = frozenset({PolicyKind.HUNG, PolicyKind.SLOW})


class GroupBy(models.TextChoices):
    EVERYTHING = "everything", "Everything together"
    TEAM = "team", "Each team"
    KEY_ALIAS = "key_alias", "Each API-key alias"
    MODEL = "model", "Each model"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


@dataclass(frozen=True)
class KindDefaults:
    threshold: int
    window_seconds: int
    duration_seconds: float | None


# The defaults of LiteLLM's PagerDuty alerting, so its users find what they know:
# 60 failures in 60 s; 60 requests hung after 60 s within 600 s. For slow requests, LiteLLM's
# `alerting_threshold` (300 s) is the duration.
KIND_DEFAULTS = {
    PolicyKind.FAILURES: KindDefaults(threshold=60, window_seconds=60, duration_seconds=None),
    PolicyKind.HUNG: KindDefaults(threshold=60, window_seconds=600, duration_seconds=60.0),
    PolicyKind.SLOW: KindDefaults(threshold=10, window_seconds=600, duration_seconds=300.0),
}


class AlertPolicy(models.Model):
    name = models.CharField(
        max_length=200, unique=True, help_text="Shown in the page's summary, so keep it readable."
    )
    kind = models.CharField(
        max_length=20,
        choices=PolicyKind.choices,
        default=PolicyKind.FAILURES,
        help_text="What is counted. Defaults as in LiteLLM: failures 60 in 60 s; hung after "
        "60 s, 60 in 600 s; slow over 300 s, 10 in 600 s.",
    )
    threshold = models.PositiveIntegerField(
        "threshold (X)",
        default=KIND_DEFAULTS[PolicyKind.FAILURES].threshold,
        validators=[MinValueValidator(1, "The threshold must be at least 1 request.")],
        help_text="X: page when at least this many requests are counted within the window.",
    )
    window_seconds = models.PositiveIntegerField(
        "window (Y, seconds)",
        default=KIND_DEFAULTS[PolicyKind.FAILURES].window_seconds,
        validators=[
            MinValueValidator(1, "The window must be at least 1 second."),
            MaxValueValidator(MAX_WINDOW_SECONDS, "The window can be at most 7 days (604800 s)."),
        ],
        help_text="Y: how far back requests are counted, in seconds (1 s to 7 days).",
    )
    duration_seconds = models.FloatField(
        "duration (T, seconds)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(0.001, "The duration must be more than 0 seconds."),
            MaxValueValidator(MAX_WINDOW_SECONDS, "The duration can be at most 7 days."),
        ],
        help_text="T, for hung and slow policies only: a request unfinished after T seconds "
        "is hung; one that took longer than T seconds is slow. Leave empty for failures.",
    )
    group_by = models.CharField(
        "evaluated per",
        max_length=20,
        choices=GroupBy.choices,
        default=GroupBy.EVERYTHING,
        help_text="Count everything together, or separately per team, API-key alias or model; "
        "each group that crosses the threshold gets its own incident.",
    )
    filter_team = models.ForeignKey(
        "policies.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="policies",
        verbose_name="only team",
        help_text="Optional: count only this team's requests.",
    )
    filter_key_alias = models.CharField(
        "only API-key alias",
        max_length=255,
        blank=True,
        help_text="Optional: count only requests made with this API-key alias.",
    )
    filter_model = models.CharField(
        "only model",
        max_length=255,
        blank=True,
        help_text="Optional: count only requests for this model (the gateway's public model "
        "name, LiteLLM's model_group).",
    )
    severity = models.CharField(
        max_length=20,
        choices=Severity.choices,
        default=Severity.CRITICAL,
        help_text="The PagerDuty severity of the page.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Disabled policies are not evaluated and page nobody."
    )
    runbook_url = models.URLField(
        "runbook URL",
        blank=True,
        help_text="Optional: a link sent with the page, for the responder.",
    )
    description = models.TextField(
        blank=True, help_text="Optional: what this policy means and what to do; sent with the page."
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    class Meta:
        ordering = ["name"]
        verbose_name = "alert policy"
        verbose_name_plural = "alert policies"
        constraints = [
            # The form validates these too; the constraints also hold for every other writer.
            models.CheckConstraint(condition=Q(threshold__gte=1), name="policy_threshold_min"),
            models.CheckConstraint(
                condition=Q(window_seconds__gte=1, window_seconds__lte=MAX_WINDOW_SECONDS),
                name="policy_window_bounds",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=sorted(KINDS_WITH_DURATION),
                    # gt alone lets NULL through: a CHECK passes when it evaluates to NULL.
                    duration_seconds__isnull=False,
                    duration_seconds__gt=0,
                )
                | Q(kind="failures", duration_seconds__isnull=True),
                name="policy_duration_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in KINDS_WITH_DURATION and self.duration_seconds is None:
            noun = "hung" if self.kind == PolicyKind.HUNG else "slow"
            raise ValidationError(
                {
                    "duration_seconds": f"A {self.kind} policy needs T: after how many seconds a "
                    f"request counts as {noun}."
                }
            )
        if self.kind not in KINDS_WITH_DURATION and self.duration_seconds is not None:
            raise ValidationError(
                {"duration_seconds": "Only hung and slow policies use T; leave it empty."}
            )

    def describe(self) -> str:
        """One line for people: "60 failures within 60 s", "60 hung (> 60 s) within 600 s"."""
        if self.kind == PolicyKind.FAILURES:
            what = "failures"
        elif self.kind == PolicyKind.HUNG:
            what = f"hung (> {self.duration_seconds:g} s)"
        else:
            what = f"slow (> {self.duration_seconds:g} s)"
        return f"{self.threshold} {what} within {self.window_seconds} s"
