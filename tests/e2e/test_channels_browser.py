"""Channels through the admin in a browser (issue 12, "Shown, not claimed"): an ops admin
creates a Slack channel and a route to it, sends a test message and reads Slack's answers; a
team editor cannot point their team's route at another team's channel.

Chromium, driven by Playwright, against Django's live test server. The live server runs in
this process, so Slack is the contract-checking fake (tests/fakes/slack.py) put at the one
outbound seam, ``policies.http.transport``.
"""

import os

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import APIResponse, Browser, Page, expect

import policies.http
from policies.admin.channel_form import setting_fields
from policies.models import Channel, Route
from policies.roles import OPS_ADMINS, TEAM_EDITORS
from tests.e2e.admin_browser import chromium
from tests.fakes.slack import FakeSlack
from tests.roles import make_roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_browser.py

PASSWORD = "a-long-test-password"
TOKEN = "xoxb-4711-0815-browserTestOnly"  # the fake Slack's, not a real one
SLACK_CHANNEL = "C0SEARCH01"


@pytest.fixture
def roles():
    """The roles as their migrations made them (an earlier test's flush emptied the tables)."""
    make_roles()


@pytest.fixture
def browser(live_server):
    ContentType.objects.clear_cache()  # see test_policy_form.py
    with chromium() as launched:
        yield launched


@pytest.fixture
def slack(monkeypatch, settings):
    fake = FakeSlack()
    fake.add_token(TOKEN)
    fake.add_channel(SLACK_CHANNEL)
    monkeypatch.setattr(policies.http, "transport", fake.transport())
    settings.SLACK_API_URL = fake.api_base
    return fake


