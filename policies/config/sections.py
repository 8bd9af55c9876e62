"""The sections of the console's own format: teams, routing_keys, routes, policies.

Bounds and rules come from the models: each item is built as an unsaved model instance and
checked with the model's own validation, without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from django.core.exceptions import ValidationError
from django.db import models

from policies.config.places import Place
from policies.config.spec import (
    Located,
    PolicySpec,
    RouteSpec,
    RoutingKeySpec,
    TeamSpec,
    validation_problems,
)
from policies.config.yaml_reader import Entry, Expected, Fields, Reader, is_null
from policies.models import (
    KIND_DEFAULTS,
    AlertPolicy,
    GroupBy,
    PolicyKind,
    Route,
    RoutingKey,
    Severity,
    Team,
)

ENV_PREFIX = "os.environ/"  # as in LiteLLM's config.yaml

TEAM_SCHEMA: dict[str, Expected] = {
    "slug": "text",
    "name": "text",
    "gateway_team_id": "text",
    "gateway_team_alias": "text",
    "description": "text",
}
ROUTING_KEY_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "integration_key": "text",
    "description": "text",
}
POLICY_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "kind": "text",
    "threshold": "whole number",
    "window_seconds": "whole number",
    "duration_seconds": "number",
    "failure_rate_percent": "number",
    "min_requests": "whole number",
    "count_gateway_rejections": "true or false",
    "count_client_errors": "true or false",
    "consecutive_breaches": "whole number",
    "resolve_threshold": "whole number",
    "resolve_hold_seconds": "whole number",
    "renotify_seconds": "whole number",
    "group_by": "text",
    "severity": "text",
    "team": "text",
    "key_alias": "text",
    "model": "text",
    "enabled": "true or false",
    "runbook_url": "text",
    "description": "text",
}


# The model's own defaults, so that the file and the admin start from the same values.
MODEL_DEFAULTS: dict[str, int] = {
    "min_requests": AlertPolicy.min_requests.field.get_default(),
    "consecutive_breaches": AlertPolicy.consecutive_breaches.field.get_default(),
    "resolve_hold_seconds": AlertPolicy.resolve_hold_seconds.field.get_default(),
}


def read_teams(reader: Reader, entry: Entry) -> list[TeamSpec]:
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(node, place, TEAM_SCHEMA, required=("slug", "name"))
        if fields is None or not {"slug", "name"} <= fields.values.keys():
            continue
        spec = TeamSpec(
            place=place,
            places=fields.places,
            slug=fields.text("slug"),
            name=fields.text("name"),
            gateway_team_id=fields.text("gateway_team_id"),
            gateway_team_alias=fields.text("gateway_team_alias"),
            description=fields.text("description"),
        )
        team = Team(**spec.model_values())
        if check(reader, spec, offline(team)):
            specs.append(spec)
    return specs


def read_routing_keys(
    reader: Reader, entry: Entry, environ: Mapping[str, str], notes: list[str]
) -> list[RoutingKeySpec]:
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(
            node, place, ROUTING_KEY_SCHEMA, required=("name", "integration_key")
        )
        if fields is None or not {"name", "integration_key"} <= fields.values.keys():
            continue
        raw = fields.text("integration_key")
        key_place = fields.at("integration_key")
        if raw.startswith(ENV_PREFIX):
            variable = raw.removeprefix(ENV_PREFIX)
            if not variable:
                reader.problem(key_place, f"name the environment variable: {ENV_PREFIX}NAME")
                continue
            if variable not in environ:
                reader.problem(key_place, f"the environment variable {variable} is not set")
                continue
            value = environ[variable].strip()
            if not value:
                reader.problem(key_place, f"the environment variable {variable} is empty")
                continue
            # Validation messages then say where the key came from.
            key_place = Place(key_place.filename, key_place.line, f"{key_place.path} ({raw})")
        else:
            value = raw.strip()
            notes.append(
                f"{key_place}: the key is written in the file; {ENV_PREFIX}NAME keeps it out of "
                "version control"
            )
        spec = RoutingKeySpec(
            place=place,
            places={**fields.places, "integration_key": key_place},
            name=fields.text("name"),
            integration_key=value,
            description=fields.text("description"),
        )
        key = RoutingKey(**spec.model_values())
        if check(reader, spec, offline(key)):
            specs.append(spec)
    return specs


def read_routes(reader: Reader, entry: Entry) -> list[RouteSpec]:
    entries = reader.mapping(
        entry.node, entry.place.path, allowed=("default", "teams", "key_aliases")
    )
    if not entries:
        return []
    specs = []
    if "default" in entries:
        specs.extend(_route_specs(reader, Route.Scope.DEFAULT, {"": entries["default"]}))
    for key, scope in (("teams", Route.Scope.TEAM), ("key_aliases", Route.Scope.KEY_ALIAS)):
        if key in entries and not is_null(entries[key].node):
            targets = reader.mapping(entries[key].node, entries[key].place.path)
            specs.extend(_route_specs(reader, scope, targets or {}))
    return specs


def _route_specs(reader: Reader, scope: str, targets: Mapping[str, Entry]) -> list[RouteSpec]:
    specs = []
    for target, entry in targets.items():
        name = reader.typed(entry.node, entry.place, "text")
        if not isinstance(name, str):
            if name is None:
                reader.problem(entry.place, "missing: the name of a routing key")
            continue
        place = entry.place
        spec = RouteSpec(
            place=place,
            places={"team": place, "key_alias": place, "routing_key": place},
            scope=str(scope),
            target=target,
            routing_key=name,
        )
        route = Route(scope=scope, key_alias=target if scope == Route.Scope.KEY_ALIAS else "")
        # Only the fields: the team and the routing key are looked up when applying.
        if check(reader, spec, partial(route.clean_fields, exclude=["team", "routing_key"])):
            specs.append(spec)
    return specs


def read_policies(reader: Reader, entry: Entry) -> list[PolicySpec]:
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(node, place, POLICY_SCHEMA, required=("name",))
        if fields is None or "name" not in fields.values:
            continue
        kind = fields.text("kind", PolicyKind.FAILURES.value)
        choices_ok = all(
            _choice(reader, fields, key, default, values)
            for key, default, values in (
                ("kind", PolicyKind.FAILURES.value, PolicyKind.values),
                ("group_by", GroupBy.EVERYTHING.value, GroupBy.values),
                ("severity", Severity.CRITICAL.value, Severity.values),
            )
        )
        if not choices_ok:
            continue
        defaults = KIND_DEFAULTS[PolicyKind(kind)]
        spec = PolicySpec(
            place=place,
            places=fields.places,
            name=fields.text("name"),
            kind=kind,
            threshold=fields.whole("threshold", defaults.threshold),
            window_seconds=fields.whole("window_seconds", defaults.window_seconds),
            # No default for T: it decides what is counted, so it is never guessed.
            duration_seconds=fields.number("duration_seconds", None),
            failure_rate_percent=fields.number("failure_rate_percent", None),
            min_requests=fields.whole("min_requests", MODEL_DEFAULTS["min_requests"]),
            count_gateway_rejections=fields.flag("count_gateway_rejections", False),
            count_client_errors=fields.flag("count_client_errors", False),
            consecutive_breaches=fields.whole(
                "consecutive_breaches", MODEL_DEFAULTS["consecutive_breaches"]
            ),
            resolve_threshold=fields.optional_whole("resolve_threshold"),
            resolve_hold_seconds=fields.whole(
                "resolve_hold_seconds", MODEL_DEFAULTS["resolve_hold_seconds"]
            ),
            renotify_seconds=fields.optional_whole("renotify_seconds"),
            group_by=fields.text("group_by", GroupBy.EVERYTHING.value),
            severity=fields.text("severity", Severity.CRITICAL.value),
            team=fields.text("team"),
            key_alias=fields.text("key_alias"),
            model=fields.text("model"),
            enabled=fields.flag("enabled", True),
            runbook_url=fields.text("runbook_url"),
            description=fields.text("description"),
        )
        policy = AlertPolicy(**spec.model_values())
        if check(reader, spec, offline(policy)):
            specs.append(spec)
    return specs


def _choice(reader: Reader, fields: Fields, key: str, default: str, values: Sequence[str]) -> bool:
    if fields.text(key, default) in values:
        return True
    reader.problem(fields.at(key), "must be one of: " + ", ".join(values))
    return False


def offline(instance: models.Model) -> Callable[[], None]:
    """The model's checks that need no database; unique values and constraints wait for apply."""
    return partial(instance.full_clean, validate_unique=False, validate_constraints=False)


def check(reader: Reader, spec: Located, validate: Callable[[], None]) -> bool:
    try:
        validate()
    except ValidationError as exc:
        reader.problems.extend(validation_problems(exc, spec))
        return False
    return True
