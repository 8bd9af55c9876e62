"""A channel's owning team is about who may edit it, not about routing: the channel's page
says which routes use it, and saving a channel no route uses says where its team's incidents
go meanwhile."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from policies.models import Channel, Route

pytestmark = pytest.mark.django_db

KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"


def test_saving_a_team_channel_no_route_uses_warns_where_the_teams_incidents_go(
    ops, make_team, make_routing_key, make_route
):
    """Found by review: a team-owned key with no route saved without a word, and the team's
    incidents went to the default key."""
    search = make_team(slug="search", name="Search")
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)

    response = ops.post(
        reverse("admin:policies_channel_add"),
        {"name": "Search on-call", "kind": "pagerduty", "secret": KEY, "team": search.pk},
    )

    assert response.status_code == 302
    [message] = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    channel = Channel.objects.get(name="Search on-call")
    assert message.startswith(
        "No route uses “Search on-call”: nothing is sent to it. Meanwhile incidents of team "
        "Search go to Platform on-call (PagerDuty), via the default route."
    )
    add_route = (
        f"/admin/policies/route/add/?channels={channel.pk}&amp;scope=team&amp;team={search.pk}"
    )
    assert add_route in message


def test_the_warning_names_each_kind_where_the_routes_differ(
    ops, make_team, make_routing_key, make_route
):
    search = make_team(slug="search", name="Search")
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    make_route(make_routing_key(name="Hangs"), scope=Route.Scope.DEFAULT, kinds=["hung"])

    response = ops.post(
        reverse("admin:policies_channel_add"),
        {"name": "Search inbox", "kind": "inbox", "team": search.pk},
    )

    [message] = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert "failures incidents of team Search go to Platform on-call (PagerDuty)" in message
    assert (
        "hung incidents of team Search go to Platform on-call (PagerDuty), Hangs (PagerDuty)"
        in message
    )


def test_saving_a_channel_a_route_uses_says_nothing_of_routes(ops, make_routing_key, make_route):
    channel = make_routing_key(name="Platform on-call")
    make_route(channel, scope=Route.Scope.DEFAULT)

    response = ops.post(
        reverse("admin:policies_channel_change", args=[channel.pk]),
        {"name": "Platform", "secret": "", "description": ""},
    )

    assert response.status_code == 302
    assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def test_the_channel_page_lists_the_routes_that_use_it(
    ops, make_team, make_routing_key, make_route
):
    search = make_team(slug="search", name="Search")
    channel = make_routing_key(name="Search on-call", team=search)
    make_route(channel, scope=Route.Scope.TEAM, team=search)
    make_route(channel, scope=Route.Scope.KEY_ALIAS, key_alias="search-svc", kinds=["hung"])

    html = ops.get(reverse("admin:policies_channel_change", args=[channel.pk])).content.decode()

    assert "Used by routes" in html
    assert "team Search" in html
    assert "API-key alias “search-svc” (hung)" in html
    assert "owning team" in html.lower()
    assert "Owning a channel routes nothing to it" in html


def test_the_channel_page_says_when_no_route_uses_it(ops, make_routing_key):
    channel = make_routing_key(name="Spare")

    html = ops.get(reverse("admin:policies_channel_change", args=[channel.pk])).content.decode()

    assert "None: nothing is sent to this channel." in html


def test_the_route_form_comes_filled_in_from_the_link(ops, make_team, make_routing_key):
    search = make_team(slug="search", name="Search")
    channel = make_routing_key(name="Search on-call", team=search)

    response = ops.get(
        f"/admin/policies/route/add/?channels={channel.pk}&scope=team&team={search.pk}"
    )

    initial = response.context["adminform"].form.initial
    assert (initial["channels"], initial["scope"], initial["team"]) == (
        [str(channel.pk)],
        "team",
        str(search.pk),
    )


def test_a_link_made_when_routes_had_a_routing_key_fills_in_the_channel(
    ops, make_team, make_routing_key
):
    search = make_team(slug="search", name="Search")
    channel = make_routing_key(name="Search on-call", team=search)

    response = ops.get(
        f"/admin/policies/route/add/?routing_key={channel.pk}&scope=team&team={search.pk}"
    )

    form = response.context["adminform"].form
    assert form.initial["channels"] == [str(channel.pk)]
    assert "routing_key" not in form.initial
