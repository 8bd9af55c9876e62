from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from alerting_console.history import change_history


class TeamQuerySet(models.QuerySet["Team"]):
    def for_gateway(self, team_id: str | None, team_alias: str | None = None) -> Team | None:
        """The team a gateway event belongs to: by the gateway's team id (or the slug a team
        token stamps), else by its alias."""
        if team_id:
            # A token bound to a team stamps its gateway id, or its slug when it has none.
            team = self.filter(gateway_team_id=team_id).first() or self.filter(slug=team_id).first()
            if team is not None:
                return team
        if team_alias:
            return self.filter(gateway_team_alias=team_alias).first()
        return None


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
        "Events carrying it belong to this team.",
    )
    gateway_team_alias = models.CharField(
        "gateway team alias",
        max_length=255,
        blank=True,
        help_text="The team alias the gateway sends (LiteLLM: user_api_key_team_alias). "
        "Used when an event carries no team id.",
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
