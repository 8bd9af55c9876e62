"""The sections of the console's own format: teams, routes, policies (channels:
``channel_section``).

Bounds and rules come from the models: each item is built as an unsaved model instance and
checked with the model's own validation, without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import models
from yaml.nodes import MappingNode, Node, SequenceNode

from policies import kinds
from policies.config.places import Place
from policies.config.spec import (
    Located,
    PolicySpec,
    RouteSpec,
    TeamSpec,
    validation_problems,
)
from policies.config.yaml_reader import Entry, Expected, Fields, Reader, is_null
from policies.models import (
    AlertPolicy,
    GroupBy,
    PolicyKind,
    Route,
    Severity,
    Team,
    alert_kinds,
)

TEAM_SCHEMA: dict[str, Expected] = {
    "slug": "text",
    "name": "text",
    "gateway_team_id": "text",
    "gateway_team_alias": "text",
    "description": "text",
}
ROUTE_SCHEMA: dict[str, Expected] = {"continue": "true or false"}
ROUTE_LISTS = ("channels", "kinds")  # each a name or a list of names
POLICY_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "kind": "text",
    "threshold": "whole number",
    "window_seconds": "whole number",
    "duration_seconds": "number",
    "failure_rate_percent": "number",
    "min_requests": "whole number",
    "percentile": "whole number",
    "budget": "number",
    "budget_unit": "text",
    "budget_period": "text",
    "budget_time_zone": "text",
    "budget_warning_percents": "text",
    "critical_threshold": "whole number",
    "critical_failure_rate_percent": "number",
    "critical_duration_seconds": "number",
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


def read_routes(reader: Reader, entry: Entry) -> list[RouteSpec]:
    """routes: default / teams: {slug: ...} / key_aliases: {alias: ...}, where each ... is a
    channel name, a list of names, a mapping {channels, kinds, continue}, or a list of such
    mappings (one route each: "hangs to #llm-hangs, the rest to PagerDuty")."""
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
        for spec in _routes_of(reader, scope, target, entry):
            route = Route(
                scope=scope,
                key_alias=target if scope == Route.Scope.KEY_ALIAS else "",
                kinds=list(spec.kinds),
            )
            # Only the fields: the team and the channels are looked up when applying.
            if check(reader, spec, partial(route.clean_fields, exclude=["team", "channels"])):
                specs.append(spec)
    return specs


def _routes_of(reader: Reader, scope: str, target: str, entry: Entry) -> list[RouteSpec]:
    node, place = entry.node, entry.place
    if isinstance(node, MappingNode):
        one = _route_rule(reader, scope, target, node, place)
        return [one] if one is not None else []
    if isinstance(node, SequenceNode) and any(isinstance(n, MappingNode) for n in node.value):
        rules = []
        for item, item_place in reader.sequence(node, place.path) or []:
            if not isinstance(item, MappingNode):
                reader.problem(item_place, "a route: a mapping with channels, kinds, continue")
                continue
            rule = _route_rule(reader, scope, target, item, item_place)
            if rule is not None:
                rules.append(rule)
        return rules
    names = _names(reader, node, place)
    if names is None:
        return []
    return [
        RouteSpec(
            place=place,
            places=_route_places(place),
            scope=str(scope),
            target=target,
            channels=names,
        )
    ]


def _route_rule(
    reader: Reader, scope: str, target: str, node: Node, place: Place
) -> RouteSpec | None:
    fields = reader.fields(node, place, ROUTE_SCHEMA, required=(), untyped=ROUTE_LISTS)
    if fields is None:
        return None
    if "channels" not in fields.nodes:
        reader.problem(place.key("channels"), "missing: the channels this route sends to")
        return None
    names = _names(reader, fields.nodes["channels"], fields.at("channels"))
    kinds: list[str] | None = []
    if "kinds" in fields.nodes:
        kinds = reader.texts(fields.nodes["kinds"], fields.at("kinds"))
    if names is None or kinds is None:
        return None
    try:
        kinds = alert_kinds(kinds)
    except ValueError as exc:
        reader.problem(fields.at("kinds"), str(exc))
        return None
    return RouteSpec(
        place=place,
        places={**_route_places(place), **fields.places},
        scope=str(scope),
        target=target,
        channels=names,
        kinds=tuple(kinds),
        continue_matching=fields.flag("continue", False),
    )


def _names(reader: Reader, node: Node, place: Place) -> tuple[str, ...] | None:
    if is_null(node):
        reader.problem(place, "missing: the name of a channel, or a list of them")
        return None
    names = reader.texts(node, place)
    if names is None:
        return None
    if not names:
        reader.problem(place, "name at least one channel")
        return None
    return tuple(names)


def _route_places(place: Place) -> dict[str, Place]:
    return {"team": place, "key_alias": place, "channels": place}


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
                ("kind", PolicyKind.FAILURES.value, list(kinds.KINDS)),
                ("group_by", GroupBy.EVERYTHING.value, GroupBy.values),
                ("severity", Severity.CRITICAL.value, Severity.values),
            )
        )
        if not choices_ok:
            continue
        defaults = kinds.get(kind).defaults
        own = {name: str(value) for name, value in defaults.parameters}
        amount = fields.number("budget", None)
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
            percentile=fields.optional_whole("percentile"),
            budget=None if amount is None else Decimal(str(amount)),
            budget_unit=fields.text("budget_unit", own.get("budget_unit", "")),
            budget_period=fields.text("budget_period", own.get("budget_period", "")),
            budget_time_zone=fields.text("budget_time_zone", own.get("budget_time_zone", "")),
            budget_warning_percents=fields.text(
                "budget_warning_percents", own.get("budget_warning_percents", "")
            ),
            critical_threshold=(
                fields.optional_whole("critical_threshold")
                if "critical_threshold" in fields.values or defaults.critical_threshold is None
                else defaults.critical_threshold
            ),
            critical_failure_rate_percent=fields.number("critical_failure_rate_percent", None),
            critical_duration_seconds=fields.number("critical_duration_seconds", None),
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
            group_by=fields.text("group_by", defaults.group_by),
            severity=fields.text("severity", defaults.severity),
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
