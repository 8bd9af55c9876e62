"""The routing rule: key alias first, then team, then default, else no route."""

import pytest

from policies.models import Route
from policies.routing import routing_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(make_routing_key):
    return {name: make_routing_key(name=name) for name in ("alias", "team", "default", "other")}


@pytest.fixture
def search(make_team):
    return make_team(slug="search", gateway_team_id="team-search")


def test_it_prefers_the_key_alias_route_over_team_and_default(keys, search, make_route):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="search-service")
    make_route(keys["team"], scope=Route.Scope.TEAM, team=search)
    make_route(keys["default"], scope=Route.Scope.DEFAULT)

    assert routing_key_for(search, "search-service") == keys["alias"]


def test_it_uses_the_team_route_when_the_alias_has_none(keys, search, make_route):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="other-service")
    make_route(keys["team"], scope=Route.Scope.TEAM, team=search)
    make_route(keys["default"], scope=Route.Scope.DEFAULT)

    assert routing_key_for(search, "search-service") == keys["team"]


def test_it_uses_the_default_when_neither_alias_nor_team_match(keys, search, make_team, make_route):
    make_route(keys["team"], scope=Route.Scope.TEAM, team=make_team(slug="checkout"))
    make_route(keys["default"], scope=Route.Scope.DEFAULT)

    assert routing_key_for(search, "search-service") == keys["default"]


def test_it_uses_the_default_for_an_incident_with_no_team_or_alias(keys, make_route):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="search-service")
    make_route(keys["default"], scope=Route.Scope.DEFAULT)

    assert routing_key_for(None, None) == keys["default"]
    assert routing_key_for(None, "") == keys["default"]


def test_an_alias_route_applies_without_a_team(keys, make_route):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="search-service")
    make_route(keys["default"], scope=Route.Scope.DEFAULT)

    assert routing_key_for(None, "search-service") == keys["alias"]


def test_it_returns_none_when_nothing_matches_and_there_is_no_default(keys, search, make_route):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="other-service")

    assert routing_key_for(search, "search-service") is None


def test_it_answers_in_one_query(keys, search, make_route, django_assert_num_queries):
    make_route(keys["alias"], scope=Route.Scope.KEY_ALIAS, key_alias="search-service")
    make_route(keys["team"], scope=Route.Scope.TEAM, team=search)

    with django_assert_num_queries(1):
        key = routing_key_for(search, "search-service")
        assert key is not None
        assert key.name == "alias"
