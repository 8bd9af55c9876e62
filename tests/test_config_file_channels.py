"""The channels section and routes by alert kind, read and checked: every kind's settings, each
kind's bad values named by line and key with the kind's own reason, and secrets that never show.

No database: each channel is checked offline by its kind, as the admin's form checks it.
"""

from collections.abc import Mapping
from textwrap import dedent

import pytest

from policies.channels.teams import RETIRED
from policies.config import Config, ConfigError, parse
from tests.channel_credentials import (
    DISCORD,
    PD_KEY,
    RECEIVER,
    SLACK_HOOK,
    SLACK_TOKEN,
    TOKEN,
    WORKFLOW,
)
from tests.channel_credentials import ENV as CREDENTIALS_ENV

SIGNING = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes
ENV = {**CREDENTIALS_ENV, "RECEIVER_SIGNING": SIGNING}
SECRETS = [PD_KEY, SLACK_HOOK, SLACK_TOKEN, WORKFLOW, DISCORD, RECEIVER, TOKEN, SIGNING]

EVERY_KIND = """
    channels:
      - name: Search on-call
        kind: pagerduty
        credential: os.environ/PD_KEY
        team: search
        description: The search service in PagerDuty
      - name: "#alerts"
        kind: slack
        credential: os.environ/SLACK_HOOK
      - name: "#search"
        kind: slack
        credential: os.environ/SLACK_TOKEN
        channel: C0SEARCH01
      - name: Ops in Teams
        kind: teams
        credential: os.environ/TEAMS_URL
      - name: Ops in Discord
        kind: discord
        credential: os.environ/DISCORD_URL
      - name: Our receiver
        kind: webhook
        credential: os.environ/RECEIVER_URL
        signing_secret: os.environ/RECEIVER_SIGNING
        headers:
          Authorization: os.environ/RECEIVER_TOKEN
          X-Source: alerting-console
      - name: Ops mail
        kind: email
        to: [ops@example.com, oncall@example.com]
      - name: Try-out
        kind: inbox
"""


def parse_text(text: str, environ: Mapping[str, str] | None = None) -> Config:
    return parse(dedent(text), "console.yaml", ENV if environ is None else environ)


