"""Who would be notified, answered from the routes without sending anything: on a team's page,
on a policy's page, and in the "who would be notified for team X, key alias Y, kind Z" form."""

import pytest
from django.urls import reverse

from policies.models import Delivery, Route
from policies.routing import explain, preview_for_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def routes(make_team, make_routing_key, make_route):
    search = make_team(slug="search", name="Search")
    billing = make_team(slug="billing", name="Billing")
    search_key = make_routing_key(name="Search on-call", team=search)
    make_route(search_key, scope=Route.Scope.TEAM, team=search)
    make_route(make_routing_key(name="Batch jobs"), scope=Route.Scope.KEY_ALIAS, key_alias="batch")
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    return {"search": search, "billing": billing, "search_key": search_key}


def test_explain_names_the_channels_and_the_route_that_chose_them(routes):
    assert explain(routes["search"], None) == "Search on-call (PagerDuty), via the team's route"
    assert explain(routes["search"], "batch").endswith("via the API-key alias route")
    assert explain(routes["billing"], None).endswith("via the default route")


def test_with_no_route_nobody_would_be_paged(make_team):
    assert explain(make_team(), None).startswith("nobody: no route matches")


def test_a_policy_per_team_previews_each_team_and_the_unknown(routes, make_policy):
    policy = make_policy(group_by="team")

    rows = dict(preview_for_policy(policy))

    assert rows["team Search"].endswith("via the team's route")
    assert rows["team Billing"].endswith("via the default route")
    assert rows["a team the console does not know"].startswith("Platform on-call")


def test_a_policy_filtered_to_a_team_previews_that_team(routes, make_policy):
    policy = make_policy(filter_team=routes["search"])

    assert preview_for_policy(policy) == [("every incident", explain(routes["search"], None))]


def test_the_team_page_says_who_its_incidents_would_page(ops, routes):
    url = reverse("admin:policies_team_change", args=[routes["billing"].pk])

    html = ops.get(url).content.decode()

    assert "Incidents here would page" in html
    assert "incidents of team Billing: <strong>Platform on-call" in html
    assert "via the default route" in html


def test_the_policy_page_says_who_its_incidents_would_page(ops, routes, make_policy):
    policy = make_policy(filter_team=routes["search"])

    html = ops.get(reverse("admin:policies_alertpolicy_change", args=[policy.pk])).content.decode()

    assert "every incident: <strong>Search on-call" in html
    assert reverse("admin:policies_route_test") in html


def test_the_form_answers_without_sending_anything(ops, routes):
    url = reverse("admin:policies_route_test")

    response = ops.get(url, {"team": routes["search"].pk, "key_alias": "batch"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="routing-answer"' in html
    assert "Batch jobs" in html
    assert "via the API-key alias route" in html
    assert not Delivery.objects.exists()


def test_the_form_answers_for_the_kind_asked(ops, routes, make_routing_key, make_route):
    make_route(make_routing_key(name="Hangs"), scope=Route.Scope.DEFAULT, kinds=["hung"])
    url = reverse("admin:policies_route_test")

    hung = ops.get(url, {"team": routes["billing"].pk, "kind": "hung"}).content.decode()
    slow = ops.get(url, {"team": routes["billing"].pk, "kind": "slow"}).content.decode()

    assert "hung: it would notify <strong>Platform on-call (PagerDuty), Hangs (PagerDuty)" in hung
    assert "slow: it would notify <strong>Platform on-call (PagerDuty), via" in slow


def test_without_a_kind_the_form_answers_each_kind_where_the_routes_differ(
    ops, routes, make_routing_key, make_route
):
    """Found by review: the form required a kind, so its old links answered nothing."""
    url = reverse("admin:policies_route_test")
    same = ops.get(url, {"team": routes["billing"].pk}).content.decode()
    make_route(make_routing_key(name="Hangs"), scope=Route.Scope.DEFAULT, kinds=["hung"])

    differ = ops.get(url, {"team": routes["billing"].pk}).content.decode()

    assert "any kind: it would notify <strong>Platform on-call (PagerDuty)" in same
    assert "failures: it would notify <strong>Platform on-call (PagerDuty), via" in differ
    assert "hung: it would notify <strong>Platform on-call (PagerDuty), Hangs (PagerDuty)" in (
        differ
    )


def test_a_disabled_channel_is_named_as_such(ops, routes):
    routes["search_key"].disabled_at = routes["search_key"].created_at
    routes["search_key"].save()

    assert "Search on-call (PagerDuty) (disabled: nothing is sent)" in explain(
        routes["search"], None
    )


def test_the_form_starts_empty_with_no_answer(ops, routes):
    html = ops.get(reverse("admin:policies_route_test")).content.decode()

    assert 'id="routing-question"' in html
    assert 'id="routing-answer"' not in html


def test_the_form_is_for_staff_only(client, routes):
    response = client.get(reverse("admin:policies_route_test"))

    assert response.status_code == 302  # to the login page
