"""Which PagerDuty routing key gets an incident.

The rule, in order: a route for the incident's API-key alias; else a route for its team;
else the default route; else none (the incident is still recorded, and shows "no route").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from django.db.models import Q

from policies.models import Route, RoutingKey, Team


class RouteLike(Protocol):
    scope: str
    team_id: int | None
    key_alias: str


R = TypeVar("R", bound=RouteLike)


def choose_route(routes: Iterable[R], team_id: int | None, key_alias: str | None) -> R | None:
    by_alias = by_team = default = None
    for route in routes:
        if route.scope == Route.Scope.KEY_ALIAS and key_alias and route.key_alias == key_alias:
            by_alias = route
        elif route.scope == Route.Scope.TEAM and team_id is not None and route.team_id == team_id:
            by_team = route
        elif route.scope == Route.Scope.DEFAULT:
            default = route
    return by_alias or by_team or default


def routing_key_for(team: Team | None, key_alias: str | None) -> RoutingKey | None:
    """The routing key for an incident of this (team, key alias), in one query."""
    candidates = Q(scope=Route.Scope.DEFAULT)
    if team is not None:
        candidates |= Q(scope=Route.Scope.TEAM, team=team)
    if key_alias:
        candidates |= Q(scope=Route.Scope.KEY_ALIAS, key_alias=key_alias)
    routes = Route.objects.filter(candidates).select_related("routing_key")
    route = choose_route(routes, team.pk if team is not None else None, key_alias)
    return route.routing_key if route is not None else None