def problems(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        parse_text(text, environ)
    return excinfo.value.problems


def one_channel(lines: str) -> str:
    """A file with one channel, given as its keys' lines (the first one on line 2)."""
    return "channels:\n  - " + "\n    ".join(dedent(lines).strip().splitlines()) + "\n"


def test_every_kind_is_read_with_its_settings_and_secrets():
    config = parse_text(EVERY_KIND)

    found = {c.name: (c.kind, c.secret, c.stored_settings()) for c in config.channels}
    assert found == {
        "Search on-call": ("pagerduty", PD_KEY, {}),
        "#alerts": ("slack", SLACK_HOOK, {}),
        "#search": ("slack", SLACK_TOKEN, {"channel": "C0SEARCH01"}),
        "Ops in Teams": ("teams", WORKFLOW, {}),
        "Ops in Discord": ("discord", DISCORD, {}),
        "Our receiver": (
            "webhook",
            RECEIVER,
            {"headers": f"Authorization: {TOKEN}\nX-Source: alerting-console"},
        ),
        "Ops mail": ("email", "", {"to": "ops@example.com\noncall@example.com"}),
        "Try-out": ("inbox", "", {}),
    }
    assert config.channels[0].team == "search"
    assert config.channels[0].description == "The search service in PagerDuty"
    assert config.channels[5].signing_secret == SIGNING
    assert config.notes == []  # every secret came from the environment


def test_settings_may_also_be_written_as_text():
    config = parse_text(
        """
        channels:
          - name: Our receiver
            kind: webhook
            credential: os.environ/RECEIVER_URL
            headers: "X-Source: alerting-console"
          - name: Ops mail
            kind: email
            to: ops@example.com, oncall@example.com
        """
    )

    assert [c.stored_settings() for c in config.channels] == [
        {"headers": "X-Source: alerting-console"},
        {"to": "ops@example.com, oncall@example.com"},
    ]


def test_no_secret_shows_in_the_configs_repr():
    assert not [secret for secret in SECRETS if secret in repr(parse_text(EVERY_KIND))]


# (the channel's lines, the key the error names, the start of the kind's reason)
BAD_SETTINGS = {
    "pagerduty key of the wrong length": (
        "name: P\nkind: pagerduty\ncredential: R0AB-too-short",
        "credential",
        "A PagerDuty integration key is exactly 32 characters; this one has 14.",
    ),
    "slack URL that is not a Slack URL": (
        "name: S\nkind: slack\ncredential: https://hooks.slack.example.com/services/T1/B2/x",
        "credential",
        "This is not a Slack webhook URL: it must start https://hooks.slack.com/services/.",
    ),
    "slack bot token without its channel": (
        f"name: S\nkind: slack\ncredential: {SLACK_TOKEN}",
        "channel",
        "A bot token needs the ID of the channel to post in (like C0123ABCD).",
    ),
    "slack webhook with a channel": (
        f"name: S\nkind: slack\ncredential: {SLACK_HOOK}\nchannel: C0SEARCH01",
        "channel",
        "Leave empty with a webhook URL",
    ),
    "retired Teams connector URL": (
        "name: T\nkind: teams\n"
        "credential: https://contoso.webhook.office.com/webhookb2/0a1b/IncomingWebhook/2c3d/4e5f",
        "credential",
        RETIRED,
    ),
    "discord's Slack-compatible address": (
        f"name: D\nkind: discord\ncredential: {DISCORD}/slack",
        "credential",
        "This is Discord's Slack-compatible address (…/slack); remove /slack from the end",
    ),
    "webhook to a private address": (
        "name: W\nkind: webhook\ncredential: https://10.1.2.3/hook",
        "credential",
        "10.1.2.3 is",
    ),
    "webhook header the console sets": (
        f"name: W\nkind: webhook\ncredential: {RECEIVER}\nheaders: {{Content-Type: text/plain}}",
        "headers",
        "header 'Content-Type': Content-Type is set by the console and cannot be replaced.",
    ),
    "e-mail list with a typo": (
        "name: E\nkind: email\nto: [ops@example.com, oncall@example..com]",
        "to",
        "Not an e-mail address: oncall@example..com.",
    ),
    "e-mail without an address": (
        "name: E\nkind: email",
        "to",
        "Enter at least one e-mail address.",
    ),
}


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=list(BAD_SETTINGS))
def test_a_bad_setting_of_each_kind_names_its_line_key_and_reason(case):
    lines, key, reason = BAD_SETTINGS[case]
    text = one_channel(lines)
    line = next(
        (n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith(f"{key}:")), 2
    )

    (found,) = problems(text)

    assert found.startswith(f"console.yaml line {line}, channels[0].{key}: {reason}")


def test_a_problem_with_a_secret_from_the_environment_says_which_variable():
    assert problems(
        one_channel("name: S\nkind: slack\ncredential: os.environ/SLACK_URL"),
        {"SLACK_URL": "https://hooks.slack.com/triggers/T1/123/abc"},
    ) == [
        "console.yaml line 4, channels[0].credential (os.environ/SLACK_URL): This is a Workflow "
        "Builder webhook, which takes its workflow's variables, not messages: create an "
        "incoming webhook (https://api.slack.com/messaging/webhooks)."
    ]


