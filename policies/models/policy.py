from __future__ import annotations

import contextlib
import functools
import operator
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from alerting_console.history import change_history
from ingest import latency
from policies import budget as budgets
from policies import kinds

MAX_WINDOW_SECONDS = 7 * 24 * 3600
PERCENTILES = (50, 90, 95, 99)
# The durations T a policy can use: those the request counts keep a count of slower requests
# for (ingest/latency.py).
DURATIONS = tuple(float(edge) for edge in latency.EDGES)


def validate_duration(value: float) -> None:
    if value in DURATIONS:
        return
    if value <= 0:
        raise ValidationError("The duration must be more than 0 seconds.", code="min_value")
    lower = latency.floor_edge(value)
    higher = next((edge for edge in DURATIONS if edge > value), DURATIONS[-1])
    nearest = sorted({lower, higher})
    raise ValidationError(
        "T must be one of the durations the request counts keep (from "
        f"{latency.spelled(DURATIONS[0])} to {latency.spelled(DURATIONS[-1])}); "
        f"{value:g} s is not one. The nearest: "
        + " or ".join(f"{edge:g} s" for edge in nearest)
        + ".",
        code="duration_not_an_edge",
    )


def validate_time_zone(value: str) -> None:
    problem = budgets.check_time_zone(value)
    if problem:
        raise ValidationError(problem, code="time_zone")


def validate_percents(value: str) -> None:
    try:
        budgets.parse_percents(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="percents") from None


# Each critical level's field: the first level it must lie beyond, and its name in messages.
FIRST_LEVELS = {
    "critical_threshold": ("threshold", "the threshold X"),
    "critical_failure_rate_percent": ("failure_rate_percent", "R"),
    "critical_duration_seconds": ("duration_seconds", "T"),
}


class PolicyKind(models.TextChoices):
    """Names of kinds, for code that names one. The kinds, their labels and the choices that
    offer them are declared in policies/kinds/; tests/test_kinds.py checks each name here is
    one of them."""

    FAILURES = "failures", kinds.get("failures").label
    HUNG = "hung", kinds.get("hung").label
    SLOW = "slow", kinds.get("slow").label
    FAILURE_RATE = "failure_rate", kinds.get("failure_rate").label
    LATENCY_PERCENTILE = "latency_percentile", kinds.get("latency_percentile").label
    FIRST_TOKEN_PERCENTILE = "first_token_percentile", kinds.get("first_token_percentile").label
    DEPLOYMENT_OUTAGE = "deployment_outage", kinds.get("deployment_outage").label
    REGION_OUTAGE = "region_outage", kinds.get("region_outage").label
    TOO_LITTLE_TRAFFIC = "too_little_traffic", kinds.get("too_little_traffic").label
    BUDGET = "budget", kinds.get("budget").label


# Kinds that need T, the duration after which a request counts (hung) or is too slow (slow).
KINDS_WITH_DURATION = frozenset(k.name for k in kinds.KINDS.values() if k.uses_duration)


class GroupBy(models.TextChoices):
    EVERYTHING = "everything", "Everything together"
    TEAM = "team", "Each team"
    KEY_ALIAS = "key_alias", "Each API-key alias"
    MODEL = "model", "Each model"
    DEPLOYMENT = "deployment", "Each deployment"
    REGION = "region", "Each provider's region"
    USER = "user", "Each user (the key's owner)"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


# Each kind's defaults, declared with it (policies/kinds/): LiteLLM's where it has one.
KIND_DEFAULTS = {kind.name: kind.defaults for kind in kinds.KINDS.values()}


def _users(parameter: str) -> list[str]:
    """The kinds that use this parameter."""
    return [k.name for k in kinds.KINDS.values() if parameter in k.parameters]


def _critical_level_constraint(field: str, first: str, name: str) -> models.CheckConstraint:
    """A critical level only in the field of the policy's kind (policies/kinds/), beyond the
    first level: above it, or below it for a kind that pages below X (too little traffic)."""
    users = [k for k in kinds.KINDS.values() if k.critical_field == field]
    above = [k.name for k in users if not k.below]
    below = [k.name for k in users if k.below]
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(kind__in=above, **{f"{field}__gt": F(first)})
        | Q(kind__in=below, **{f"{field}__lt": F(first), f"{field}__gte": 1}),
        name=f"policy_critical_{name}_matches_kind",
    )


