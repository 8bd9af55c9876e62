"""Routes in the admin: what they match, which alert kinds they take, which channels they
notify (by name and kind, never a credential), and refused contradictions."""

from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from policies.models import Route
from tests.admin_helpers import assert_error_on_field, form_data_of

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_route_add")
LIST_URL = reverse("admin:policies_route_changelist")
KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"


@pytest.fixture
def search_key(make_routing_key):
    return make_routing_key(name="Search on-call", secret=KEY)


def test_the_list_shows_scope_match_kinds_and_the_channels_by_name_and_kind(
    ops, search_key, make_team, make_route, make_channel
):
    inbox = make_channel(name="Search inbox", kind="inbox")
    make_route(search_key, scope="team", team=make_team(name="Search", slug="search"))
    make_route([search_key, inbox], scope="key_alias", key_alias="search-service", kinds=["hung"])
    make_route(search_key, scope="default")

    html = ops.get(LIST_URL).content.decode()

    assert "team Search" in html
    assert "API-key alias “search-service” (hung)" in html
    assert "everything else" in html
    assert "every kind" in html
    assert "Search on-call (PagerDuty)" in html
    assert "Search inbox (Console inbox), Search on-call (PagerDuty)" in html
    assert KEY not in html
    assert KEY[4:-4] not in html


def test_the_list_does_not_query_per_row(ops, make_routing_key, make_team, make_route):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert ops.get(LIST_URL).status_code == 200
        return len(queries)

    make_route([make_routing_key(), make_routing_key()], scope="team", team=make_team())
    one_route = list_queries()
    for _ in range(4):
        make_route([make_routing_key(), make_routing_key()], scope="team", team=make_team())

    assert list_queries() == one_route


def test_the_list_can_be_filtered_by_scope_and_channel(
    ops, search_key, make_routing_key, make_route
):
    other_key = make_routing_key()
    make_route(search_key, scope="key_alias", key_alias="search-service")
    make_route(other_key, scope="key_alias", key_alias="checkout-service")
    make_route(search_key, scope="default")

    response = ops.get(
        LIST_URL, {"scope__exact": "key_alias", "channels__id__exact": search_key.pk}
    )

    assert [r.key_alias for r in response.context["cl"].result_list] == ["search-service"]


def test_the_form_offers_channels_by_name_and_kind_only(ops, search_key):
    html = ops.get(ADD_URL).content.decode()

    assert "Search on-call (PagerDuty)" in html
    assert KEY not in html
    assert KEY[4:-4] not in html


def test_adding_a_key_alias_route_through_the_form_works(ops, search_key):
    response = ops.post(
        ADD_URL,
        {
            "scope": "key_alias",
            "team": "",
            "key_alias": "search-service",
            "channels": [search_key.pk],
        },
    )

    assert response.status_code == 302
    route = Route.objects.get()
    assert (route.scope, route.key_alias, list(route.channels.all())) == (
        "key_alias",
        "search-service",
        [search_key],
    )
    assert (route.kinds, route.continue_matching) == ([], False)


def test_a_team_route_without_a_team_shows_the_error_on_the_team_field(ops, search_key):
    response = ops.post(
        ADD_URL, {"scope": "team", "team": "", "key_alias": "", "channels": [search_key.pk]}
    )

    assert_error_on_field(response, "team", "A team route needs the team it matches.")
    assert not Route.objects.exists()


def test_a_default_route_with_an_alias_shows_the_error_on_the_alias_field(ops, search_key):
    response = ops.post(
        ADD_URL, {"scope": "default", "key_alias": "search-service", "channels": [search_key.pk]}
    )

    assert_error_on_field(
        response, "key_alias", "The default route matches everything; leave the alias empty."
    )
    assert not Route.objects.exists()


def test_a_route_needs_a_channel(ops):
    response = ops.post(ADD_URL, {"scope": "default", "key_alias": "", "channels": []})

    assert_error_on_field(response, "channels", "This field is required.")
    assert not Route.objects.exists()