def test_no_secret_shows_in_any_error():
    bad_header = "Bearer " + "é" * 10 + "secret-part"
    environ = {**ENV, "BAD_HEADER": bad_header}
    found = problems(
        """
        channels:
          - {name: P, kind: pagerduty, credential: "R0ABCDEFGHIJKLMNOPQRSTUVWXYZ-001"}
          - {name: S, kind: slack, credential: "https://hooks.slack.com/services/T1/B2"}
          - name: W
            kind: webhook
            credential: http://10.0.0.1/hook?token=webhook-secret-part
            headers: {Authorization: os.environ/BAD_HEADER, X-Api-Key: "key with\\ttab-secret-part"}
          - {name: D, kind: discord, credential: "https://discord.com/api/webhooks/12/a b"}
          - {name: T, kind: teams, credential: "http://prod.logic.azure.com/x?sig=sig-secret-part"}
        """,
        environ,
    )

    assert len(found) == 6
    text = "\n".join(found)
    for secret in ("R0ABCDEFGHIJ", "services/T1/B2", "secret-part", "webhooks/12", "é"):
        assert secret not in text


def test_a_header_value_may_come_from_the_environment_and_an_unset_one_is_named():
    assert problems(
        one_channel(
            f"""
            name: W
            kind: webhook
            credential: {RECEIVER}
            headers:
              Authorization: os.environ/UNSET_TOKEN
            """
        )
    ) == [
        "console.yaml line 6, channels[0].headers.Authorization: "
        "the environment variable UNSET_TOKEN is not set"
    ]


def test_a_secret_written_in_the_file_is_accepted_with_a_note_without_it():
    config = parse_text(one_channel(f"name: S\nkind: slack\ncredential: {SLACK_HOOK}"))

    assert config.channels[0].secret == SLACK_HOOK
    assert config.notes == [
        "console.yaml line 4, channels[0].credential: the secret is written in the file; "
        "os.environ/NAME keeps it out of version control"
    ]


def test_an_unknown_kind_and_another_kinds_setting_are_errors():
    assert problems(
        """
        channels:
          - {name: A, kind: sms}
          - {name: B, kind: slack, credential: os.environ/SLACK_HOOK, to: ops@example.com}
          - {name: C, kind: email, to: ops@example.com, colour: red}
        """
    ) == [
        "console.yaml line 3, channels[0].kind: unknown channel kind 'sms'; known: pagerduty, "
        "slack, teams, discord, webhook, email, inbox",
        "console.yaml line 4, channels[1].to: not a setting of slack channels (theirs: channel)",
        "console.yaml line 5, channels[2].colour: unknown key; the keys here are: channel, "
        "credential, description, headers, kind, name, signing_secret, team, to",
    ]


def test_a_kind_without_a_credential_refuses_one():
    assert problems(
        """
        channels:
          - {name: E, kind: email, to: ops@example.com, credential: os.environ/SLACK_HOOK}
          - {name: I, kind: inbox, credential: os.environ/SLACK_HOOK}
        """
    ) == [
        "console.yaml line 3, channels[0].credential: email channels take no credential",
        "console.yaml line 4, channels[1].credential: inbox channels take no credential",
    ]


def test_a_credential_of_the_wrong_type_is_one_problem():
    # Before: the kind's validation added "Enter an incoming-webhook URL..." for the same key.
    assert problems(one_channel("name: S\nkind: slack\ncredential: 12")) == [
        "console.yaml line 4, channels[0].credential: must be text; put it in quotes "
        "(YAML read it as something else)"
    ]


def test_a_bad_signing_secret_and_one_for_a_kind_that_signs_nothing_are_errors():
    assert problems(
        f"""
        channels:
          - name: W
            kind: webhook
            credential: {RECEIVER}
            signing_secret: os.environ/NOT_BASE64
          - {{name: P, kind: pagerduty, credential: {PD_KEY}, signing_secret: whsec_x}}
        """,
        {"NOT_BASE64": "whsec_not base64!"},
    ) == [
        "console.yaml line 6, channels[0].signing_secret (os.environ/NOT_BASE64): the signing "
        "secret is not base64 after whsec_ (whsec_ and the base64 of 24 to 64 random bytes)",
        "console.yaml line 7, channels[1].signing_secret: pagerduty channels sign nothing: "
        "leave it out",
    ]


