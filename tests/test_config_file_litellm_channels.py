"""A LiteLLM config.yaml brings its channels along: general_settings.alerting, the environment
variables LiteLLM reads, alert_to_webhook_url and alert_types become channels and default routes
with the same meaning; what cannot be carried over is a note naming its line, with no secret."""

from io import StringIO
from pathlib import Path
from textwrap import dedent

import pytest
from django.core.management import call_command

from policies.channels.teams import RETIRED
from policies.config import Config, parse
from policies.config.litellm import FAILURES_POLICY, HANGING_POLICY
from policies.models import Channel, Route
from policies.routing import channels_for

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "litellm-config.yaml"
PD_KEY = "LITELLMPAGERDUTYKEY0123456789abc"
SLACK = "https://hooks.slack.com/services/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"
SLACK_2 = "https://hooks.slack.com/services/T04JBDEQSHF/B06S53DQSJ2/" + "x" * 24
DISCORD = "https://discord.com/api/webhooks/1240030362193760286/" + "d" * 68
WORKFLOW = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + "w" * 30
)
CONNECTOR = "https://berriai.webhook.office.com/webhookb2/6901/IncomingWebhook/b55f/e04b"
SITE = "https://webhook.site/7843a980-a494-4967-80fb-d502dbc16886"
SECRETS = [PD_KEY, SLACK, SLACK_2, DISCORD, WORKFLOW, CONNECTOR, SITE]
NOT_SET = "(in the environment or the config's environment_variables)"
ALL_KINDS = (
    "failures", "hung", "slow", "failure_rate", "deployment_outage", "region_outage", "budget",
)  # fmt: skip
NO_PAGERDUTY = (
    "pagerduty is not listed, so LiteLLM's PagerDuty alerting is off in this file: no LiteLLM "
    "policies were made from it"
)
OTHER_TYPES = (
    "LiteLLM's alert types other than its request, outage and budget alerts (spend, database, "
    "report and management alerts) are not carried over: not console alert kinds yet"
)
BUDGETS = (
    "budget_alerts is routed as the budget kind; LiteLLM's budgets themselves (the max_budget "
    "of its keys, teams and users) are in its database, not this file: make a budget policy "
    "for each to watch"
)


def read(text: str, environ: dict[str, str] | None = None) -> Config:
    return parse(dedent(text), "config.yaml", environ or {})


def channels(config: Config) -> dict[str, tuple[str, str]]:
    return {c.name: (c.kind, c.secret) for c in config.channels}


def routes(config: Config) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(r.scope, r.kinds, r.channels) for r in config.routes]


def notes(config: Config) -> list[str]:
    """The notes without the file name."""
    return [note.removeprefix("config.yaml ") for note in config.notes]


def test_pagerduty_with_its_key_becomes_a_channel_routed_for_the_litellm_policies():
    config = read(
        """
        general_settings:
          alerting: ["pagerduty"]
        """,
        {"PAGERDUTY_API_KEY": PD_KEY},
    )

    assert channels(config) == {"LiteLLM: PagerDuty": ("pagerduty", PD_KEY)}
    assert routes(config) == [("default", ("failures", "hung"), ("LiteLLM: PagerDuty",))]
    assert {p.name for p in config.policies} == {FAILURES_POLICY, HANGING_POLICY}
    assert config.notes == []


def test_slack_with_its_url_becomes_a_channel_for_litellms_request_alerts():
    config = read(
        """
        general_settings:
          alerting: ["pagerduty", "slack"]
        """,
        {"PAGERDUTY_API_KEY": PD_KEY, "SLACK_WEBHOOK_URL": SLACK},
    )

    assert channels(config) == {
        "LiteLLM: PagerDuty": ("pagerduty", PD_KEY),
        "LiteLLM: Slack": ("slack", SLACK),
    }
    assert routes(config) == [
        ("default", ("failures", "hung"), ("LiteLLM: PagerDuty",)),
        ("default", ALL_KINDS, ("LiteLLM: Slack",)),
    ]
    assert notes(config) == [
        f"line 3, general_settings.alerting[1]: {OTHER_TYPES}",
        f"line 3, general_settings.alerting[1]: {BUDGETS}",
    ]


