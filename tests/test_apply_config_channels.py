"""`apply_config` with channels of every kind and routes by alert kind: what is written, what a
second run changes (nothing), how changes are reported, and where incidents then go."""

from io import StringIO
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from django.core.management import call_command

from policies.channels.webhook import signing_key
from policies.models import Channel, Route, Team
from policies.routing import channels_for
from tests.channel_credentials import (
    DISCORD,
    ENV,
    PD_KEY,
    RECEIVER,
    SLACK_HOOK,
    SLACK_TOKEN,
    TOKEN,
    WORKFLOW,
)

pytestmark = pytest.mark.django_db

EVERY_KIND = """\
teams:
  - {slug: search, name: Search}
channels:
  - name: Search on-call
    kind: pagerduty
    credential: os.environ/PD_KEY
    team: search
  - name: "#alerts"
    kind: slack
    credential: os.environ/SLACK_HOOK
  - name: "#search"
    kind: slack
    credential: os.environ/SLACK_TOKEN
    channel: C0SEARCH01
    team: search
  - name: Ops in Teams
    kind: teams
    credential: os.environ/TEAMS_URL
  - name: Ops in Discord
    kind: discord
    credential: os.environ/DISCORD_URL
  - name: Our receiver
    kind: webhook
    credential: os.environ/RECEIVER_URL
    headers:
      Authorization: os.environ/RECEIVER_TOKEN
  - name: Ops mail
    kind: email
    to: [ops@example.com, oncall@example.com]
  - name: Try-out
    kind: inbox
routes:
  default:
    - channels: [Try-out, Ops mail]
    - channels: "#alerts"
      kinds: [llm_requests_hanging]
  teams:
    search:
      - channels: [Search on-call, "#search"]
      - channels: "#alerts"
        kinds: [hung]
  key_aliases:
    prod-app: {channels: [Ops in Teams, Ops in Discord, Our receiver], continue: true}
"""


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def apply(text: str, tmp_path: Path, *args: str) -> list[str]:
    path = tmp_path / "console.yaml"
    path.write_text(dedent(text))
    out = StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue().splitlines()


def snapshot() -> dict[str, list[Any]]:
    """Every row the command writes (updated_at included), and every route's channels."""
    rows: dict[str, list[Any]] = {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Team, Channel, Route)
    }
    rows["route channels"] = [
        sorted(route.channels.values_list("name", flat=True))
        for route in Route.objects.order_by("pk")
    ]
    return rows


def test_every_kind_is_created_and_a_second_run_changes_nothing(tmp_path):
    first = apply(EVERY_KIND, tmp_path)
    before = snapshot()

    second = apply(EVERY_KIND, tmp_path)

    found = {c.name: (c.kind, c.secret, c.settings) for c in Channel.objects.all()}
    assert found == {
        "Search on-call": ("pagerduty", PD_KEY, {}),
        "#alerts": ("slack", SLACK_HOOK, {}),
        "#search": ("slack", SLACK_TOKEN, {"channel": "C0SEARCH01"}),
        "Ops in Teams": ("teams", WORKFLOW, {}),
        "Ops in Discord": ("discord", DISCORD, {}),
        "Our receiver": ("webhook", RECEIVER, {"headers": f"Authorization: {TOKEN}"}),
        "Ops mail": ("email", "", {"to": "ops@example.com\noncall@example.com"}),
        "Try-out": ("inbox", "", {}),
    }
    assert Channel.objects.get(name="#search").team == Team.objects.get(slug="search")
    assert Channel.objects.get(name="#search").secret_hint == "xoxb…tokn"
    assert first[-1] == "14 created, 0 changed, 0 unchanged."
    assert snapshot() == before  # updated_at and the routes' channels included
    assert all(line.endswith(": unchanged") for line in second[:-1] if not line.startswith("note"))
    assert second[-1] == "0 created, 0 changed, 14 unchanged."


