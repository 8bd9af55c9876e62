"""Which team a request belongs to: one rule, for counting, grouping, routing, muting and the
home page.

A request's *team key* is the team id its gateway sent, or, when it sent none, its team
alias. A console team owns the keys it is configured with: its gateway team id, its slug
(what an ingest token bound to a team without a gateway id stamps) and its gateway team alias.
An alias therefore only ever claims requests sent without a team id: LiteLLM sends both for a
key that belongs to a team, and such a request is its id's. No two teams may share a key
(Team.validate_constraints), so a key names at most one team.

Group keys of policies grouped by team are these keys too (selection.GROUP_EXPRESSIONS), so an
incident's group says which team it is about, and stays the same from one release to the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

KEY_SQL = "COALESCE(NULLIF(gateway_team_id, ''), gateway_team_alias)"


class TeamLike(Protocol):
    gateway_team_id: str
    slug: str
    gateway_team_alias: str


def key_of(team_id: str, alias: str) -> str:
    """The team key of a request that carries this gateway team id and alias."""
    return team_id or alias


def keys_of(team: TeamLike) -> list[str]:
    """The keys a team owns, strongest first: its gateway id, its slug, its alias."""
    keys: list[str] = []
    for key in (team.gateway_team_id, team.slug, team.gateway_team_alias):
        if key and key not in keys:
            keys.append(key)
    return keys


def condition(team: TeamLike) -> tuple[str, tuple[Any, ...]]:
    """SQL selecting the team's requests (on request rows and on rows of request counts)."""
    keys = keys_of(team)
    return f"{KEY_SQL} IN ({', '.join(['%s'] * len(keys))})", tuple(keys)


class TeamIndex:
    """Team keys to the teams owning them. Should two teams claim one key (rows saved before
    the console forbade it), a gateway id wins over a slug and a slug over an alias, as
    everywhere in the console."""

    def __init__(self, teams: Iterable[tuple[int, TeamLike]]) -> None:
        self._owner: dict[str, tuple[int, int]] = {}  # key -> (strength, team pk)
        for pk, team in teams:
            for strength, key in enumerate(
                (team.gateway_team_id, team.slug, team.gateway_team_alias)
            ):
                if key and (key not in self._owner or strength < self._owner[key][0]):
                    self._owner[key] = (strength, pk)

    def owner(self, key: str) -> int | None:
        """The team owning a team key, if any."""
        found = self._owner.get(key) if key else None
        return found[1] if found else None

    def find(self, team_id: str, alias: str) -> int | None:
        """The team a request carrying this gateway team id and alias belongs to."""
        return self.owner(key_of(team_id, alias))
