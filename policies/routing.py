"""Which channels get an incident: the one function that answers it, ``channels_for``.

The rule, level by level, most specific first:
1. the routes of the incident's API-key alias,
2. the routes of its team,
3. the default routes.
At a level, the routes that take the incident's alert kind (a route naming no kind takes every
kind) all count: their channels are the answer, together. The first level with such a route
wins, and the less specific levels are not asked, unless one of its routes says "continue"
(Alertmanager's word): then the next level's routes add their channels too. No route at all:
no channel (the incident is still recorded, and shows "no route").

Channels that are disabled are part of the answer: the dispatch step records that they were
skipped, so that nobody believes they were told.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.db.models import Q

from policies import kinds
from policies.models import AlertPolicy, Channel, GroupBy, Route, Team

LEVELS = (Route.Scope.KEY_ALIAS, Route.Scope.TEAM, Route.Scope.DEFAULT)
VIA = {
    Route.Scope.KEY_ALIAS: "the API-key alias route",
    Route.Scope.TEAM: "the team's route",
    Route.Scope.DEFAULT: "the default route",
}


class RouteLike(Protocol):
    scope: str
    team_id: int | None
    key_alias: str
    kinds: list[str]
    continue_matching: bool


def matches(route: RouteLike, team_id: int | None, key_alias: str | None, kind: str) -> bool:
    if route.kinds and kind not in route.kinds:
        return False
    if route.scope == Route.Scope.KEY_ALIAS:
        return bool(key_alias) and route.key_alias == key_alias
    if route.scope == Route.Scope.TEAM:
        return team_id is not None and route.team_id == team_id
    return route.scope == Route.Scope.DEFAULT


R = TypeVar("R", bound=RouteLike)


def choose_routes(
    routes: Iterable[R], team_id: int | None, key_alias: str | None, kind: str
) -> list[R]:
    """The routes an incident takes (see the module's rule), most specific first."""
    candidates = [r for r in routes if matches(r, team_id, key_alias, kind)]
    chosen: list[R] = []
    for level in LEVELS:
        here = [r for r in candidates if r.scope == level]
        chosen += here
        if here and not any(r.continue_matching for r in here):
            break
    return chosen


@dataclass(frozen=True)
class Routing:
    """The answer: the routes taken and their channels, each once, in route order."""

    routes: list[Route]
    channels: list[Channel]

    def explain(self) -> str:
        if not self.channels:
            return "nobody: no route matches (the incident is recorded and shows “no route”)"
        taken = {route.scope for route in self.routes}
        via = [VIA[level] for level in LEVELS if level in taken]  # most specific first
        names = ", ".join(
            f"{c}" + (" (disabled: nothing is sent)" if c.disabled else "") for c in self.channels
        )
        return f"{names}, via {' and '.join(via)}"


def route(team: Team | None, key_alias: str | None, kind: str) -> Routing:
    """The routes and channels for an incident of this team, key alias and alert kind, in two
    queries."""
    candidates = Q(scope=Route.Scope.DEFAULT)
    if team is not None:
        candidates |= Q(scope=Route.Scope.TEAM, team=team)
    if key_alias:
        candidates |= Q(scope=Route.Scope.KEY_ALIAS, key_alias=key_alias)
    routes = list(
        Route.objects.filter(candidates).prefetch_related("channels").order_by("scope", "pk")
    )
    chosen = choose_routes(routes, team.pk if team is not None else None, key_alias, kind)
    channels: dict[int, Channel] = {}
    for taken in chosen:
        for channel in sorted(taken.channels.all(), key=lambda c: c.pk):
            channels.setdefault(channel.pk, channel)
    return Routing(chosen, list(channels.values()))


def channels_for(team: Team | None, key_alias: str | None, kind: str) -> list[Channel]:
    """Which channels an incident of this team, key alias and alert kind goes to."""
    return route(team, key_alias, kind).channels


def explain(team: Team | None, key_alias: str | None, kind: str = "") -> str:
    """Who an incident would notify, and by which routes; nothing is sent. What the routing
    previews and the "who would be notified" form answer. No kind: a failures incident."""
    return route(team, key_alias, kind or "failures").explain()


def preview_for_team(team: Team) -> list[tuple[str, str]]:
    """What the incidents of a team would notify, kind by kind where routes differ. (An
    incident about an API-key alias that has routes of its own goes there first.)"""
    answers = [(kind, explain(team, None, kind)) for kind in kinds.KINDS]
    if len({answer for _, answer in answers}) == 1:
        return [(f"incidents of team {team}", answers[0][1])]
    return [(f"{kind} incidents of team {team}", answer) for kind, answer in answers]


def preview_for_policy(policy: AlertPolicy) -> list[tuple[str, str]]:
    """What a policy's incidents would notify, group by group as far as they are known: an
    incident is routed by its group (team or key alias), its policy's filters and its kind."""
    team, alias, kind = policy.filter_team, policy.filter_key_alias or None, policy.kind
    if policy.group_by == GroupBy.TEAM and team is None:
        rows = [(f"team {t}", explain(t, alias, kind)) for t in Team.objects.order_by("name")[:20]]
        return [*rows, ("a team the console does not know", explain(None, alias, kind))]
    if policy.group_by == GroupBy.KEY_ALIAS and alias is None:
        aliases = Route.objects.filter(scope=Route.Scope.KEY_ALIAS).order_by("key_alias")
        names = sorted(set(aliases.values_list("key_alias", flat=True)))[:20]
        rows = [(f"key alias “{a}”", explain(team, a, kind)) for a in names]
        return [*rows, ("any other key alias", explain(team, None, kind))]
    return [("every incident", explain(team, alias, kind))]
