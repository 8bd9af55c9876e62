"""Which PagerDuty routing key gets an incident.

The rule, in order: a route for the incident's API-key alias; else a route for its team;
else the default route; else none (the incident is still recorded, and shows "no route").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from django.db.models import Q

from policies.models import AlertPolicy, GroupBy, Route, RoutingKey, Team


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


def route_for(team: Team | None, key_alias: str | None) -> Route | None:
    """The route an incident of this (team, key alias) takes, in one query."""
    candidates = Q(scope=Route.Scope.DEFAULT)
    if team is not None:
        candidates |= Q(scope=Route.Scope.TEAM, team=team)
    if key_alias:
        candidates |= Q(scope=Route.Scope.KEY_ALIAS, key_alias=key_alias)
    routes = Route.objects.filter(candidates).select_related("routing_key")
    return choose_route(routes, team.pk if team is not None else None, key_alias)


def routing_key_for(team: Team | None, key_alias: str | None) -> RoutingKey | None:
    """The routing key for an incident of this (team, key alias), in one query."""
    route = route_for(team, key_alias)
    return route.routing_key if route is not None else None


VIA = {
    Route.Scope.KEY_ALIAS: "via the API-key alias route",
    Route.Scope.TEAM: "via the team's route",
    Route.Scope.DEFAULT: "via the default route",
}


def explain(team: Team | None, key_alias: str | None) -> str:
    """Who an incident of this (team, key alias) would page, and by which route; nothing is
    sent. What the routing preview and the "who would be paged" form answer."""
    route = route_for(team, key_alias)
    if route is None:
        return "nobody: no route matches (the incident is recorded and shows “no route”)"
    return f"{route.routing_key} ({VIA[Route.Scope(route.scope)]})"


def preview_for_team(team: Team) -> list[tuple[str, str]]:
    """What the incidents of a team would page. (An incident about an API-key alias that has
    a route of its own goes there first, whatever its team.)"""
    return [(f"incidents of team {team}", explain(team, None))]


def preview_for_policy(policy: AlertPolicy) -> list[tuple[str, str]]:
    """What a policy's incidents would page, group by group as far as they are known: an
    incident is routed by its group (team or key alias) or the policy's filters."""
    team, alias = policy.filter_team, policy.filter_key_alias or None
    if policy.group_by == GroupBy.TEAM and team is None:
        rows = [(f"team {t}", explain(t, alias)) for t in Team.objects.order_by("name")[:20]]
        return [*rows, ("a team the console does not know", explain(None, alias))]
    if policy.group_by == GroupBy.KEY_ALIAS and alias is None:
        aliases = Route.objects.filter(scope=Route.Scope.KEY_ALIAS).order_by("key_alias")
        rows = [
            (f"key alias “{a}”", explain(team, a))
            for a in aliases.values_list("key_alias", flat=True)[:20]
        ]
        return [*rows, ("any other key alias", explain(team, None))]
    return [("every incident", explain(team, alias))]