ROUTES = """
    channels:
      - {name: Search on-call, kind: pagerduty, credential: os.environ/PD_KEY}
      - {name: "#search", kind: slack, credential: os.environ/SLACK_TOKEN, channel: C0SEARCH01}
      - {name: "#llm-hangs", kind: slack, credential: os.environ/SLACK_HOOK}
    routes:
      default:
        channels: "#llm-hangs"
        kinds: llm_requests_hanging
      teams:
        search:
          - channels: [Search on-call, "#search"]
          - channels: "#llm-hangs"
            kinds: [hung]
      key_aliases:
        prod-app: {channels: [Search on-call], kinds: [llm_exceptions, slow], continue: true}
"""


def test_routes_name_several_channels_and_kinds_litellms_names_included():
    # "Hangs go to #llm-hangs, everything of team search to PagerDuty and #search."
    config = parse_text(ROUTES)

    assert [
        (r.scope, r.target, r.channels, r.kinds, r.continue_matching, r.place.line)
        for r in config.routes
    ] == [
        ("default", "", ("#llm-hangs",), ("hung",), False, 7),
        ("team", "search", ("Search on-call", "#search"), (), False, 12),
        ("team", "search", ("#llm-hangs",), ("hung",), False, 13),
        (
            "key_alias",
            "prod-app",
            ("Search on-call",),
            ("failures", "slow", "failure_rate"),  # the console's order
            True,
            16,
        ),
    ]


def test_a_route_of_an_unknown_kind_names_the_known_ones():
    found = problems(
        "routes:\n  default: {channels: A, kinds: [failures, llm_hangs]}\n"
        "channels: [{name: A, kind: inbox}]\n"
    )

    assert found == [
        "console.yaml line 2, routes.default.kinds: unknown alert kind 'llm_hangs'; known: "
        "failures, hung, slow, failure_rate, latency_percentile, first_token_percentile, "
        "deployment_outage, region_outage, too_little_traffic, budget, llm_exceptions, "
        "llm_requests_hanging, "
        "llm_too_slow, outage_alerts, region_outage_alerts, budget_alerts"
    ]


def test_a_route_mapping_names_its_mistakes_once_each():
    # Before: the mapping was read twice, and a repeated key was reported twice.
    assert problems(
        """
        channels: [{name: A, kind: inbox}]
        routes:
          teams:
            search:
              channels: A
              kinds: [hung]
              kinds: [slow]
              colour: red
            data: {kinds: [hung]}
            web: {channels: []}
        """
    ) == [
        "console.yaml line 8, routes.teams.search.kinds: duplicate key (first at line 7)",
        "console.yaml line 9, routes.teams.search.colour: unknown key; the keys here are: "
        "channels, continue, kinds",
        "console.yaml line 10, routes.teams.data.channels: "
        "missing: the channels this route sends to",
        "console.yaml line 11, routes.teams.web.channels: name at least one channel",
    ]


def test_two_routes_for_the_same_target_and_kinds_are_an_error():
    # Applied, the second would replace the first's channels, and the next run the reverse.
    assert problems(
        """
        channels: [{name: A, kind: inbox}, {name: B, kind: inbox}]
        routes:
          teams:
            search:
              - {channels: A, kinds: [hung]}
              - {channels: B, kinds: [llm_requests_hanging]}
              - {channels: B}
        """
    ) == [
        "console.yaml line 7, routes.teams.search[1]: a route for hung is also given at "
        "line 6: give the channels of both in one route"
    ]


def test_a_channel_name_used_twice_is_an_error_across_both_words():
    assert problems(
        f"""
        routing_keys:
          - {{name: Search on-call, integration_key: {PD_KEY}}}
        channels:
          - {{name: Search on-call, kind: inbox}}
        """
    ) == [
        "console.yaml line 5, channels[0].name: "
        "channel name 'Search on-call' is also used at line 3"
    ]