class AlertPolicy(models.Model):
    name = models.CharField(
        max_length=200, unique=True, help_text="Shown in the page's summary, so keep it readable."
    )
    kind = models.CharField(
        max_length=40,
        choices=kinds.choices,
        default=PolicyKind.FAILURES,
        help_text="What is counted. Each kind shows its own fields; its defaults are LiteLLM's "
        "where LiteLLM has the alert.",
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
            # The longest window is the kind's: policies/kinds/.
            MinValueValidator(1, "The window must be at least 1 second."),
        ],
        help_text="Y: how far back requests are counted, in seconds (1 s to 7 days; a rolling "
        "budget up to 31 days).",
    )
    duration_seconds = models.FloatField(
        "duration (T, seconds)",
        null=True,
        blank=True,
        validators=[validate_duration],
        help_text="T, for hung, slow and percentile policies only: a request unfinished after "
        "T seconds is hung; one that took longer than T seconds is slow. Leave empty for "
        "failures. T is one of the durations the request counts keep, in seconds: "
        + ", ".join(f"{edge:g}" for edge in DURATIONS)
        + "; for a time to first token, up to 60.",
    )
    failure_rate_percent = models.FloatField(
        "failure rate (R, %)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(0.01, "The failure rate must be more than 0%."),
            MaxValueValidator(100, "The failure rate can be at most 100%."),
        ],
        help_text="R, for failure-rate policies only: page when at least this share of the "
        "window's finished requests failed.",
    )
    critical_duration_seconds = models.FloatField(
        "critical T (seconds)",
        null=True,
        blank=True,
        validators=[validate_duration],
        help_text="Optional, for latency and time-to-first-token percentile policies: the second "
        "level, a T above the first (p95 above 10 s a warning, above 30 s critical).",
    )
    percentile = models.PositiveSmallIntegerField(
        "percentile (p)",
        null=True,
        blank=True,
        choices=[(p, f"p{p}") for p in PERCENTILES],
        help_text="For percentile policies only: which percentile of the window's latencies (or "
        "times to first token) must stay under T.",
    )
    critical_threshold = models.PositiveIntegerField(
        "critical threshold",
        null=True,
        blank=True,
        help_text="Optional: a second level. An incident opens at the first level reached "
        "(threshold X, with the severity below), turns critical once this many requests are "
        "counted, and falls back once the count has stayed under it for the resolve hold. "
        "Above X.",
    )
    critical_failure_rate_percent = models.FloatField(
        "critical failure rate (%)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(0.01, "The failure rate must be more than 0%."),
            MaxValueValidator(100, "The failure rate can be at most 100%."),
        ],
        help_text="Optional, for failure-rate policies: the second level, a share above R.",
    )
    budget = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.0001"), "The budget must be more than 0.")],
        help_text="For budget policies only: what a period may spend, in USD (the requests' "
        "cost, as the gateway reports it) or tokens.",
    )
    budget_unit = models.CharField(
        "budget in",
        max_length=10,
        blank=True,
        default="",
        choices=[("usd", "USD (the requests' cost)"), ("tokens", "tokens")],
    )
    budget_period = models.CharField(
        max_length=10,
        blank=True,
        default="",
        choices=[
            ("day", "Each day"),
            ("week", "Each week (from Monday)"),
            ("month", "Each month"),
            ("rolling", "A rolling window of Y seconds"),
        ],
        help_text="A day, week or month begins at midnight in the time zone below; its "
        "incidents resolve when it is over. A rolling window's resolve once the spend is below "
        "the first level.",
    )
    budget_time_zone = models.CharField(
        "time zone",
        max_length=64,
        blank=True,
        default="",
        validators=[validate_time_zone],
        help_text="For a day, week or month: where it begins at midnight (IANA's names: "
        "Europe/Paris). Empty: UTC.",
    )
    budget_warning_percents = models.CharField(
        "warning levels (%)",
        max_length=64,
        blank=True,
        default="",
        validators=[validate_percents],
        help_text="Percentages of the budget announced as warnings, once each per period: "
        "85, 95 (LiteLLM's). The budget itself (100 %) is critical; a day, week or month is "
        "also announced once when its pace would reach the budget before it ends.",
    )
    min_requests = models.PositiveIntegerField(
        "minimum requests",
        default=20,
        help_text="For failure-rate and percentile policies (latency, time to first token): a "
        "group with fewer finished requests in the window never pages, so one failure (or one "
        "slow request) out of one is not an outage.",
    )
    count_gateway_rejections = models.BooleanField(
        default=False,
        help_text="Also count requests the gateway refused itself (bad key, budget, its own rate "
        "limits). Off by default: those are not provider outages.",
    )
    count_client_errors = models.BooleanField(
        default=False,
        help_text="Also count client errors (other 4xx: bad requests, unknown models). Off by "
        "default: clients cause them.",
    )
    group_by = models.CharField(
        "evaluated per",
        max_length=20,
        choices=GroupBy.choices,
        default=GroupBy.EVERYTHING,
        help_text="Count everything together, or separately per team, API-key alias, model, "
        "deployment or provider's region; "
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
    consecutive_breaches = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1, "At least 1 evaluation.")],
        help_text="Open an incident only after this many evaluations in a row are over the "
        "threshold (evaluations run every few seconds). 1: at once.",
    )
    resolve_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Resolve once the count is below this. Empty: below the threshold X. A lower "
        "value keeps a flapping problem from opening and resolving again and again. "
        "Failure-rate policies resolve once the rate is below R.",
    )
    resolve_hold_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(MAX_WINDOW_SECONDS, "At most 7 days.")],
        help_text="Resolve only after the count has stayed below the resolve threshold this long.",
    )
    renotify_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(60, "At least 60 seconds.")],
        help_text="Optional: page again (same incident) every this many seconds while it is open.",
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

    history = change_history()

    class Meta:
        ordering = ["name"]
        verbose_name = "alert policy"
        verbose_name_plural = "alert policies"
        constraints = [
            # The form validates these too; the constraints also hold for every other writer.
            models.CheckConstraint(condition=Q(threshold__gte=1), name="policy_threshold_min"),
            models.CheckConstraint(
                condition=functools.reduce(
                    operator.or_,
                    [
                        Q(
                            kind=k.name,
                            window_seconds__gte=1,
                            window_seconds__lte=k.max_window_seconds,
                        )
                        for k in kinds.KINDS.values()
                    ],
                ),
                name="policy_window_bounds",
            ),
            # What each kind may be evaluated per.
            models.CheckConstraint(
                condition=functools.reduce(
                    operator.or_,
                    [
                        Q(kind=k.name, group_by__in=k.group_by)
                        for k in kinds.KINDS.values()
                        if k.group_by
                    ],
                    Q(kind__in=[k.name for k in kinds.KINDS.values() if not k.group_by]),
                ),
                name="policy_group_by_matches_kind",
            ),
            # A percentile for the kinds that need one, and only for them.
            models.CheckConstraint(
                condition=Q(
                    kind__in=[k.name for k in kinds.KINDS.values() if "percentile" in k.needs],
                    percentile__in=PERCENTILES,
                )
                | Q(
                    ~Q(kind__in=[k.name for k in kinds.KINDS.values() if "percentile" in k.needs]),
                    percentile__isnull=True,
                ),
                name="policy_percentile_matches_kind",
            ),
            # A budget's fields on budget policies, and only there.
            models.CheckConstraint(
                condition=Q(
                    kind__in=_users("budget"),
                    budget__gt=0,
                    budget_unit__in=["usd", "tokens"],
                    budget_period__in=list(budgets.PERIODS),
                )
                & ~Q(budget_warning_percents="")
                | Q(
                    ~Q(kind__in=_users("budget")),
                    budget__isnull=True,
                    budget_unit="",
                    budget_period="",
                    budget_time_zone="",
                    budget_warning_percents="",
                ),
                name="policy_budget_matches_kind",
            ),
            # Each kind's critical level is in its own field, above its first level.
            _critical_level_constraint("critical_threshold", "threshold", "threshold"),
            _critical_level_constraint(
                "critical_failure_rate_percent", "failure_rate_percent", "rate"
            ),
            _critical_level_constraint("critical_duration_seconds", "duration_seconds", "duration"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=sorted(KINDS_WITH_DURATION),
                    # IN alone lets NULL through: a CHECK passes when it evaluates to NULL.
                    duration_seconds__isnull=False,
                    duration_seconds__in=DURATIONS,
                )
                | Q(
                    kind__in=[k for k in kinds.KINDS if k not in KINDS_WITH_DURATION],
                    duration_seconds__isnull=True,
                ),
                name="policy_duration_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self._keep_first_level()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        kind = kinds.KINDS.get(self.kind)
        if kind is None:
            raise ValidationError({"kind": str(kinds.UnknownKind(self.kind))})
        self._keep_first_level()
        problems = kind.problems(self, kinds.KINDS)
        if problems:
            raise ValidationError(problems)
        self._check_levels()
        if kind.below and self.resolve_threshold is not None:
            raise ValidationError(
                {
                    "resolve_threshold": f"A {kind.noun} policy resolves once the count is back "
                    "at X; leave it empty."
                }
            )
        if self.resolve_threshold is not None and self.resolve_threshold > self.threshold:
            raise ValidationError(
                {"resolve_threshold": "The resolve threshold cannot be above the threshold X."}
            )

    def _check_levels(self) -> None:
        critical = kinds.get(self.kind).critical_field
        if not critical:
            return
        value, name = FIRST_LEVELS[critical]
        first = (getattr(self, value), critical, name)
        level = getattr(self, first[1])
        if level is None:
            return
        if kinds.get(self.kind).below:
            if first[0] is not None and not 1 <= level < first[0]:
                raise ValidationError(
                    {first[1]: f"The critical level must be below {first[2]}, and at least 1."}
                )
        elif first[0] is not None and level <= first[0]:
            raise ValidationError({first[1]: f"The critical level must be above {first[2]}."})
        if self.severity == Severity.CRITICAL:
            raise ValidationError(
                {
                    "severity": "With a critical level, the first level's severity must be "
                    "below critical (warning, say)."
                }
            )

    def _keep_first_level(self) -> None:
        """A budget's threshold X is its first warning level (what pages and history show as
        its threshold)."""
        if self.kind != "budget" or not self.budget_warning_percents:
            return
        with contextlib.suppress(ValueError):  # the field's own validation says why
            self.threshold = budgets.parse_percents(self.budget_warning_percents)[0]

    @property
    def warning_percents(self) -> tuple[int, ...]:
        return budgets.parse_percents(self.budget_warning_percents or "")

    @property
    def critical_level(self) -> float | None:
        """The critical level as evaluation compares it: a count, a share (0 to 1), or a
        percentile's critical T (whose count of slower requests is compared)."""
        if self.critical_failure_rate_percent is not None:
            return self.critical_failure_rate_percent / 100
        if self.critical_duration_seconds is not None:
            return self.critical_duration_seconds
        return self.critical_threshold

    def describe(self) -> str:
        """One line for people: "60 failures within 60 s", "60 hung (> 60 s) within 600 s",
        "5 failures within 60 s, critical at 10"."""
        rule = kinds.get(self.kind).describe(self)
        if self.critical_failure_rate_percent is not None:
            return f"{rule}, critical at {self.critical_failure_rate_percent:g}%"
        if self.critical_duration_seconds is not None:
            return f"{rule}, critical above {self.critical_duration_seconds:g} s"
        if self.critical_threshold is not None:
            if kinds.get(self.kind).below:
                return f"{rule}, critical below {self.critical_threshold}"
            return f"{rule}, critical at {self.critical_threshold}"
        return rule
