"""A configuration file, parsed and checked: plain values, each with its place in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from policies.config.places import Place, Problem
from policies.models.channel import mask_credential

# The file's keys where they differ from the model's field names.
FILE_KEYS = {
    "filter_team": "team",
    "filter_key_alias": "key_alias",
    "filter_model": "model",
    "continue_matching": "continue",
}


def file_key(field_name: str) -> str:
    return FILE_KEYS.get(field_name, field_name)


@dataclass(frozen=True, kw_only=True)
class Located:
    place: Place = field(compare=False)
    places: dict[str, Place] = field(default_factory=dict, compare=False, repr=False)

    def at(self, key: str) -> Place:
        """The place of one key, or of the item when the key is not written."""
        return self.places.get(key) or self.place.key(key)


@dataclass(frozen=True, kw_only=True)
class TeamSpec(Located):
    slug: str
    name: str
    gateway_team_id: str = ""
    gateway_team_alias: str = ""
    description: str = ""

    def model_values(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "name": self.name,
            "gateway_team_id": self.gateway_team_id,
            "gateway_team_alias": self.gateway_team_alias,
            "description": self.description,
        }


@dataclass(frozen=True, kw_only=True)
class ChannelSpec(Located):
    name: str
    kind: str
    # repr=False: a traceback or debug print must never show the credential, a signing
    # secret or a webhook's header values (settings).
    secret: str = field(default="", repr=False)
    # The kind's settings: text, or for a webhook's headers a mapping (see stored_settings).
    settings: dict[str, str | dict[str, str]] = field(default_factory=dict, repr=False)
    signing_secret: str = field(default="", repr=False)  # "": the console makes one
    team: str = ""  # the owning team's slug
    description: str = ""
    credential_word: str = "credential"  # what the file calls the credential, for reports

    @property
    def masked_secret(self) -> str:
        return mask_credential(self.secret)

    def stored_settings(self) -> dict[str, str]:
        """The settings as the admin's form writes them: a mapping as `Name: value` lines."""
        return {name: stored_setting(value) for name, value in self.settings.items()}

    def model_values(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "secret": self.secret,
            "settings": self.stored_settings(),
            "description": self.description,
        }


def stored_setting(value: str | dict[str, str]) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{name}: {text}" for name, text in value.items())
    return value


@dataclass(frozen=True, kw_only=True)
class RouteSpec(Located):
    scope: str  # Route.Scope value
    target: str  # team slug, API-key alias, or "" for the default route
    channels: tuple[str, ...]  # channel names
    kinds: tuple[str, ...] = ()  # policy kinds; empty: every kind
    continue_matching: bool = False


@dataclass(frozen=True, kw_only=True)
class PolicySpec(Located):
    name: str
    kind: str
    threshold: int
    window_seconds: int
    duration_seconds: float | None = None
    failure_rate_percent: float | None = None
    min_requests: int = 20
    percentile: int | None = None
    budget: Decimal | None = None
    budget_unit: str = ""
    budget_period: str = ""
    budget_time_zone: str = ""
    budget_warning_percents: str = ""
    critical_threshold: int | None = None
    critical_failure_rate_percent: float | None = None
    critical_duration_seconds: float | None = None
    count_gateway_rejections: bool = False
    count_client_errors: bool = False
    consecutive_breaches: int = 1
    resolve_threshold: int | None = None
    resolve_hold_seconds: int = 60
    renotify_seconds: int | None = None
    group_by: str = "everything"
    severity: str = "critical"
    team: str = ""  # only this team's requests (slug)
    key_alias: str = ""
    model: str = ""
    enabled: bool = True
    runbook_url: str = ""
    description: str = ""

    def model_values(self) -> dict[str, object]:
        """The model's fields, but for filter_team: the team is found by slug when applying."""
        return {
            "name": self.name,
            "kind": self.kind,
            "threshold": self.threshold,
            "window_seconds": self.window_seconds,
            "duration_seconds": self.duration_seconds,
            "failure_rate_percent": self.failure_rate_percent,
            "min_requests": self.min_requests,
            "percentile": self.percentile,
            "budget": self.budget,
            "budget_unit": self.budget_unit,
            "budget_period": self.budget_period,
            "budget_time_zone": self.budget_time_zone,
            "budget_warning_percents": self.budget_warning_percents,
            "critical_threshold": self.critical_threshold,
            "critical_failure_rate_percent": self.critical_failure_rate_percent,
            "critical_duration_seconds": self.critical_duration_seconds,
            "count_gateway_rejections": self.count_gateway_rejections,
            "count_client_errors": self.count_client_errors,
            "consecutive_breaches": self.consecutive_breaches,
            "resolve_threshold": self.resolve_threshold,
            "resolve_hold_seconds": self.resolve_hold_seconds,
            "renotify_seconds": self.renotify_seconds,
            "group_by": self.group_by,
            "severity": self.severity,
            "filter_key_alias": self.key_alias,
            "filter_model": self.model,
            "enabled": self.enabled,
            "runbook_url": self.runbook_url,
            "description": self.description,
        }


@dataclass(frozen=True)
class Config:
    filename: str
    teams: list[TeamSpec] = field(default_factory=list)
    channels: list[ChannelSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    policies: list[PolicySpec] = field(default_factory=list)
    # Things worth telling whoever applies the file, which are not errors.
    notes: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.teams or self.channels or self.routes or self.policies)


def validation_problems(exc: ValidationError, spec: Located) -> list[Problem]:
    """A model's ValidationError as problems placed at the line and key of each field."""
    if not hasattr(exc, "error_dict"):
        return [(spec.place, message) for message in exc.messages]
    problems: list[Problem] = []
    for field_name, messages in exc.message_dict.items():
        place = spec.place if field_name == NON_FIELD_ERRORS else spec.at(file_key(field_name))
        problems.extend((place, message) for message in messages)
    return problems
