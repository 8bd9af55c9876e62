"""A configuration file (docs/apply-config.md), read and checked into specs.

Every problem is collected, with its line and key, before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from policies.config.channel_section import read_channels, read_routing_keys
from policies.config.litellm import read_general_settings
from policies.config.litellm_channels import file_environment
from policies.config.places import ConfigError
from policies.config.sections import check, offline, read_policies, read_routes, read_teams
from policies.config.spec import Config, Located, RouteSpec
from policies.config.yaml_reader import Reader, compose, is_null, unknown_key_message
from policies.models import AlertPolicy

SECTIONS = ("teams", "channels", "routing_keys", "routes", "policies", "general_settings")

# The other top-level sections of a LiteLLM config.yaml, so that a whole one can be applied.
# They are ignored; any other key is an error, so that a typo cannot pass silently.
LITELLM_SECTIONS = frozenset(
    {
        "model_list",
        "litellm_settings",
        "router_settings",
        "environment_variables",
        "callback_settings",
        "credential_list",
        "include",
        "guardrails",
        "mcp_servers",
        "mcp_aliases",
        "search_tools",
        "vector_store_registry",
        "finetune_settings",
        "files_settings",
        "assistant_settings",
        "prompts",
    }
)


# Top-level keys starting with "x-" are ignored: a place for YAML anchors (&defaults) that
# items then merge (<<: *defaults), as in docker-compose files.
EXTENSION_PREFIX = "x-"


def load_file(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{name}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: cannot be read ({exc.__class__.__name__})"]) from None
    return parse(text, name, environ)


def parse(text: str, filename: str, environ: Mapping[str, str] | None = None) -> Config:
    """The checked configuration, or ConfigError listing every problem found."""
    environ = os.environ if environ is None else environ
    root = compose(text, filename)
    if root is None:
        raise ConfigError([f"{filename}: the file is empty"])
    reader = Reader(filename)
    config = Config(filename)
    entries = reader.mapping(root, "")
    for key, entry in (entries or {}).items():
        if key.startswith(EXTENSION_PREFIX) or key in LITELLM_SECTIONS:
            continue
        if key not in SECTIONS:
            reader.problem(entry.place, _unknown_section(key))
        elif is_null(entry.node):
            continue  # an empty section
        elif key == "teams":
            config.teams.extend(read_teams(reader, entry))
        elif key == "channels":
            config.channels.extend(read_channels(reader, entry, environ, config.notes))
        elif key == "routing_keys":
            # The old word for PagerDuty channels: still read, each a channel of that name.
            config.channels.extend(read_routing_keys(reader, entry, environ, config.notes))
        elif key == "routes":
            config.routes.extend(read_routes(reader, entry))
        elif key == "policies":
            config.policies.extend(read_policies(reader, entry))
    # LiteLLM's policies, channels and routes come last, whatever the order of the sections.
    general_settings = (entries or {}).get("general_settings")
    if general_settings is not None and not is_null(general_settings.node):
        environment = file_environment(
            reader, (entries or {}).get("environment_variables"), environ
        )
        found = read_general_settings(reader, general_settings, environment, config.notes)
        for spec in found.policies:
            policy = AlertPolicy(**spec.model_values())
            if check(reader, spec, offline(policy)):
                config.policies.append(spec)
        config.channels.extend(found.channels)
        _add_routes(config.routes, found.routes)
    _unique(reader, config.teams, "slug", "team slug")
    _unique(reader, config.teams, "name", "team name")
    _unique(reader, config.teams, "gateway_team_id", "gateway team id")
    _unique(reader, config.teams, "gateway_team_alias", "gateway team alias")
    _unique_team_keys(reader, config.teams)
    _unique(reader, config.channels, "name", "channel name")
    _unique(reader, config.policies, "name", "policy name")
    _unique_routes(reader, config.routes)
    if reader.problems:
        raise ConfigError.at(reader.problems)
    if config.is_empty():
        raise ConfigError(
            [
                f"{filename}: nothing to apply: no teams, channels, routes, policies, "
                "or LiteLLM alerting settings that could be carried over",
                *config.notes,
            ]
        )
    return config


def _unknown_section(key: str) -> str:
    message = unknown_key_message(key, SECTIONS)
    if "did you mean" in message:
        return message
    return (
        f"unknown key; the file's sections are {', '.join(SECTIONS)} (LiteLLM's other "
        f"config.yaml sections, and keys starting with {EXTENSION_PREFIX}, are ignored)"
    )


def _unique(reader: Reader, specs: Sequence[Located], attr: str, label: str) -> None:
    seen: dict[object, Located] = {}
    for spec in specs:
        value = getattr(spec, attr)
        if not value:
            continue
        if value in seen:
            first = seen[value].at(attr)
            reader.problem(spec.at(attr), f"{label} {value!r} is also used at line {first.line}")
        else:
            seen[value] = spec


TEAM_KEY_LABELS = {
    "gateway_team_id": "gateway team id",
    "slug": "team slug",
    "gateway_team_alias": "gateway team alias",
}


def _unique_team_keys(reader: Reader, teams: Sequence[Located]) -> None:
    """A request's team key names one team (policies/team_key.py), whichever of a team's
    fields holds it; two in the same field are _unique's to report."""
    seen: dict[str, tuple[Located, str]] = {}
    for team in teams:
        for attr, label in TEAM_KEY_LABELS.items():
            value = getattr(team, attr)
            if not value:
                continue
            if value not in seen:
                seen[value] = (team, attr)
                continue
            first, first_attr = seen[value]
            if first is not team and first_attr != attr:
                where = first.at(first_attr).line
                reader.problem(
                    team.at(attr),
                    f"{label} {value!r} is the {TEAM_KEY_LABELS[first_attr]} of the team at "
                    f"line {where}: requests with this team key would belong to two teams",
                )


def _add_routes(routes: list[RouteSpec], more: list[RouteSpec]) -> None:
    """LiteLLM's routes; one that the file already has (the same target and kinds) gets
    their channels too, since both say where these incidents go."""
    for route in more:
        same = next((i for i, r in enumerate(routes) if _route_key(r) == _route_key(route)), None)
        if same is None:
            routes.append(route)
        else:
            channels = routes[same].channels
            added = tuple(c for c in route.channels if c not in channels)
            routes[same] = replace(routes[same], channels=(*channels, *added))


def _route_key(route: RouteSpec) -> tuple[str, str, tuple[str, ...]]:
    return (route.scope, route.target, route.kinds)


def _unique_routes(reader: Reader, routes: Sequence[RouteSpec]) -> None:
    """A route is matched by its target and kinds: two of them would take turns."""
    seen: dict[tuple[str, str, tuple[str, ...]], RouteSpec] = {}
    for route in routes:
        key = _route_key(route)
        if key in seen:
            kinds = f"for {', '.join(route.kinds)}" if route.kinds else "for every kind"
            reader.problem(
                route.place,
                f"a route {kinds} is also given at line {seen[key].place.line}: give the "
                "channels of both in one route",
            )
        else:
            seen[key] = route
