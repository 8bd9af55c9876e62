"""Team editors and channels: they make channels for their own teams only, and route their
team only to their own teams' channels. The route form offers them only those, refuses any
other, and the save checks the channels again (RouteAdmin.save_related) should a form ever
let one through."""

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from policies.models import Channel, Route
from policies.roles import TEAM_EDITORS

pytestmark = pytest.mark.django_db

CHANNEL_ADD = reverse("admin:policies_channel_add")
ROUTE_ADD = reverse("admin:policies_route_add")
KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"


@pytest.fixture
def teams(make_team):
    return make_team(slug="search", name="Search"), make_team(slug="billing", name="Billing")


@pytest.fixture
def erin(teams) -> User:
    user = User.objects.create_user("erin", password="a-long-test-password", is_staff=True)
    user.groups.add(Group.objects.get(name=TEAM_EDITORS))
    teams[0].editors.add(user)
    return user


@pytest.fixture
def editor(erin) -> Client:
    client = Client()
    client.force_login(erin)
    return client


@pytest.fixture
def channels(make_channel, teams):
    search, billing = teams
    return (
        make_channel(name="Search on-call", team=search),
        make_channel(name="Billing on-call", team=billing),
        make_channel(name="Platform on-call"),  # no team: ops admins'
    )


def new_channel(team: Any) -> dict[str, Any]:
    return {"name": "New", "kind": "pagerduty", "secret": KEY, "team": team}


class TestChannels:
    def test_a_team_editor_makes_a_channel_for_their_team(self, editor, teams):
        response = editor.post(CHANNEL_ADD, new_channel(teams[0].pk))

        assert response.status_code == 302
        assert Channel.objects.get(name="New").team == teams[0]

    def test_the_team_choices_are_the_editors_teams_only(self, editor, teams):
        form = editor.get(CHANNEL_ADD).context["adminform"].form

        assert list(form.fields["team"].queryset) == [teams[0]]
        assert form.fields["team"].required

    @pytest.mark.parametrize("which", ["other team", "no team"])
    def test_a_team_editor_makes_no_channel_for_another_team_or_for_none(
        self, editor, teams, which
    ):
        team = teams[1].pk if which == "other team" else ""

        response = editor.post(CHANNEL_ADD, new_channel(team))

        assert response.status_code == 200
        assert "team" in response.context["adminform"].form.errors
        assert not Channel.objects.filter(name="New").exists()

    def test_a_team_editor_moves_no_channel_to_another_team(self, editor, channels, teams):
        url = reverse("admin:policies_channel_change", args=[channels[0].pk])

        response = editor.post(url, {"name": "Search on-call", "team": teams[1].pk})

        assert response.status_code == 200
        channels[0].refresh_from_db()
        assert channels[0].team == teams[0]


class TestRoutes:
    def test_the_route_form_offers_the_editors_teams_channels_only(self, editor, channels):
        form = editor.get(ROUTE_ADD).context["adminform"].form

        assert list(form.fields["channels"].queryset) == [channels[0]]

    def test_a_team_editor_routes_their_team_to_their_channel(self, editor, channels, teams):
        response = editor.post(
            ROUTE_ADD,
            {"scope": "team", "team": teams[0].pk, "kinds": ["hung"], "channels": [channels[0].pk]},
        )

        assert response.status_code == 302
        route = Route.objects.get()
        assert (route.team, route.kinds, list(route.channels.all())) == (
            teams[0],
            ["hung"],
            [channels[0]],
        )

    @pytest.mark.parametrize("other", [1, 2], ids=["another team's", "no team's"])
    def test_the_form_refuses_another_teams_channel(self, editor, channels, teams, other):
        response = editor.post(
            ROUTE_ADD,
            {
                "scope": "team",
                "team": teams[0].pk,
                "channels": [channels[0].pk, channels[other].pk],
            },
        )

        assert response.status_code == 200
        assert "channels" in response.context["adminform"].form.errors
        assert not Route.objects.exists()

    def test_a_team_editor_adds_no_other_teams_channel_to_their_route(
        self, editor, channels, teams, make_route
    ):
        route = make_route(channels[0], scope="team", team=teams[0])
        url = reverse("admin:policies_route_change", args=[route.pk])

        response = editor.post(
            url,
            {"scope": "team", "team": teams[0].pk, "channels": [channels[0].pk, channels[1].pk]},
        )

        assert response.status_code == 200
        assert list(route.channels.all()) == [channels[0]]

    def test_a_team_editor_changes_no_route_that_sends_to_another_teams_channel(
        self, editor, channels, teams, make_route
    ):
        """An ops admin may route the team to the platform's channel too: that route is then
        the ops admins' to change."""
        route = make_route([channels[0], channels[2]], scope="team", team=teams[0])
        url = reverse("admin:policies_route_change", args=[route.pk])

        response = editor.post(
            url, {"scope": "team", "team": teams[0].pk, "channels": [channels[0].pk]}
        )

        assert response.status_code == 403
        assert set(route.channels.all()) == {channels[0], channels[2]}

    def test_the_save_checks_the_channels_again_should_a_form_let_one_through(
        self, erin, staff_user, channels, teams
    ):
        """The backstop: a form built for an ops admin (every channel offered), saved by a
        team editor, is refused when its channels are saved."""
        route_admin = admin.site._registry[Route]
        as_ops, as_editor = RequestFactory().post(ROUTE_ADD), RequestFactory().post(ROUTE_ADD)
        as_ops.user, as_editor.user = staff_user, erin
        form_class = route_admin.get_form(as_ops)
        form = form_class(data={"scope": "team", "team": teams[0].pk, "channels": [channels[1].pk]})
        assert form.is_valid(), form.errors
        route = form.save(commit=False)
        route_admin.save_model(as_editor, route, form, change=False)  # the row is the team's

        with pytest.raises(PermissionDenied):
            route_admin.save_related(as_editor, form, [], change=False)

        assert not route.channels.exists()