def test_an_unset_variable_is_a_note_saying_what_was_not_made():
    config = read("general_settings:\n  alerting: [pagerduty, slack, ms_teams]\n")

    assert (config.channels, config.routes) == ([], [])
    # LiteLLM's PagerDuty settings still make their policies, and its chat alerts theirs.
    assert [p.name for p in config.policies] == [
        "LiteLLM: failures", "LiteLLM: hanging requests", "LiteLLM: deployment outages",
        "LiteLLM: region outages", "LiteLLM: slow requests", "LiteLLM: each hanging request",
    ]  # fmt: skip
    assert notes(config) == [
        f"line 2, general_settings.alerting[0]: no PagerDuty channel was made: PAGERDUTY_API_KEY "
        f"is not set {NOT_SET}",
        "line 2, general_settings.alerting[1]: no Slack channel was made for llm_exceptions, "
        f"llm_requests_hanging, llm_too_slow, outage_alerts, region_outage_alerts, "
        f"budget_alerts: SLACK_WEBHOOK_URL is not set {NOT_SET}",
        "line 2, general_settings.alerting[2]: no Microsoft Teams channel was made: "
        f"MS_TEAMS_WEBHOOK_URL is not set {NOT_SET}",
        f"line 2, general_settings.alerting[1]: {OTHER_TYPES}",
    ]  # no channel, so nothing is routed for budgets: no word of them


def test_litellms_documented_alert_to_webhook_url_is_carried_over_for_its_request_alerts():
    # LiteLLM's "1 channel per alert" example, as its docs write it (a flow mapping).
    config = read(
        f"""
        general_settings:
          master_key: sk-1234
          alerting: ["slack"]
          alerting_threshold: 0.0001
          alert_to_webhook_url: {{
            "llm_exceptions": "{SLACK}",
            "llm_too_slow": "{SLACK}",
            "llm_requests_hanging": "{SLACK}",
            "budget_alerts": "{SLACK}",
            "db_exceptions": "{SLACK}",
            "daily_reports": "{SLACK}",
            "spend_reports": "{SLACK}",
            "cooldown_deployment": "{SLACK}",
            "new_model_added": "{SLACK}",
            "outage_alerts": "{SLACK}",
          }}
        """
    )

    name = (
        "LiteLLM: Slack for llm_exceptions, llm_requests_hanging, llm_too_slow, outage_alerts, "
        "budget_alerts"
    )
    assert channels(config) == {name: ("slack", SLACK)}
    assert routes(config) == [
        (
            "default",
            ("failures", "hung", "slow", "failure_rate", "deployment_outage", "budget"),
            (name,),
        )
    ]
    not_a_kind = (
        "not carried over: {} is not a console alert kind yet (those it has: "
        "llm_exceptions, llm_requests_hanging, llm_too_slow, outage_alerts, region_outage_alerts, "
        "budget_alerts)"
    )
    written = "the URL is written in the file; os.environ/NAME keeps it out of version control"
    place = "general_settings.alert_to_webhook_url"
    assert notes(config) == [
        f"line 4, general_settings.alerting: {NO_PAGERDUTY}",
        # LiteLLM sends what the file maps to no URL to SLACK_WEBHOOK_URL, which is not set.
        f"line 4, general_settings.alerting[0]: no Slack channel was made for "
        f"region_outage_alerts: SLACK_WEBHOOK_URL is not set {NOT_SET}",
        f"line 4, general_settings.alerting[0]: {OTHER_TYPES}",
        f"line 4, general_settings.alerting[0]: {BUDGETS}",
        # Its alerts on each slow or hanging request become policies of one such request.
        "line 5, general_settings.alerting_threshold: 0.0001 s is not one of the console's "
        "durations T; using 0.1 s",
        f"line 7, {place}.llm_exceptions: {written}",
        f"line 8, {place}.llm_too_slow: {written}",
        f"line 9, {place}.llm_requests_hanging: {written}",
        f"line 10, {place}.budget_alerts: {written}",
        f"line 11, {place}.db_exceptions: {not_a_kind.format('db_exceptions')}",
        f"line 12, {place}.daily_reports: {not_a_kind.format('daily_reports')}",
        f"line 13, {place}.spend_reports: {not_a_kind.format('spend_reports')}",
        f"line 14, {place}.cooldown_deployment: {not_a_kind.format('cooldown_deployment')}",
        f"line 15, {place}.new_model_added: {not_a_kind.format('new_model_added')}",
        f"line 16, {place}.outage_alerts: {written}",
    ]
    assert not [note for note in config.notes if SLACK[40:] in note]


