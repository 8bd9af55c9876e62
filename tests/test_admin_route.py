"""Routes in the admin: what they match, who they page (key masked), and refused conflicts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from policies.models import Route
from tests.admin_helpers import assert_error_on_field

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_route_add")
LIST_URL = reverse("admin:policies_route_changelist")
KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"


@pytest.fixture
def search_key(make_routing_key):
    return make_routing_key(name="Search on-call", secret=KEY)


def test_the_list_shows_scope_match_and_the_masked_routing_key(
    ops, search_key, make_team, make_route
):
    make_route(search_key, scope="team", team=make_team(name="Search", slug="search"))
    make_route(search_key, scope="key_alias", key_alias="search-service")
    make_route(search_key, scope="default")

    html = ops.get(LIST_URL).content.decode()

    assert "team Search" in html
    assert "API-key alias “search-service”" in html
    assert "everything else" in html
    assert "Search on-call (Kq7Z…mL0a)" in html
    assert KEY not in html
    assert KEY[4:-4] not in html


def test_the_list_does_not_query_per_row(ops, make_routing_key, make_team, make_route):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert ops.get(LIST_URL).status_code == 200
        return len(queries)

    make_route(make_routing_key(), scope="team", team=make_team())
    one_route = list_queries()
    for _ in range(4):
        make_route(make_routing_key(), scope="team", team=make_team())

    assert list_queries() == one_route


def test_the_list_can_be_filtered_by_scope_and_routing_key(
    ops, search_key, make_routing_key, make_route
):
    other_key = make_routing_key()
    make_route(search_key, scope="key_alias", key_alias="search-service")
    make_route(other_key, scope="key_alias", key_alias="checkout-service")
    make_route(search_key, scope="default")

    response = ops.get(
        LIST_URL, {"scope__exact": "key_alias", "routing_key__id__exact": search_key.pk}
    )

    assert [r.key_alias for r in response.context["cl"].result_list] == ["search-service"]


def test_the_form_offers_routing_keys_by_name_and_masked_key_only(ops, search_key):
    html = ops.get(ADD_URL).content.decode()

    assert "Search on-call (Kq7Z…mL0a)" in html
    assert KEY not in html


def test_adding_a_key_alias_route_through_the_form_works(ops, search_key):
    response = ops.post(
        ADD_URL,
        {
            "scope": "key_alias",
            "team": "",
            "key_alias": "search-service",
            "routing_key": search_key.pk,
        },
    )

    assert response.status_code == 302
    route = Route.objects.get()
    assert (route.scope, route.key_alias, route.routing_key) == (
        "key_alias",
        "search-service",
        search_key,
    )


def test_a_team_route_without_a_team_shows_the_error_on_the_team_field(ops, search_key):
    response = ops.post(
        ADD_URL, {"scope": "team", "team": "", "key_alias": "", "routing_key": search_key.pk}
    )

    assert_error_on_field(response, "team", "A team route needs the team it matches.")
    assert not Route.objects.exists()


def test_a_default_route_with_an_alias_shows_the_error_on_the_alias_field(ops, search_key):
    response = ops.post(
        ADD_URL, {"scope": "default", "key_alias": "search-service", "routing_key": search_key.pk}
    )

    assert_error_on_field(
        response, "key_alias", "The default route matches everything; leave the alias empty."
    )
    assert not Route.objects.exists()


@pytest.mark.parametrize(
    ("scope", "key_alias", "message"),
    [
        ("default", "", "There is already a default route."),
        ("key_alias", "search-service", "This API-key alias already has a route."),
        ("team", "", "This team already has a route."),
    ],
)
def test_a_second_route_for_the_same_thing_is_refused_on_the_form(
    ops, search_key, make_team, make_route, scope, key_alias, message
):
    team = make_team() if scope == "team" else None
    existing = make_route(search_key, scope=scope, team=team, key_alias=key_alias)

    response = ops.post(
        ADD_URL,
        {
            "scope": scope,
            "team": team.pk if team else "",
            "key_alias": key_alias,
            "routing_key": search_key.pk,
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [message]
    assert escape(message) in response.content.decode()
    assert list(Route.objects.all()) == [existing]
