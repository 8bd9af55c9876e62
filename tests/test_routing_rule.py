"""The routing rule (policies.routing.channels_for): key alias first, then team, then default,
each level's routes filtered by the incident's alert kind; "continue" goes on to the next level;
else no channel. Every branch, pure and on the database."""

from dataclasses import dataclass, field

import pytest

from policies.models import Route
from policies.routing import channels_for, choose_routes, explain


@dataclass
class R:
    """A route as the rule sees it."""

    name: str
    scope: str
    team_id: int | None = None
    key_alias: str = ""
    kinds: list[str] = field(default_factory=list)
    continue_matching: bool = False


ALIAS = R("alias", "key_alias", key_alias="search-service")
TEAM = R("team", "team", team_id=1)
DEFAULT = R("default", "default")


def names(routes):
    return [r.name for r in routes]


def test_the_key_alias_route_wins_over_team_and_default():
    assert names(choose_routes([DEFAULT, TEAM, ALIAS], 1, "search-service", "failures")) == [
        "alias"
    ]


def test_the_team_route_applies_when_the_alias_has_none():
    other = R("other alias", "key_alias", key_alias="other-service")
    assert names(choose_routes([other, TEAM, DEFAULT], 1, "search-service", "failures")) == ["team"]


def test_the_default_applies_when_neither_alias_nor_team_match():
    assert names(choose_routes([TEAM, DEFAULT], 2, "search-service", "failures")) == ["default"]


def test_no_team_and_no_alias_take_the_default():
    assert names(choose_routes([ALIAS, TEAM, DEFAULT], None, None, "failures")) == ["default"]
    assert names(choose_routes([ALIAS, TEAM, DEFAULT], None, "", "failures")) == ["default"]


def test_nothing_matching_and_no_default_is_no_route():
    assert choose_routes([TEAM], 2, None, "failures") == []
    assert choose_routes([], 1, "a", "hung") == []


def test_a_route_naming_kinds_takes_only_those_kinds():
    hangs = R("hangs", "team", team_id=1, kinds=["hung"])
    assert names(choose_routes([hangs, DEFAULT], 1, None, "hung")) == ["hangs"]
    assert names(choose_routes([hangs, DEFAULT], 1, None, "failures")) == ["default"]


def test_every_route_of_the_winning_level_that_takes_the_kind_counts():
    everything = R("team all", "team", team_id=1)
    hangs = R("team hangs", "team", team_id=1, kinds=["hung"])
    assert names(choose_routes([everything, hangs, DEFAULT], 1, None, "hung")) == [
        "team all",
        "team hangs",
    ]
    assert names(choose_routes([everything, hangs, DEFAULT], 1, None, "slow")) == ["team all"]


def test_continue_lets_the_next_levels_add_their_routes():
    team = R("team", "team", team_id=1, continue_matching=True)
    hangs = R("llm-hangs", "default", kinds=["hung"])
    assert names(choose_routes([team, hangs, DEFAULT], 1, None, "hung")) == [
        "team",
        "llm-hangs",
        "default",
    ]
    alias = R("alias", "key_alias", key_alias="a", continue_matching=True)
    assert names(choose_routes([alias, TEAM, DEFAULT], 1, "a", "slow")) == ["alias", "team"]


def test_a_continue_on_a_route_that_does_not_take_the_kind_changes_nothing():
    team_hangs = R("team hangs", "team", team_id=1, kinds=["hung"], continue_matching=True)
    team_all = R("team all", "team", team_id=1)
    assert names(choose_routes([team_hangs, team_all, DEFAULT], 1, None, "failures")) == [
        "team all"
    ]


@pytest.fixture
def search(make_team):
    return make_team(slug="search", gateway_team_id="team-search")


@pytest.mark.django_db
def test_on_the_database_the_channels_of_the_routes_taken_each_once(
    search, make_channel, make_route
):
    pager = make_channel(name="Search on-call")
    slack = make_channel(name="#search", kind="inbox")
    hangs = make_channel(name="#llm-hangs", kind="inbox")
    make_route([pager, slack], scope=Route.Scope.TEAM, team=search, continue_matching=True)
    make_route(hangs, scope=Route.Scope.DEFAULT, kinds=["llm_requests_hanging"])
    make_route(pager, scope=Route.Scope.DEFAULT)

    assert [c.name for c in channels_for(search, None, "hung")] == [
        "Search on-call",
        "#search",
        "#llm-hangs",
    ]
    assert [c.name for c in channels_for(search, None, "slow")] == ["Search on-call", "#search"]
    assert [c.name for c in channels_for(None, None, "hung")] == ["#llm-hangs", "Search on-call"]


@pytest.mark.django_db
def test_it_answers_in_two_queries(search, make_channel, make_route, django_assert_num_queries):
    make_route(make_channel(name="alias"), scope=Route.Scope.KEY_ALIAS, key_alias="s")
    make_route(make_channel(name="team"), scope=Route.Scope.TEAM, team=search)

    with django_assert_num_queries(2):
        assert [c.name for c in channels_for(search, "s", "failures")] == ["alias"]


@pytest.mark.django_db
def test_explain_names_the_channels_and_routes_or_says_nobody(search, make_channel, make_route):
    assert explain(search, None).startswith("nobody: no route matches")
    make_route(make_channel(name="Search on-call"), scope=Route.Scope.TEAM, team=search)
    assert explain(search, None) == "Search on-call (PagerDuty), via the team's route"
