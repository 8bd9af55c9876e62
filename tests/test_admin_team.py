"""Teams in the admin: how the gateway names them, their policies and whether they have a route."""

import json
from typing import Any

import pytest
from django.urls import reverse

from policies.models import Team

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_team_add")
LIST_URL = reverse("admin:policies_team_changelist")


@pytest.fixture
def search(make_team, make_policy, make_routing_key, make_route):
    team = make_team(
        name="Search", slug="search", gateway_team_id="t-123", gateway_team_alias="search-team"
    )
    make_policy(filter_team=team)
    make_policy(filter_team=team)
    make_route(make_routing_key(), scope="team", team=team)
    return team


def row_of(response: Any, team: Team) -> Any:
    changelist = response.context["cl"]
    return next(t for t in changelist.result_list if t.pk == team.pk)


def test_the_list_shows_gateway_ids_policy_count_and_route(ops, search, make_team):
    quiet = make_team(slug="quiet")

    response = ops.get(LIST_URL)

    html = response.content.decode()
    assert "t-123" in html
    assert "search-team" in html
    assert (row_of(response, search).policy_count, row_of(response, search).has_route) == (2, True)
    assert (row_of(response, quiet).policy_count, row_of(response, quiet).has_route) == (0, False)


@pytest.mark.parametrize("query", ["Sear", "search", "t-123", "search-team"])
def test_teams_are_found_by_name_slug_and_gateway_ids(ops, search, make_team, query):
    make_team(slug="checkout", gateway_team_id="t-999")

    response = ops.get(LIST_URL, {"q": query})

    assert list(response.context["cl"].result_list) == [search]


def test_the_list_can_be_filtered_by_whether_a_team_has_its_own_route(ops, search, make_team):
    quiet = make_team(slug="quiet")

    with_route = ops.get(LIST_URL, {"route": "yes"}).context["cl"].result_list
    without_route = ops.get(LIST_URL, {"route": "no"}).context["cl"].result_list

    assert (list(with_route), list(without_route)) == ([search], [quiet])


def test_the_slug_is_prepopulated_from_the_name(ops):
    response = ops.get(ADD_URL)

    prepopulated = json.loads(response.context["prepopulated_fields_json"])
    assert [(f["id"], f["dependency_ids"]) for f in prepopulated] == [("#id_slug", ["#id_name"])]


def test_adding_a_team_through_the_form_works(ops):
    response = ops.post(
        ADD_URL,
        {
            "name": "Search",
            "slug": "search",
            "description": "",
            "gateway_team_id": "t-123",
            "gateway_team_alias": "",
        },
    )

    assert response.status_code == 302
    assert Team.objects.get().gateway_team_id == "t-123"


def test_a_gateway_team_id_of_another_team_is_refused_on_the_form(ops, search):
    response = ops.post(
        ADD_URL,
        {"name": "Search 2", "slug": "search-2", "gateway_team_id": "t-123"},
    )

    assert response.status_code == 200
    message = "Another team already has this gateway team id."
    assert response.context["adminform"].form.non_field_errors() == [message]
    assert message in response.content.decode()
    assert list(Team.objects.all()) == [search]


def test_an_alias_that_is_another_team_s_gateway_id_is_refused_on_the_form(ops, search):
    response = ops.post(
        ADD_URL,
        {"name": "Ads", "slug": "ads", "gateway_team_alias": "t-123"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["gateway_team_alias"] == [
        "Team “Search” has “t-123” as its gateway team id: requests with this team key would "
        "belong to two teams."
    ]
    assert list(Team.objects.all()) == [search]
