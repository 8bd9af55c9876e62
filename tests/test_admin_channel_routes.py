"""A routing key's owning team is about who may edit it, not about routing: the key's page
says which routes use it, and saving a key no route uses says where its team's pages go."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from policies.models import Channel, Route

pytestmark = pytest.mark.django_db

KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"


def test_saving_a_team_key_no_route_uses_warns_where_the_teams_pages_go(
    ops, make_team, make_routing_key, make_route
):
    """Found by review: a team-owned key with no route saved without a word, and the team's
    incidents went to the default key."""
    search = make_team(slug="search", name="Search")
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)

    response = ops.post(
        reverse("admin:policies_channel_add"),
        {"name": "Search on-call", "integration_key": KEY, "team": search.pk, "description": ""},
    )

    assert response.status_code == 302
    [message] = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    key = Channel.objects.get(name="Search on-call")
    assert message.startswith(
        "No route uses “Search on-call”: no incident pages it, Search&#x27;s incidents page "
        "Platform on-call meanwhile."
    )
    add_route = (
        f"/admin/policies/route/add/?routing_key={key.pk}&amp;scope=team&amp;team={search.pk}"
    )
    assert add_route in message


def test_the_key_page_lists_the_routes_that_use_it(ops, make_team, make_routing_key, make_route):
    search = make_team(slug="search", name="Search")
    key = make_routing_key(name="Search on-call", team=search)
    make_route(key, scope=Route.Scope.TEAM, team=search)
    make_route(key, scope=Route.Scope.KEY_ALIAS, key_alias="search-svc")

    html = ops.get(reverse("admin:policies_channel_change", args=[key.pk])).content.decode()

    assert "Used by routes" in html
    assert "team Search" in html
    assert "API-key alias “search-svc”" in html
    assert "owning team" in html.lower()
    assert "Owning a key routes nothing to it" in html


def test_the_key_page_says_when_no_route_uses_it(ops, make_routing_key):
    key = make_routing_key(name="Spare")

    html = ops.get(reverse("admin:policies_channel_change", args=[key.pk])).content.decode()

    assert "None: no incident pages this key." in html


def test_the_route_form_comes_filled_in_from_the_link(ops, make_team, make_routing_key):
    search = make_team(slug="search", name="Search")
    key = make_routing_key(name="Search on-call", team=search)

    response = ops.get(
        f"/admin/policies/route/add/?routing_key={key.pk}&scope=team&team={search.pk}"
    )

    initial = response.context["adminform"].form.initial
    assert (initial["routing_key"], initial["scope"], initial["team"]) == (
        str(key.pk),
        "team",
        str(search.pk),
    )