def test_each_url_becomes_a_channel_of_the_kind_its_host_says():
    config = read(
        f"""
        general_settings:
          alerting: ["slack"]
          alert_to_webhook_url:
            llm_exceptions: ["os.environ/SLACK_WEBHOOK_URL", "os.environ/SLACK_WEBHOOK_URL_2"]
            llm_too_slow: ["{SITE}", "os.environ/TEAMS_WORKFLOW"]
            llm_requests_hanging: ["os.environ/SLACK_WEBHOOK_URL_5"]
        """,
        {
            "SLACK_WEBHOOK_URL": SLACK,
            "SLACK_WEBHOOK_URL_2": DISCORD + "/slack",  # as LiteLLM's docs say to write it
            "TEAMS_WORKFLOW": WORKFLOW,
        },
    )

    assert channels(config) == {
        # For llm_exceptions, and the outage alerts, which LiteLLM sends to SLACK_WEBHOOK_URL.
        "LiteLLM: Slack": ("slack", SLACK),
        "LiteLLM: Discord for llm_exceptions": ("discord", DISCORD),  # Discord's own format
        "LiteLLM: Webhook (signed) for llm_too_slow": ("webhook", SITE),
        "LiteLLM: Microsoft Teams for llm_too_slow": ("teams", WORKFLOW),
    }
    assert routes(config) == [
        (
            "default",
            ("failures", "failure_rate", "deployment_outage", "region_outage", "budget"),
            ("LiteLLM: Slack",),
        ),
        ("default", ("failures", "failure_rate"), ("LiteLLM: Discord for llm_exceptions",)),
        (
            "default",
            ("slow",),
            (
                "LiteLLM: Webhook (signed) for llm_too_slow",
                "LiteLLM: Microsoft Teams for llm_too_slow",
            ),
        ),
    ]
    place = "general_settings.alert_to_webhook_url"
    assert notes(config) == [
        f"line 3, general_settings.alerting: {NO_PAGERDUTY}",
        f"line 3, general_settings.alerting[0]: {OTHER_TYPES}",
        f"line 3, general_settings.alerting[0]: {BUDGETS}",
        f"line 6, {place}.llm_too_slow[0]: the URL is written in the file; os.environ/NAME keeps "
        "it out of version control",
        f"line 6, {place}.llm_too_slow[0]: the URL (https://webhook.site/…6886) becomes the "
        "signed webhook channel 'LiteLLM: Webhook (signed) for llm_too_slow': it receives the "
        "console's JSON body, not LiteLLM's Slack-style text",
        f"line 7, {place}.llm_requests_hanging[0]: not carried over: SLACK_WEBHOOK_URL_5 is not "
        f"set {NOT_SET}",
    ]


def test_a_url_used_for_several_alert_types_is_one_channel():
    config = read(
        """
        general_settings:
          alerting: ["slack"]
          alert_to_webhook_url:
            llm_requests_hanging: os.environ/SLACK_WEBHOOK_URL
        """,
        {"SLACK_WEBHOOK_URL": SLACK},
    )

    # The hangs' own URL is also the one for the rest: one channel, taking every request alert.
    assert channels(config) == {"LiteLLM: Slack": ("slack", SLACK)}
    assert routes(config) == [("default", ALL_KINDS, ("LiteLLM: Slack",))]


