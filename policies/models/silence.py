from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from alerting_console.history import change_history
from alerting_console.moments import shown

MAX_LENGTH = timedelta(days=7)


@dataclass(frozen=True)
class Subject:
    """What an incident is about, as far as muting goes."""

    policy_id: int
    team_id: int | None
    key_alias: str
    model: str


class SilenceQuerySet(models.QuerySet["Silence"]):
    def active_at(self, moment: datetime) -> SilenceQuerySet:
        return self.filter(starts_at__lte=moment, ends_at__gt=moment)


class Silence(models.Model):
    """Mutes pages for a policy, a team, an API-key alias or a model, for a while.

    Incidents that open under it are recorded but not paged; if one is still open when the
    silence ends, it is paged then. Silences are never deleted: ending one early sets its end.
    """

    class Scope(models.TextChoices):
        POLICY = "policy", "A policy"
        TEAM = "team", "A team"
        KEY_ALIAS = "key_alias", "An API-key alias"
        MODEL = "model", "A model"

    scope = models.CharField(max_length=20, choices=Scope.choices, help_text="What is muted.")
    policy = models.ForeignKey(
        "policies.AlertPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="silences",
        help_text="For a policy silence: the policy whose incidents are not paged.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="silences",
        help_text="For a team silence: incidents about this team are not paged.",
    )
    key_alias = models.CharField(
        "API-key alias",
        max_length=255,
        blank=True,
        help_text="For a key-alias silence: incidents about this API-key alias are not paged.",
    )
    model = models.CharField(
        max_length=255,
        blank=True,
        help_text="For a model silence: incidents about this model (LiteLLM's model_group) "
        "are not paged.",
    )
    starts_at = models.DateTimeField(default=timezone.now, help_text="When the silence begins.")
    ends_at = models.DateTimeField(
        help_text="When it ends. An incident still open then is paged at that moment."
    )
    reason = models.CharField(
        max_length=500, help_text="Why: a maintenance window, a known provider outage, …"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        help_text="Who set it.",
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="Who ended it early, if anyone.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    objects = SilenceQuerySet.as_manager()
    history = change_history()

    class Meta:
        ordering = ["-ends_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="silence_ends_after_start"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        scope="policy",
                        policy__isnull=False,
                        team__isnull=True,
                        key_alias="",
                        model="",
                    )
                    | Q(
                        scope="team",
                        policy__isnull=True,
                        team__isnull=False,
                        key_alias="",
                        model="",
                    )
                    | (
                        Q(scope="key_alias", policy__isnull=True, team__isnull=True, model="")
                        & ~Q(key_alias="")
                    )
                    | (
                        Q(scope="model", policy__isnull=True, team__isnull=True, key_alias="")
                        & ~Q(model="")
                    )
                ),
                name="silence_scope_matches_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"silence of {self.target} until {shown(self.ends_at)}"

    @property
    def target(self) -> str:
        if self.scope == self.Scope.POLICY:
            return f"policy “{self.policy}”"
        if self.scope == self.Scope.TEAM:
            return f"team {self.team}"
        if self.scope == self.Scope.KEY_ALIAS:
            return f"API-key alias “{self.key_alias}”"
        return f"model “{self.model}”"

    def matches(self, subject: Subject) -> bool:
        if self.scope == self.Scope.POLICY:
            return self.policy_id == subject.policy_id
        if self.scope == self.Scope.TEAM:
            return self.team_id is not None and self.team_id == subject.team_id
        if self.scope == self.Scope.KEY_ALIAS:
            return bool(subject.key_alias) and self.key_alias == subject.key_alias
        return bool(subject.model) and self.model == subject.model

    def is_active(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at

    def clean(self) -> None:
        needed = {
            self.Scope.POLICY: ("policy", self.policy_id is not None),
            self.Scope.TEAM: ("team", self.team_id is not None),
            self.Scope.KEY_ALIAS: ("key_alias", bool(self.key_alias)),
            self.Scope.MODEL: ("model", bool(self.model)),
        }
        errors: dict[str, str] = {}
        for scope, (field, present) in needed.items():
            if scope == self.scope and not present:
                errors[field] = f"A silence of {self.Scope(scope).label.lower()} needs it."
            elif scope != self.scope and present:
                errors[field] = "Leave it empty: it is not what this silence mutes."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must come after the start."
        elif self.starts_at and self.ends_at and self.ends_at - self.starts_at > MAX_LENGTH:
            # A forgotten silence would mute pages for good: make a new one when it ends.
            errors["ends_at"] = "A silence lasts at most 7 days."
        if errors:
            raise ValidationError(errors)
