from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from alerting_console.history import change_history
from policies.masking import mask_secret

INTEGRATION_KEY_RE = re.compile(r"[A-Za-z0-9]{32}")


def validate_integration_key(value: str) -> None:
    if len(value) != 32:
        raise ValidationError(
            "A PagerDuty integration key is exactly 32 characters; this one has %(n)d.",
            code="length",
            params={"n": len(value)},
        )
    if not INTEGRATION_KEY_RE.fullmatch(value):
        raise ValidationError(
            "A PagerDuty integration key has only letters and digits.", code="characters"
        )


class RoutingKey(models.Model):
    """A PagerDuty service's Events API v2 integration key (its "routing key")."""

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text="The PagerDuty service this key belongs to, e.g. “Search on-call”.",
    )
    integration_key = models.CharField(
        max_length=32,
        validators=[validate_integration_key],
        help_text="The 32-character Integration Key from the service's Events API v2 "
        "integration in PagerDuty. It is a secret: it is never shown whole after saving.",
    )
    # Editable only so that the change history compares it; no form offers it.
    key_hint = models.CharField(
        "key",
        max_length=20,
        blank=True,
        help_text="The key, masked: what the change history shows of it.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routing_keys",
        verbose_name="owning team",
        help_text="Who may edit this key and route to it: that team's editors (empty: only ops "
        "admins). Owning a key routes nothing to it: routes decide which incidents page it.",
    )
    description = models.TextField(blank=True, help_text="Optional notes about this service.")
    last_success_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The last event PagerDuty accepted."
    )
    refused_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When PagerDuty last refused an event for this key as invalid (HTTP 400).",
    )
    refusal = models.CharField(
        max_length=500,
        blank=True,
        editable=False,
        help_text="What PagerDuty said when it refused: often a wrong or deleted integration key.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    # The key itself is never copied into the history: its masked hint stands in for it.
    history = change_history(
        excluded_fields=["integration_key", "last_success_at", "refused_at", "refusal"]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "PagerDuty routing key"

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_key})"

    def __repr__(self) -> str:
        # Never let the key reach a log line through repr().
        return f"<RoutingKey {self.pk} {self.name!r} {self.masked_key}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.key_hint = self.masked_key
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "integration_key" in update_fields:
            kwargs["update_fields"] = {*update_fields, "key_hint"}
        super().save(*args, **kwargs)

    @property
    def masked_key(self) -> str:
        return mask_secret(self.integration_key)


class Route(models.Model):
    """Which routing key gets an incident: per API-key alias, per team, or the default.

    The rule (see ``policies.routing``): a key-alias route wins over a team route, which wins
    over the default route.
    """

    class Scope(models.TextChoices):
        KEY_ALIAS = "key_alias", "API-key alias"
        TEAM = "team", "Team"
        DEFAULT = "default", "Default (everything else)"

    scope = models.CharField(
        max_length=20,
        choices=Scope.choices,
        help_text="What this route matches. Key-alias routes win over team routes, "
        "which win over the default route.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routes",
        help_text="For a team route: incidents of this team go to the routing key below.",
    )
    key_alias = models.CharField(
        "API-key alias",
        max_length=255,
        blank=True,
        help_text="For a key-alias route: the gateway's API-key alias (LiteLLM: "
        "user_api_key_alias) whose incidents go to the routing key below.",
    )
    routing_key = models.ForeignKey(
        RoutingKey,
        on_delete=models.PROTECT,
        related_name="routes",
        help_text="The PagerDuty service that is paged.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    history = change_history()

    class Meta:
        ordering = ["scope", "key_alias"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="key_alias", team__isnull=True) & ~Q(key_alias="")
                    | Q(scope="team", team__isnull=False, key_alias="")
                    | Q(scope="default", team__isnull=True, key_alias="")
                ),
                name="route_scope_matches_fields",
            ),
            models.UniqueConstraint(
                fields=["team"],
                condition=Q(scope="team"),
                name="route_one_per_team",
                violation_error_message="This team already has a route.",
            ),
            models.UniqueConstraint(
                fields=["key_alias"],
                condition=Q(scope="key_alias"),
                name="route_one_per_key_alias",
                violation_error_message="This API-key alias already has a route.",
            ),
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(scope="default"),
                name="route_one_default",
                violation_error_message="There is already a default route.",
            ),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.KEY_ALIAS:
            target = f"key alias “{self.key_alias}”"
        elif self.scope == self.Scope.TEAM:
            target = f"team {self.team}"
        else:
            target = "default"
        return f"{target} → {self.routing_key.name}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.scope == self.Scope.KEY_ALIAS:
            if not self.key_alias:
                errors["key_alias"] = "A key-alias route needs the API-key alias it matches."
            if self.team_id is not None:
                errors["team"] = "A key-alias route matches the alias only; leave the team empty."
        elif self.scope == self.Scope.TEAM:
            if self.team_id is None:
                errors["team"] = "A team route needs the team it matches."
            if self.key_alias:
                errors["key_alias"] = "A team route matches the team only; leave the alias empty."
        elif self.scope == self.Scope.DEFAULT:
            if self.team_id is not None:
                errors["team"] = "The default route matches everything; leave the team empty."
            if self.key_alias:
                errors["key_alias"] = "The default route matches everything; leave the alias empty."
        if errors:
            raise ValidationError(errors)