def test_alert_types_limits_what_is_routed_and_names_what_is_not_carried_over():
    config = read(
        """
        general_settings:
          alerting: ["slack"]
          alert_types: ["llm_exceptions", "budget_alerts", "spend_reports"]
        """,
        {"SLACK_WEBHOOK_URL": SLACK},
    )

    assert routes(config) == [
        ("default", ("failures", "failure_rate", "budget"), ("LiteLLM: Slack",))
    ]
    assert notes(config) == [
        f"line 3, general_settings.alerting: {NO_PAGERDUTY}",
        f"line 3, general_settings.alerting[0]: {BUDGETS}",
        "line 4, general_settings.alert_types: not carried over: spend_reports is not a console "
        "alert kind yet (those it has: llm_exceptions, llm_requests_hanging, llm_too_slow, "
        "outage_alerts, region_outage_alerts, budget_alerts)",
    ]


@pytest.mark.parametrize("word", ["ms_teams", "msteams"])
def test_ms_teams_with_a_workflows_url_becomes_a_teams_channel(word):
    config = read(
        f"general_settings:\n  alerting: [{word}]\n  alert_types: [llm_requests_hanging]\n",
        {"MS_TEAMS_WEBHOOK_URL": WORKFLOW},
    )

    assert channels(config) == {"LiteLLM: Microsoft Teams": ("teams", WORKFLOW)}
    assert routes(config) == [("default", ("hung",), ("LiteLLM: Microsoft Teams",))]


def test_a_retired_teams_connector_url_is_not_carried_over_and_the_note_says_what_to_use():
    # LiteLLM's docs still show an Office 365 connector URL, in SLACK_WEBHOOK_URL.
    config = read(
        "general_settings:\n  alerting: [ms_teams, slack]\nteams: [{slug: ops, name: Ops}]\n",
        {"MS_TEAMS_WEBHOOK_URL": CONNECTOR, "SLACK_WEBHOOK_URL": CONNECTOR},
    )

    assert (config.channels, config.routes) == ([], [])
    assert notes(config)[2] == (
        "line 2, general_settings.alerting[0]: MS_TEAMS_WEBHOOK_URL "
        f"(https://berriai.webhook.office.com/…e04b) is not carried over: {RETIRED}"
    )


ROUTE_BUDGETS = (
    "to send the console's budget incidents there, make a webhook or e-mail channel and route "
    "the budget kind to it"
)


def test_budget_webhooks_email_and_unknown_destinations_are_noted():
    config = read(
        "general_settings:\n  alerting: [webhook, email, datadog]\n"
        "teams: [{slug: ops, name: Ops}]\n",
        {"WEBHOOK_URL": SITE},
    )

    assert (config.channels, config.routes) == ([], [])
    assert notes(config) == [
        f"line 2, general_settings.alerting: {NO_PAGERDUTY}",
        "line 2, general_settings.alerting[0]: webhook (WEBHOOK_URL) is not carried over: "
        f"LiteLLM sends it its own budget events only; {ROUTE_BUDGETS}",
        "line 2, general_settings.alerting[1]: email is not carried over: LiteLLM sends it its "
        f"own budget events only; {ROUTE_BUDGETS}",
        "line 2, general_settings.alerting[2]: 'datadog' is not carried over: not one of "
        "pagerduty, slack, ms_teams, webhook, email",
    ]


def test_the_configs_environment_variables_are_read_as_litellm_reads_them():
    # LiteLLM's Discord example: the Slack-compatible URL in environment_variables.
    config = read(
        f"""
        general_settings:
          alerting: ["slack"]
          alert_types: [llm_exceptions]
        environment_variables:
          SLACK_WEBHOOK_URL: "{DISCORD}/slack"
        """,
        {"SLACK_WEBHOOK_URL": SLACK},  # the file's value wins, as in LiteLLM
    )

    assert channels(config) == {"LiteLLM: Discord": ("discord", DISCORD)}
    assert notes(config) == [
        f"line 3, general_settings.alerting: {NO_PAGERDUTY}",
        "line 6, environment_variables.SLACK_WEBHOOK_URL: the secret is written in the file; set "
        "SLACK_WEBHOOK_URL in the environment instead to keep it out of version control",
    ]


def test_a_bad_key_is_a_note_without_the_key_and_the_policies_are_still_made():
    bad_key = "LITELLM-BAD-KEY-" + "q" * 12
    config = read("general_settings:\n  alerting: [pagerduty]\n", {"PAGERDUTY_API_KEY": bad_key})

    assert config.channels == []
    assert len(config.policies) == 2
    assert notes(config) == [
        "line 2, general_settings.alerting[0]: PAGERDUTY_API_KEY (LITE…qqqq) is not carried "
        "over: A PagerDuty integration key is exactly 32 characters; this one has 28."
    ]