def test_the_report_names_channels_by_kind_with_the_credential_masked(tmp_path):
    lines = apply(EVERY_KIND, tmp_path)

    assert lines[1:9] == [
        "PagerDuty channel 'Search on-call' (R0AB…0001): created",
        "Slack channel '#alerts' (https://hooks.slack.com/…hook): created",
        "Slack channel '#search' (xoxb…tokn): created",
        "Microsoft Teams channel 'Ops in Teams' "
        "(https://prod-12.westeurope.logic.azure.com/…wwww): created",
        "Discord channel 'Ops in Discord' (https://discord.com/…dddd): created",
        "Webhook (signed) channel 'Our receiver' (https://alerts.example.com/…rrrr): created",
        "E-mail channel 'Ops mail': created",
        "Console inbox channel 'Try-out': created",
    ]
    assert "route for team 'search' (hung) → '#alerts': created" in lines
    assert (
        "route for key alias 'prod-app' → 'Ops in Teams', 'Ops in Discord', 'Our receiver': "
        "created" in lines
    )


def test_incidents_go_where_the_routes_say(tmp_path):
    # "Hangs go to #alerts, everything of team search to PagerDuty and #search."
    apply(EVERY_KIND, tmp_path)
    search = Team.objects.get(slug="search")

    def names(team: Team | None, alias: str | None, kind: str) -> list[str]:
        return sorted(c.name for c in channels_for(team, alias, kind))

    assert names(search, None, "hung") == ["#alerts", "#search", "Search on-call"]
    assert names(search, None, "failures") == ["#search", "Search on-call"]
    assert names(None, None, "hung") == ["#alerts", "Ops mail", "Try-out"]
    assert names(None, None, "slow") == ["Ops mail", "Try-out"]
    # continue: the key alias's channels, then the default's
    assert names(None, "prod-app", "failures") == [
        "Ops in Discord",
        "Ops in Teams",
        "Ops mail",
        "Our receiver",
        "Try-out",
    ]


def test_no_secret_is_ever_printed(tmp_path, monkeypatch):
    lines = apply(EVERY_KIND, tmp_path)
    monkeypatch.setenv("RECEIVER_TOKEN", "Bearer " + "n" * 32)
    monkeypatch.setenv("SLACK_HOOK", SLACK_HOOK[:-4] + "new1")
    lines += apply(EVERY_KIND, tmp_path, "--dry-run")
    lines += apply(EVERY_KIND, tmp_path)

    output = "\n".join(lines)
    signing_secret = Channel.objects.get(name="Our receiver").signing_secret
    for secret in [*ENV.values(), "n" * 32, signing_secret]:
        assert secret[8:-4] not in output
    assert (
        "Webhook (signed) channel 'Our receiver' (https://alerts.example.com/…rrrr): changed "
        "(fields: headers)" in lines
    )


def test_a_webhook_gets_a_signing_secret_made_once_and_never_shown(tmp_path):
    first = apply(EVERY_KIND, tmp_path)
    made = Channel.objects.get(name="Our receiver").signing_secret

    second = apply(EVERY_KIND, tmp_path)

    assert made.startswith("whsec_")
    assert len(signing_key(made)) == 32
    assert Channel.objects.get(name="Our receiver").signing_secret == made
    notes = [line for line in first if line.startswith("note: ")]
    assert notes == [
        "note: "
        f"{tmp_path / 'console.yaml'} line 22, channels[5]: the console makes the signing secret "
        "of 'Our receiver' and never shows it: to verify signatures, give the receiver's own in "
        "the file (signing_secret: os.environ/NAME)"
    ]
    assert not [line for line in second if line.startswith("note: ")]
    assert not Channel.objects.exclude(name="Our receiver").exclude(signing_secret="").exists()


def test_a_signing_secret_from_the_file_is_applied_and_a_new_one_is_a_change(tmp_path, monkeypatch):
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    text = EVERY_KIND.replace(
        "    headers:\n", "    signing_secret: os.environ/SIGNING\n    headers:\n"
    )
    monkeypatch.setenv("SIGNING", given)
    apply(text, tmp_path)
    monkeypatch.setenv("SIGNING", "whsec_" + "C2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0")

    lines = apply(text, tmp_path)

    assert Channel.objects.get(name="Our receiver").signing_secret.endswith("c2VjcmV0")
    assert (
        "Webhook (signed) channel 'Our receiver' (https://alerts.example.com/…rrrr): changed "
        "(fields: signing_secret)" in lines
    )


