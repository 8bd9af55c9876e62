from __future__ import annotations

from collections.abc import Collection

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from alerting_console.history import change_history
from policies.team_key import TeamIndex, keys_of


class TeamQuerySet(models.QuerySet["Team"]):
    def owning(self, key: str) -> Team | None:
        """The team owning a request's team key (policies/team_key.py)."""
        if not key:
            return None
        claimants = {
            team.pk: team
            for team in self.filter(
                Q(gateway_team_id=key) | Q(slug=key) | Q(gateway_team_alias=key)
            )
        }
        pk = TeamIndex(claimants.items()).owner(key)
        return claimants.get(pk) if pk is not None else None


class Team(models.Model):
    name = models.CharField(
        max_length=100, unique=True, help_text="How people call the team, e.g. “Search”."
    )
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="Short stable identifier used in configuration files and dedup keys.",
    )
    gateway_team_id = models.CharField(
        "gateway team id",
        max_length=255,
        blank=True,
        help_text="The team id the gateway sends (LiteLLM: user_api_key_team_id). "
        "Requests carrying it belong to this team.",
    )
    gateway_team_alias = models.CharField(
        "gateway team alias",
        max_length=255,
        blank=True,
        help_text="The team alias the gateway sends (LiteLLM: user_api_key_team_alias). "
        "Requests carrying it and no team id belong to this team; LiteLLM sends the id "
        "as well for keys of a team, so set the id when you know it.",
    )
    description = models.TextField(
        blank=True, help_text="Optional notes: who they are, how to reach them."
    )
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="edited_teams",
        help_text="People in the “Team editors” group who may change this team's policies, "
        "routes, routing keys and silences.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    objects = TeamQuerySet.as_manager()
    history = change_history(m2m_fields=[editors])

    class Meta:
        ordering = ["name"]
        constraints = [
            # A gateway identifier must point at one team, or events could not be attributed.
            models.UniqueConstraint(
                fields=["gateway_team_id"],
                condition=~Q(gateway_team_id=""),
                name="team_unique_gateway_team_id",
                violation_error_message="Another team already has this gateway team id.",
            ),
            models.UniqueConstraint(
                fields=["gateway_team_alias"],
                condition=~Q(gateway_team_alias=""),
                name="team_unique_gateway_team_alias",
                violation_error_message="Another team already has this gateway team alias.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """Also: no two teams may claim one team key (policies/team_key.py), whichever of
        their fields holds it, for a request must belong to one team. A check of the database,
        as unique constraints are: made when saving, not when a file is only read."""
        super().validate_constraints(exclude)
        labels = {
            "gateway_team_id": "gateway team id",
            "slug": "slug",
            "gateway_team_alias": "gateway team alias",
        }
        errors: dict[str, str] = {}
        for field in labels:
            key = getattr(self, field)
            if not key or field in (exclude or ()):
                continue
            claims = Q(gateway_team_id=key) | Q(slug=key) | Q(gateway_team_alias=key)
            other = Team.objects.filter(claims).exclude(pk=self.pk).first()
            if other is None:
                continue
            theirs = next(f for f in labels if getattr(other, f) == key)
            if theirs != field:  # the same field is the unique constraints' to report
                errors[field] = (
                    f"Team “{other}” has “{key}” as its {labels[theirs]}: requests with this "
                    "team key would belong to two teams."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def keys(self) -> list[str]:
        """The request team keys this team owns (policies/team_key.py)."""
        return keys_of(self)