def test_no_secret_is_in_any_note():
    config = read(
        f"""
        general_settings:
          alerting: [pagerduty, slack, ms_teams]
          alert_to_webhook_url:
            llm_exceptions: ["{SLACK_2}", "https://hooks.slack.com/triggers/{"t" * 30}"]
            llm_too_slow: "{SITE}"
            budget_alerts: "{SITE}"
        """,
        {"PAGERDUTY_API_KEY": PD_KEY[:-1], "MS_TEAMS_WEBHOOK_URL": CONNECTOR},
    )

    assert len(config.notes) >= 6
    text = "\n".join(config.notes)
    for secret in [*SECRETS, "t" * 30]:
        assert secret[-12:-4] not in text


def test_alert_to_webhook_url_without_slack_and_a_misspelt_key_are_noted():
    config = read(
        f"""
        general_settings:
          alerting: [pagerduty]
          alert_to_webhook_url: {{llm_exceptions: "{SLACK}"}}
          alert_to_webhook_urls: {{}}
        """,
        {"PAGERDUTY_API_KEY": PD_KEY},
    )

    assert notes(config) == [
        "line 4, general_settings.alert_to_webhook_url: not carried over: LiteLLM reads it only "
        "when alerting lists slack",
        "line 5, general_settings.alert_to_webhook_urls: ignored; did you mean "
        "`alert_to_webhook_url`?",
    ]


def test_a_litellm_route_like_one_of_the_file_adds_its_channel_to_it():
    config = read(
        """
        channels: [{name: Inbox, kind: inbox}]
        routes:
          default: {channels: Inbox, kinds: [failures, hung]}
        general_settings:
          alerting: [pagerduty]
        """,
        {"PAGERDUTY_API_KEY": PD_KEY},
    )

    assert routes(config) == [("default", ("failures", "hung"), ("Inbox", "LiteLLM: PagerDuty"))]


def test_a_litellm_channel_cannot_take_a_name_of_the_file():
    with pytest.raises(Exception, match="channel name 'LiteLLM: PagerDuty' is also used at line 2"):
        read(
            """
            channels: [{name: "LiteLLM: PagerDuty", kind: inbox}]
            general_settings:
              alerting: [pagerduty]
            """,
            {"PAGERDUTY_API_KEY": PD_KEY},
        )


@pytest.mark.django_db
def test_the_example_applied_makes_litellms_channels_and_routes_and_again_changes_nothing(
    monkeypatch,
):
    monkeypatch.setenv("PAGERDUTY_API_KEY", PD_KEY)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK)
    monkeypatch.setenv("SLACK_HANGS_WEBHOOK_URL", SLACK_2)
    monkeypatch.delenv("SLACK_BUDGET_WEBHOOK_URL", raising=False)

    first, second = StringIO(), StringIO()
    call_command("apply_config", str(EXAMPLE), stdout=first)
    call_command("apply_config", str(EXAMPLE), stdout=second)

    assert {c.name: (c.kind, c.secret) for c in Channel.objects.all()} == {
        "LiteLLM: PagerDuty": ("pagerduty", PD_KEY),
        "LiteLLM: Slack": ("slack", SLACK),
        "LiteLLM: Slack for llm_requests_hanging": ("slack", SLACK_2),
    }
    assert Route.objects.count() == 3
    hung = sorted(c.name for c in channels_for(None, None, "hung"))
    slow = sorted(c.name for c in channels_for(None, None, "slow"))
    assert hung == ["LiteLLM: PagerDuty", "LiteLLM: Slack for llm_requests_hanging"]
    assert slow == ["LiteLLM: Slack"]
    assert first.getvalue().splitlines()[-1] == "12 created, 0 changed, 0 unchanged."
    assert second.getvalue().splitlines()[-1] == "0 created, 0 changed, 12 unchanged."
    output = first.getvalue() + second.getvalue()
    assert PD_KEY[4:-4] not in output
    assert SLACK[30:-4] not in output