def test_changed_settings_and_credentials_are_named_as_the_file_names_them(tmp_path, monkeypatch):
    apply(EVERY_KIND, tmp_path)
    monkeypatch.setenv("PD_KEY", PD_KEY.replace("0001", "0002"))
    edited = EVERY_KIND.replace("oncall@example.com", "pager@example.com").replace(
        "channel: C0SEARCH01", "channel: C0SEARCH02"
    )

    lines = apply(edited, tmp_path)

    assert "PagerDuty channel 'Search on-call' (R0AB…0002): changed (fields: credential)" in lines
    assert "E-mail channel 'Ops mail': changed (fields: to)" in lines
    assert "Slack channel '#search' (xoxb…tokn): changed (fields: channel)" in lines
    assert lines[-1] == "0 created, 3 changed, 11 unchanged."


def test_a_route_whose_channels_changed_is_reported_changed(tmp_path):
    apply(EVERY_KIND, tmp_path)
    route = Route.objects.get(scope="team", kinds=[])
    before = route.updated_at

    lines = apply(
        EVERY_KIND.replace('[Search on-call, "#search"]', '["#search", Ops mail]'), tmp_path
    )

    route.refresh_from_db()
    assert sorted(route.channels.values_list("name", flat=True)) == ["#search", "Ops mail"]
    assert route.updated_at > before  # its channels are part of the route
    assert "route for team 'search' → '#search', 'Ops mail': changed (fields: channels)" in lines
    assert lines[-1] == "0 created, 1 changed, 13 unchanged."


def test_a_route_whose_channels_and_continue_changed_names_both(tmp_path):
    apply(EVERY_KIND, tmp_path)

    lines = apply(
        EVERY_KIND.replace(
            "{channels: [Ops in Teams, Ops in Discord, Our receiver], continue: true}",
            "{channels: [Ops in Teams], continue: false}",
        ),
        tmp_path,
    )

    route = Route.objects.get(scope="key_alias")
    assert list(route.channels.values_list("name", flat=True)) == ["Ops in Teams"]
    assert route.continue_matching is False
    assert (
        "route for key alias 'prod-app' → 'Ops in Teams': changed (fields: continue, channels)"
        in lines
    )


def test_two_matching_routes_made_in_the_admin_do_not_stop_it(tmp_path, make_channel, make_route):
    first = make_route(make_channel(name="Older"), scope="default")
    second = make_route(make_channel(name="Newer"), scope="default")

    lines = apply(
        "channels: [{name: Try-out, kind: inbox}]\nroutes: {default: Try-out}\n", tmp_path
    )

    assert [c.name for c in Route.objects.get(pk=first.pk).channels.all()] == ["Try-out"]
    assert [c.name for c in Route.objects.get(pk=second.pk).channels.all()] == ["Newer"]
    assert "default route → 'Try-out': changed (fields: channels)" in lines
    assert (
        "note: the route default → Newer is not in the file: it still sends (delete it in the "
        "admin if the file replaces it)" in lines
    )


def test_routes_of_the_files_targets_that_it_does_not_give_are_noted(
    tmp_path, make_team, make_channel, make_route
):
    team = make_team(slug="search", name="Search")
    make_route(make_channel(name="Old slow"), scope="team", team=team, kinds=["slow"])
    make_route(make_channel(name="Elsewhere"), scope="key_alias", key_alias="other")

    lines = apply(
        "channels: [{name: Try-out, kind: inbox}]\nroutes: {teams: {search: Try-out}}\n",
        tmp_path,
    )

    assert [line for line in lines if line.startswith("note: ")] == [
        "note: the route team Search (slow) → Old slow is not in the file: it still sends "
        "(delete it in the admin if the file replaces it)"
    ]


def test_the_old_word_still_makes_pagerduty_channels(tmp_path, monkeypatch):
    text = "routing_keys:\n  - {name: Search on-call, integration_key: os.environ/PD_KEY}\n"
    first = apply(text, tmp_path)
    monkeypatch.setenv("PD_KEY", PD_KEY.replace("0001", "0009"))

    second = apply(text, tmp_path)

    channel = Channel.objects.get()
    assert (channel.name, channel.kind, channel.secret) == (
        "Search on-call",
        "pagerduty",
        PD_KEY.replace("0001", "0009"),
    )
    assert first[0] == "PagerDuty channel 'Search on-call' (R0AB…0001): created"
    assert second[0] == (
        "PagerDuty channel 'Search on-call' (R0AB…0009): changed (fields: integration_key)"
    )
