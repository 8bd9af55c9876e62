from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from alerting_console.history import change_history
from policies import kinds
from policies.models.channel import Channel


def validate_integration_key(value: str) -> None:
    """A PagerDuty integration key (the 0001 migration's routing keys still name this)."""
    from policies.channels.pagerduty import key_problem

    problem = key_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid")


# LiteLLM's alert_types, and what each is among the console's policy kinds.
LITELLM_KIND_NAMES = kinds.litellm_alert_types()


def alert_kinds(names: list[str] | tuple[str, ...]) -> list[str]:
    """The policy kinds these names stand for (the console's names, or LiteLLM's alert
    types), in the console's order; raises ValueError naming what is unknown."""
    wanted: set[str] = set()
    unknown = []
    for name in names:
        if name in kinds.KINDS:
            wanted.add(name)
        elif name in LITELLM_KIND_NAMES:
            wanted.update(LITELLM_KIND_NAMES[name])
        else:
            unknown.append(name)
    if unknown:
        known = ", ".join([*kinds.KINDS, *LITELLM_KIND_NAMES])
        raise ValueError(f"unknown alert kind {', '.join(map(repr, unknown))}; known: {known}")
    return [kind for kind in kinds.KINDS if kind in wanted]


class Route(models.Model):
    """Which channels get an incident: per API-key alias, per team, or the default; for
    every alert kind, or the kinds it names.

    The rule (see ``policies.routing.channels_for``): the key-alias routes that take the
    incident's kind win over the team's, which win over the default ones; a route that says
    "continue" lets the next level's routes add their channels too.
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
        help_text="For a team route: incidents of this team go to the channels below.",
    )
    key_alias = models.CharField(
        "API-key alias",
        max_length=255,
        blank=True,
        help_text="For a key-alias route: the gateway's API-key alias (LiteLLM: "
        "user_api_key_alias) whose incidents go to the channels below.",
    )
    channels = models.ManyToManyField(
        Channel, related_name="routes", help_text="Where the incidents it takes are sent."
    )
    kinds = models.JSONField(
        "alert kinds",
        default=list,
        blank=True,
        help_text="The policy kinds whose incidents it takes (failures, failure_rate, hung, "
        "slow; LiteLLM's llm_exceptions, llm_requests_hanging and llm_too_slow are accepted as "
        "aliases); empty: every kind.",
    )
    continue_matching = models.BooleanField(
        "continue",
        default=False,
        help_text="Also send to the next level's routes (a team's after a key alias's, the "
        "default after a team's), as Alertmanager's “continue”.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    history = change_history(m2m_fields=[channels])

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
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.KEY_ALIAS:
            target = f"key alias “{self.key_alias}”"
        elif self.scope == self.Scope.TEAM:
            target = f"team {self.team}"
        else:
            target = "default"
        if self.kinds:
            target += f" ({', '.join(self.kinds)})"
        if self.pk is None:
            return target
        names = ", ".join(channel.name for channel in self.channels.all()) or "no channel"
        return f"{target} → {names}"

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
        if not isinstance(self.kinds, list) or not all(isinstance(k, str) for k in self.kinds):
            errors["kinds"] = 'A list of alert kinds, e.g. ["hung", "slow"].'
        else:
            try:
                self.kinds = alert_kinds(self.kinds)
            except ValueError as exc:
                errors["kinds"] = str(exc).capitalize() + "."
        if errors:
            raise ValidationError(errors)
