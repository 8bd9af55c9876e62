"""The sections of the console's own format: teams, channels (and routing_keys, the old word for
PagerDuty channels), routes, policies.

Bounds and rules come from the models: each item is built as an unsaved model instance and
checked with the model's own validation, without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from django.core.exceptions import ValidationError
from django.db import models
from yaml.nodes import MappingNode, Node, SequenceNode

from policies import channels as channel_kinds
from policies.config.places import Place
from policies.config.spec import (
    ChannelSpec,
    Located,
    PolicySpec,
    RouteSpec,
    TeamSpec,
    validation_problems,
)
from policies.config.yaml_reader import Entry, Expected, Fields, Reader, is_null
from policies.models import (
    KIND_DEFAULTS,
    AlertPolicy,
    Channel,
    GroupBy,
    PolicyKind,
    Route,
    Severity,
    Team,
    alert_kinds,
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
    "team": "text",
    "description": "text",
}
CHANNEL_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "kind": "text",
    "credential": "text",
    "team": "text",
    "description": "text",
}
ROUTE_SCHEMA: dict[str, Expected] = {"kinds": "list of text", "continue": "true or false"}
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
) -> list[ChannelSpec]:
    """The old word: each routing key is a PagerDuty channel of the same name."""
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(
            node, place, ROUTING_KEY_SCHEMA, required=("name", "integration_key")
        )
        if fields is None or not {"name", "integration_key"} <= fields.values.keys():
            continue
        secret = _secret(reader, fields, "integration_key", environ, notes)
        if secret is None:
            continue
        value, key_place = secret
        spec = ChannelSpec(
            place=place,
            places={**fields.places, "secret": key_place},
            name=fields.text("name"),
            kind="pagerduty",
            secret=value,
            team=fields.text("team"),
            description=fields.text("description"),
        )
        if check(reader, spec, offline(Channel(**spec.model_values()))):
            specs.append(spec)
    return specs


def read_channels(
    reader: Reader, entry: Entry, environ: Mapping[str, str], notes: list[str]
) -> list[ChannelSpec]:
    """Channels of any kind: name, kind, credential (``os.environ/NAME`` keeps it out of the
    file), team, description, and the kind's own settings as keys of their own."""
    setting_names = {f.name for kind in channel_kinds.KINDS.values() for f in kind.fields}
    text: Expected = "text"
    schema: dict[str, Expected] = {**CHANNEL_SCHEMA, **dict.fromkeys(setting_names, text)}
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(node, place, schema, required=("name", "kind"))
        if fields is None or not {"name", "kind"} <= fields.values.keys():
            continue
        kind_name = fields.text("kind")
        kind = channel_kinds.KINDS.get(kind_name)
        if kind is None:
            known = ", ".join(channel_kinds.KINDS)
            reader.problem(fields.at("kind"), f"unknown channel kind {kind_name!r}; known: {known}")
            continue
        own = {f.name for f in kind.fields}
        stray = [name for name in setting_names & fields.values.keys() if name not in own]
        for name in sorted(stray):
            has = ", ".join(sorted(own)) or "none"
            reader.problem(
                fields.at(name), f"not a setting of {kind_name} channels (theirs: {has})"
            )
        value, key_place = "", fields.at("credential")
        if "credential" in fields.values:
            secret = _secret(reader, fields, "credential", environ, notes)
            if secret is None:
                continue
            value, key_place = secret
        if stray:
            continue
        spec = ChannelSpec(
            place=place,
            places={**fields.places, "secret": key_place},
            name=fields.text("name"),
            kind=kind_name,
            secret=value,
            settings={name: fields.text(name) for name in sorted(own) if fields.text(name)},
            team=fields.text("team"),
            description=fields.text("description"),
        )
        if check(reader, spec, offline(Channel(**spec.model_values()))):
            specs.append(spec)
    return specs


def _secret(
    reader: Reader, fields: Fields, key: str, environ: Mapping[str, str], notes: list[str]
) -> tuple[str, Place] | None:
    """A credential, from the environment (``os.environ/NAME``) or written in the file (with a
    note); None when it cannot be had (the problem is noted)."""
    raw = fields.text(key)
    key_place = fields.at(key)
    if not raw.startswith(ENV_PREFIX):
        notes.append(
            f"{key_place}: the credential is written in the file; {ENV_PREFIX}NAME keeps it out "
            "of version control"
        )
        return raw.strip(), key_place
    variable = raw.removeprefix(ENV_PREFIX)
    if not variable:
        reader.problem(key_place, f"name the environment variable: {ENV_PREFIX}NAME")
        return None
    if variable not in environ:
        reader.problem(key_place, f"the environment variable {variable} is not set")
        return None
    value = environ[variable].strip()
    if not value:
        reader.problem(key_place, f"the environment variable {variable} is empty")
        return None
    # Validation messages then say where the credential came from.
    return value, Place(key_place.filename, key_place.line, f"{key_place.path} ({raw})")


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
    entries = reader.mapping(node, place.path, allowed=("channels", "kinds", "continue"))
    if entries is None:
        return None
    if "channels" not in entries:
        reader.problem(place.key("channels"), "missing: the channels this route sends to")
        return None
    names = _names(reader, entries["channels"].node, entries["channels"].place)
    fields = reader.fields(
        node, place, {**ROUTE_SCHEMA, "channels": "list of text"}, allow_unknown=True
    )
    if names is None or fields is None:
        return None
    kinds: list[str] = list(fields.values.get("kinds") or [])  # type: ignore[call-overload]
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
    if isinstance(node, SequenceNode):
        value = reader.typed(node, place, "list of text")
    else:
        value = reader.typed(node, place, "text")
        value = [value] if isinstance(value, str) else value
    if value is None:
        reader.problem(place, "missing: the name of a channel, or a list of them")
        return None
    if not isinstance(value, list) or not value:
        if isinstance(value, list):
            reader.problem(place, "name at least one channel")
        return None
    return tuple(str(v) for v in value)


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