@pytest.mark.parametrize(
    ("scope", "key_alias"), [("default", ""), ("key_alias", "search-service"), ("team", "")]
)
def test_a_second_route_for_the_same_thing_adds_its_channels(
    ops, search_key, make_team, make_route, make_channel, scope, key_alias
):
    """Once a second route for the same team, alias or default was refused: one route, one
    key. Now routes at a level send together (hangs to one channel, everything to another)."""
    team = make_team() if scope == "team" else None
    hangs = make_channel(name="Hangs", kind="inbox")
    existing = make_route(search_key, scope=scope, team=team, key_alias=key_alias)

    response = ops.post(
        ADD_URL,
        {
            "scope": scope,
            "team": team.pk if team else "",
            "key_alias": key_alias,
            "kinds": ["hung"],
            "channels": [hangs.pk],
        },
    )

    assert response.status_code == 302
    added = Route.objects.exclude(pk=existing.pk).get()
    assert (added.kinds, list(added.channels.all())) == (["hung"], [hangs])
    answer = ops.get(
        reverse("admin:policies_route_test"),
        {"team": team.pk if team else "", "key_alias": key_alias, "kind": "hung"},
    ).content.decode()
    assert "Search on-call (PagerDuty), Hangs (Console inbox)" in answer


def test_the_kinds_checkboxes_save_the_kinds_and_show_them_ticked(ops, search_key):
    html = ops.get(ADD_URL).content.decode()
    for kind in ("failures", "failure_rate", "hung", "slow"):
        assert f'<input type="checkbox" name="kinds" value="{kind}"' in html

    response = ops.post(
        ADD_URL,
        {
            "scope": "default",
            "kinds": ["slow", "hung"],
            "channels": [search_key.pk],
            "continue_matching": "on",
        },
    )

    assert response.status_code == 302
    route = Route.objects.get()
    assert (route.kinds, route.continue_matching) == (["hung", "slow"], True)
    change = ops.get(reverse("admin:policies_route_change", args=[route.pk]))
    assert change.context["adminform"].form["kinds"].value() == ["hung", "slow"]
    assert 'value="hung" id="id_kinds_1" checked' in change.content.decode()


def test_untick_every_kind_and_the_route_takes_every_kind(ops, search_key, make_route):
    route = make_route(search_key, scope="default", kinds=["hung"])
    url = reverse("admin:policies_route_change", args=[route.pk])

    response = ops.post(url, form_data_of(ops.get(url), kinds=[]))

    assert response.status_code == 302
    route.refresh_from_db()
    assert route.kinds == []


def test_an_unknown_kind_is_refused_on_its_field(ops, search_key):
    response = ops.post(
        ADD_URL, {"scope": "default", "kinds": ["llm_too_slow"], "channels": [search_key.pk]}
    )

    assert response.status_code == 200
    assert "kinds" in response.context["adminform"].form.errors
    assert not Route.objects.exists()


def test_a_change_of_channels_is_in_the_history_by_name_and_kind(
    ops, search_key, make_channel, make_route
):
    route = make_route(search_key, scope="default")
    inbox = make_channel(name="Search inbox", kind="inbox")
    url = reverse("admin:policies_route_change", args=[route.pk])

    ops.post(url, form_data_of(ops.get(url), channels=[search_key.pk, inbox.pk], kinds=["hung"]))

    history = ops.get(reverse("admin:policies_route_history", args=[route.pk])).content.decode()
    recent = ops.get(reverse("recent-changes")).content.decode()
    for html in (unescape(history), unescape(recent)):
        assert (
            "<strong>Channels:</strong> [Search on-call (PagerDuty)] → "
            "[Search inbox (Console inbox), Search on-call (PagerDuty)]"
        ) in html
        assert "<strong>Alert kinds:</strong> [] → [hung]" in html
        assert KEY not in html