def person(name: str, group: str) -> User:
    user = User.objects.create_user(name, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(browser: Browser, url: str, user: User) -> Page:
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(user.username)
    return page


def slack_methods(fake: FakeSlack) -> list[str]:
    return [url.removeprefix(fake.api_base + "/") for url, _, _ in fake.calls]


def test_an_ops_admin_creates_a_slack_channel_routes_a_team_to_it_and_tests_it(
    browser, live_server, roles, slack, make_team
):
    search = make_team(slug="search", name="Search")
    page = logged_in(browser, live_server.url, person("olga", OPS_ADMINS))

    # The channel: Slack's rows only, its credential called by Slack's name.
    page.goto(f"{live_server.url}/admin/policies/channel/")
    page.click(".object-tools a.addlink")
    page.select_option("#id_kind", "slack")
    for name, owners in setting_fields().items():
        row = page.locator(f".field-{name}")
        if any(kind == "slack" for kind, _ in owners):
            expect(row).to_be_visible()
        else:
            expect(row).to_be_hidden()
    expect(page.locator(".field-secret label")).to_have_text("Webhook URL or bot token:")
    page.fill("#id_name", "Search alerts")
    page.fill("#id_secret", TOKEN)
    page.fill("#id_setting_channel", SLACK_CHANNEL)
    page.select_option("#id_team", label="Search")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    channel = Channel.objects.get(name="Search alerts")
    assert (channel.kind, channel.secret, channel.settings, channel.team) == (
        "slack",
        TOKEN,
        {"channel": SLACK_CHANNEL},
        search,
    )

    # The route: team Search's failures go to it, chosen in the filter_horizontal selector.
    page.goto(f"{live_server.url}/admin/policies/route/")
    page.click(".object-tools a.addlink")
    page.check("input[name=scope][value=team]")
    page.select_option("#id_team", label="Search")
    page.check("input[name=kinds][value=failures]")
    page.select_option("#id_channels_from", label=str(channel))
    page.click("#id_channels_add")
    expect(page.locator("#id_channels_to")).to_contain_text("Search alerts")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    route = Route.objects.get()
    assert (route.scope, route.team, route.kinds) == (Route.Scope.TEAM, search, ["failures"])
    assert list(route.channels.all()) == [channel]

    # The test message: first what would be sent, token masked, and nothing sent yet.
    page.goto(f"{live_server.url}/admin/policies/channel/{channel.pk}/change/")
    page.click("#send-test-event")
    expect(page.locator("h1")).to_have_text("Send a test message?")
    expect(page.locator(".test-event-preview")).to_contain_text(
        "Test event from the Alerting Console for Search alerts (sent by olga)"
    )
    expect(page.locator("#content-main h2")).to_contain_text(channel.masked_secret)
    assert TOKEN not in page.content()
    assert slack.calls == []

    page.click("#confirm-test-event input[type=submit]")

    # Slack got the message once, then its resolve: the message edited, and a thread reply.
    expect(page.locator("#test-event-result")).to_be_visible()
    assert slack_methods(slack) == ["chat.postMessage", "chat.update", "chat.postMessage"]
    [message] = slack.in_channel(SLACK_CHANNEL)
    [reply] = message.replies
    assert len(message.edits) == 1
    assert reply.thread_ts == message.ts
    # The page shows Slack's answers: each names the ts Slack gave.
    expect(page.locator("#content-main")).to_contain_text("Slack accepted both.")
    trigger = page.locator("#test-event-result tr", has_text="Trigger")
    resolve = page.locator("#test-event-result tr", has_text="Resolve")
    expect(trigger.locator("td").nth(1)).to_contain_text("HTTP 200")
    expect(trigger.locator("td").nth(1)).to_contain_text(message.ts)
    expect(resolve.locator("td").nth(1)).to_contain_text("HTTP 200")
    expect(resolve.locator("td").nth(1)).to_contain_text(reply.ts)
    assert TOKEN not in page.content()


def test_a_team_editor_cannot_route_their_team_to_another_teams_channel(
    browser, live_server, roles, make_team, make_channel
):
    search = make_team(slug="search", name="Search")
    billing = make_team(slug="billing", name="Billing")
    own = make_channel(name="Search inbox", kind="inbox", team=search)
    theirs = make_channel(name="Billing inbox", kind="inbox", team=billing)
    erin = person("erin", TEAM_EDITORS)
    search.editors.add(erin)
    page = logged_in(browser, live_server.url, erin)

    page.goto(f"{live_server.url}/admin/policies/route/")
    page.click(".object-tools a.addlink")

    # Offered: their team's channel; not offered, in either box of the selector: Billing's.
    expect(page.locator("#id_channels_from option")).to_have_text([str(own)])
    expect(page.locator(".field-channels option", has_text="Billing inbox")).to_have_count(0)

    # Forged posts of the same form, with this session and its CSRF token.
    url = page.url
    form = {
        "csrfmiddlewaretoken": page.input_value("input[name=csrfmiddlewaretoken]"),
        "scope": "team",
        "team": str(search.pk),
        "key_alias": "",
        "kinds": "failures",
        "channels": str(own.pk),
        "_save": "Save",
    }

    def post(**changes: str) -> APIResponse:
        return page.request.post(url, form={**form, **changes}, max_redirects=0)

    # Their team's route to Billing's channel: refused, the channel being none of the choices.
    to_theirs = post(channels=str(theirs.pk))
    # Billing's route to their own channel (the words): refused, the team too.
    for_theirs = post(team=str(billing.pk))

    assert (to_theirs.status, for_theirs.status) == (200, 200)  # the form again, with errors
    not_offered = f"Select a valid choice. {theirs.pk} is not one of the available choices."
    assert f'id="id_channels_error"><li>{not_offered}</li>' in to_theirs.text()
    not_offered = "Select a valid choice. That choice is not one of the available choices."
    assert f'id="id_team_error"><li>{not_offered}</li>' in for_theirs.text()
    assert not Route.objects.exists()

    # The same post with their team and channel is taken: the forgery itself was no obstacle.
    accepted = post()

    assert accepted.status == 302
    route = Route.objects.get()
    assert (route.team, list(route.channels.all())) == (search, [own])
