"""A channel disabled after repeated refusals says so loudly on its page, in the list and on the
home page, until a person who may change it enables it again (a button on its page, or the
list's action); a team editor cannot enable another team's channel."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from policies.models import Channel
from policies.roles import TEAM_EDITORS, VIEWERS

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:policies_channel_changelist")
REASON = "refused 5 times in a row; last: HTTP 404 no_service"


def person(name: str, group: str) -> Client:
    user = User.objects.create_user(name, password="a-long-test-password", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def enable_url(channel: Channel) -> str:
    return reverse("admin:policies_channel_enable_again", args=[channel.pk])


def change_url(channel: Channel) -> str:
    return reverse("admin:policies_channel_change", args=[channel.pk])


def disabled(make_channel: Any, **fields: Any) -> Channel:
    channel: Channel = make_channel(
        disabled_at=timezone.now(),
        disabled_reason=REASON,
        refusals_in_a_row=5,
        refused_at=timezone.now(),
        refusal="HTTP 404 no_service",
        **fields,
    )
    return channel


@pytest.fixture
def teams(make_team):
    return make_team(slug="search", name="Search"), make_team(slug="billing", name="Billing")


@pytest.fixture
def editor(teams) -> Client:
    client = person("erin", TEAM_EDITORS)
    teams[0].editors.add(client.user)  # type: ignore[attr-defined]
    return client


def test_a_disabled_channels_page_says_so_first_with_the_reason_and_a_button(ops, make_channel):
    channel = disabled(make_channel, name="Search on-call")

    html = ops.get(change_url(channel)).content.decode()

    banner = html[html.index('id="channel-disabled"') :]
    assert html.index('id="channel-disabled"') < html.index('id="channel_form"')
    assert banner.startswith('id="channel-disabled">')
    assert "DISABLED: this channel receives nothing" in banner
    assert REASON in banner
    assert f'<form method="post" action="{enable_url(channel)}" id="enable-again">' in banner
    assert '<strong class="channel-disabled">DISABLED</strong> since' in html  # health


def test_an_enabled_channels_page_has_no_banner(ops, make_channel):
    html = ops.get(change_url(make_channel())).content.decode()

    assert 'id="channel-disabled"' not in html
    assert 'id="enable-again"' not in html


def test_the_list_shows_and_filters_the_disabled(ops, make_channel):
    make_channel(name="Fine")
    disabled(make_channel, name="Broken")

    response = ops.get(LIST_URL, {"disabled": "yes"})

    assert [c.name for c in response.context["cl"].result_list] == ["Broken"]
    assert '<strong class="channel-disabled">DISABLED</strong>' in response.content.decode()


def test_the_button_enables_it_again_and_the_history_says_who(ops, make_channel):
    channel = disabled(make_channel, name="Search on-call")

    response = ops.post(enable_url(channel))

    assert response.status_code == 302
    assert response["Location"] == change_url(channel)
    channel.refresh_from_db()
    assert (channel.disabled_at, channel.disabled_reason, channel.refusals_in_a_row) == (
        None,
        "",
        0,
    )
    [message] = [m.message for m in get_messages(response.wsgi_request)]
    assert message == "Search on-call is enabled again: messages go to it."
    assert channel.history.first().history_change_reason == "enabled again by ops"
    assert 'id="channel-disabled"' not in ops.get(change_url(channel)).content.decode()


def test_the_button_only_posts(ops, make_channel):
    channel = disabled(make_channel)

    assert ops.get(enable_url(channel)).status_code == 405
    channel.refresh_from_db()
    assert channel.disabled


def test_the_list_action_enables_the_disabled_ones(ops, make_channel):
    broken = [disabled(make_channel, name=f"Broken {n}") for n in range(2)]
    fine = make_channel(name="Fine")

    response = ops.post(
        LIST_URL,
        {"action": "enable_again", "_selected_action": [c.pk for c in [*broken, fine]]},
    )

    assert response.status_code == 302
    assert not Channel.objects.exclude(disabled_at=None).exists()
    said = [m.message for m in get_messages(response.wsgi_request)]
    assert said == [
        "Broken 0 is enabled again: messages go to it.",
        "Broken 1 is enabled again: messages go to it.",
    ]


def test_the_action_says_when_nothing_was_disabled(ops, make_channel):
    response = ops.post(
        LIST_URL, {"action": "enable_again", "_selected_action": [make_channel().pk]}
    )

    said = [m.message for m in get_messages(response.wsgi_request)]
    assert said == ["None of them was disabled: nothing to do."]


def test_a_team_editor_enables_their_teams_channel_only(editor, teams, make_channel):
    own = disabled(make_channel, name="Search on-call", team=teams[0])
    other = disabled(make_channel, name="Billing on-call", team=teams[1])

    by_button = editor.post(enable_url(other))
    by_action = editor.post(
        LIST_URL, {"action": "enable_again", "_selected_action": [own.pk, other.pk]}
    )

    assert (by_button.status_code, by_action.status_code) == (403, 403)
    assert Channel.objects.filter(disabled_at=None).count() == 0
    assert editor.post(enable_url(own)).status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.disabled, other.disabled) == (False, True)


def test_another_teams_disabled_channel_shows_no_button_to_a_team_editor(
    editor, teams, make_channel
):
    other = disabled(make_channel, team=teams[1])

    html = editor.get(change_url(other)).content.decode()

    assert 'id="channel-disabled"' in html
    assert 'id="enable-again"' not in html


def test_a_viewer_enables_nothing(make_channel):
    viewer = person("vic", VIEWERS)
    channel = disabled(make_channel)

    assert viewer.post(enable_url(channel)).status_code == 403
    viewer.post(LIST_URL, {"action": "enable_again", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.disabled
