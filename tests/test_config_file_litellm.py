"""LiteLLM's general_settings.alerting_args, read as the two policies LiteLLM would page by."""

from pathlib import Path
from textwrap import dedent

import pytest

from policies.config import ConfigError, PolicySpec, parse
from policies.config.litellm import FAILURES_POLICY, HANGING_POLICY

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "litellm-config.yaml"


PAGERDUTY_KEY = "LITELLMPAGERDUTY" + "k" * 12 + "0001"


def policies(
    text: str, environ: dict[str, str] | None = None
) -> tuple[dict[str, PolicySpec], list[str]]:
    config = parse(dedent(text), "config.yaml", environ or {})
    return {p.name: p for p in config.policies}, config.notes


def numbers(policy: PolicySpec) -> tuple[str, int, int, float | None]:
    return (policy.kind, policy.threshold, policy.window_seconds, policy.duration_seconds)


def test_alerting_args_become_a_failures_and_a_hanging_policy():
    found, notes = policies(
        """
        general_settings:
          alerting: ["pagerduty"]
          alerting_args:
            failure_threshold: 5
            failure_threshold_window_seconds: 30
            hanging_threshold_seconds: 90
            hanging_threshold_window_seconds: 900
        """,
        {"PAGERDUTY_API_KEY": PAGERDUTY_KEY},
    )

    assert numbers(found[FAILURES_POLICY]) == ("failures", 5, 30, None)
    assert numbers(found[HANGING_POLICY]) == ("hung", 60, 900, 90.0)
    for policy in found.values():
        assert (policy.group_by, policy.severity, policy.enabled) == (
            "everything",
            "critical",
            True,
        )
    assert notes == []


def test_missing_args_take_litellms_defaults():
    found, _ = policies(
        """
        general_settings:
          alerting: ["pagerduty"]
        """
    )

    assert numbers(found[FAILURES_POLICY]) == ("failures", 60, 60, None)
    assert numbers(found[HANGING_POLICY]) == ("hung", 60, 600, 60.0)


def test_the_block_alone_is_enough_without_an_alerting_list():
    found, _ = policies(
        """
        general_settings:
          alerting_args:
            failure_threshold: 3
        """
    )

    assert numbers(found[FAILURES_POLICY]) == ("failures", 3, 60, None)
    assert numbers(found[HANGING_POLICY]) == ("hung", 60, 600, 60.0)


def test_a_whole_litellm_config_yaml_is_accepted():
    config = parse(EXAMPLE.read_text(), "litellm-config.yaml", {})

    found = {p.name: p for p in config.policies}
    assert numbers(found[FAILURES_POLICY]) == ("failures", 10, 60, None)
    assert numbers(found[HANGING_POLICY]) == ("hung", 60, 600, 120.0)
    # No key or URL in this environment: the channels are notes, the policies are made.
    assert (config.teams, config.channels, config.routes) == ([], [], [])
    assert [note.split(": ", 1)[1] for note in config.notes] == [
        "no PagerDuty channel was made: PAGERDUTY_API_KEY is not set (in the environment or "
        "the config's environment_variables)",
        "no Slack channel was made for llm_exceptions, llm_too_slow, outage_alerts, "
        "region_outage_alerts: SLACK_WEBHOOK_URL is not set (in the environment or the "
        "config's environment_variables)",
        "LiteLLM's alert types other than its request, outage and budget alerts (spend, "
        "database, report and management alerts) are not carried over: not console alert "
        "kinds yet",
        "not carried over: SLACK_HANGS_WEBHOOK_URL is not set (in the environment or the "
        "config's environment_variables)",
        "not carried over: SLACK_BUDGET_WEBHOOK_URL is not set (in the environment or the "
        "config's environment_variables)",
    ]


def test_a_fractional_hanging_threshold_is_kept():
    found, _ = policies("general_settings: {alerting_args: {hanging_threshold_seconds: 2.5}}")

    assert found[HANGING_POLICY].duration_seconds == 2.5


def test_a_hanging_threshold_below_the_smallest_duration_becomes_it_with_a_note():
    # LiteLLM's own docs use 0.0000001 s to see a hanging alert at once.
    found, notes = policies(
        """
        general_settings:
          alerting_args:
            hanging_threshold_seconds: 0.0000001
        """
    )

    assert found[HANGING_POLICY].duration_seconds == 0.1
    assert notes == [
        "config.yaml line 4, general_settings.alerting_args.hanging_threshold_seconds: "
        "1e-07 s is not one of the console's durations T; using 0.1 s"
    ]


def test_a_hanging_threshold_between_two_durations_takes_the_one_below_with_a_note():
    found, notes = policies("general_settings: {alerting_args: {hanging_threshold_seconds: 100}}")

    assert found[HANGING_POLICY].duration_seconds == 90  # hung sooner: pages no less often
    assert notes == [
        "config.yaml line 1, general_settings.alerting_args.hanging_threshold_seconds: "
        "100 s is not one of the console's durations T; using 90 s"
    ]


def test_unknown_alerting_args_are_ignored_with_a_note():
    found, notes = policies(
        """
        general_settings:
          alerting_args:
            alerting_threshold: 300
            hanging_threshold_fails: 5
        """
    )

    assert found[HANGING_POLICY].threshold == 60
    assert notes[0].startswith(
        "config.yaml line 4, general_settings.alerting_args.alerting_threshold: "
        "not one of LiteLLM's PagerDuty settings"
    )
    assert notes[1].startswith(
        "config.yaml line 5, general_settings.alerting_args.hanging_threshold_fails: "
        "ignored: LiteLLM does not read it either"
    )


def test_no_pagerduty_policies_when_pagerduty_is_not_in_the_alerting_list():
    text = """
        general_settings:
          alerting: ["slack"]
          alerting_args: {alerting_threshold: 300}
        teams: [{slug: search, name: Search}]
        """
    found, notes = policies(text)

    # Slack gets LiteLLM's outage alerts and its alerts on each slow or hanging request.
    assert list(found) == [
        "LiteLLM: deployment outages", "LiteLLM: region outages", "LiteLLM: slow requests",
        "LiteLLM: each hanging request",
    ]  # fmt: skip
    slow, hanging = found["LiteLLM: slow requests"], found["LiteLLM: each hanging request"]
    assert (slow.kind, slow.threshold, slow.duration_seconds, slow.severity) == (
        "slow", 1, 300.0, "warning"
    )  # fmt: skip
    assert (hanging.kind, hanging.threshold, hanging.duration_seconds, hanging.severity) == (
        "hung", 1, 300.0, "error"
    )  # fmt: skip
    assert notes[0].startswith(
        "config.yaml line 3, general_settings.alerting: pagerduty is not listed"
    )


def test_litellms_outage_settings_make_the_deployment_outage_policy():
    found, _ = policies(
        """
        general_settings:
          alerting: ["slack"]
          alert_types: ["outage_alerts", "llm_exceptions"]
          alerting_args:
            outage_alert_ttl: 120
            minor_outage_alert_threshold: 3
            major_outage_alert_threshold: 7
        """
    )

    outage = found["LiteLLM: deployment outages"]
    assert (outage.kind, outage.group_by, outage.severity) == (
        "deployment_outage", "deployment", "warning"
    )  # fmt: skip
    assert (outage.threshold, outage.critical_threshold, outage.window_seconds) == (3, 7, 120)
    assert outage.at("critical_threshold").line == 8
    assert "LiteLLM: region outages" not in found  # not in alert_types


def test_litellms_region_outage_settings_make_the_region_outage_policy():
    found, _ = policies(
        """
        general_settings:
          alerting: ["slack"]
          alert_types: ["region_outage_alerts"]
          alerting_args:
            outage_alert_ttl: 120
            region_outage_alert_ttl: 300
            minor_outage_alert_threshold: 3
            major_outage_alert_threshold: 7
        """
    )

    # The same minor and major thresholds, in the region alert's own window.
    assert list(found) == ["LiteLLM: region outages"]
    region = found["LiteLLM: region outages"]
    assert (region.kind, region.group_by, region.severity) == ("region_outage", "region", "warning")
    assert (region.threshold, region.critical_threshold, region.window_seconds) == (3, 7, 300)
    assert region.at("window_seconds").line == 7


@pytest.mark.parametrize(
    "settings",
    [
        'alerting: ["slack"]\n  alert_types: ["llm_exceptions"]',  # outage alerts are off
        'alerting: ["pagerduty"]',  # LiteLLM's PagerDuty alerting has no outage alerts
        "alerting_args: {minor_outage_alert_threshold: 3}",  # no alerting at all
    ],
)
def test_no_outage_policy_when_litellm_sends_no_outage_alerts(settings):
    found, _ = policies(f"general_settings:\n  {settings}\nteams: [{{slug: s, name: S}}]\n")

    assert "LiteLLM: deployment outages" not in found


def test_a_major_outage_threshold_not_above_the_minor_is_an_error():
    with pytest.raises(ConfigError) as excinfo:
        parse(
            "general_settings:\n  alerting: [slack]\n  alerting_args:\n"
            "    minor_outage_alert_threshold: 10\n    major_outage_alert_threshold: 10\n",
            "config.yaml",
            {},
        )

    assert excinfo.value.problems == [
        "config.yaml line 5, general_settings.alerting_args.major_outage_alert_threshold: The "
        "critical level must be above the threshold X."
    ]


def test_a_misspelt_alerting_args_is_pointed_out():
    with pytest.raises(ConfigError) as excinfo:
        parse("general_settings:\n  alerting_arg: {failure_threshold: 1}\n", "config.yaml", {})

    assert excinfo.value.problems[1] == (
        "config.yaml line 2, general_settings.alerting_arg: ignored; did you mean `alerting_args`?"
    )


def test_a_bad_value_names_litellms_key_and_line():
    with pytest.raises(ConfigError) as excinfo:
        parse(
            dedent(
                """
                general_settings:
                  alerting_args:
                    failure_threshold: 0
                    failure_threshold_window_seconds: 10.5
                    hanging_threshold_seconds: -1
                """
            ),
            "config.yaml",
            {},
        )

    assert excinfo.value.problems == [
        "config.yaml line 4, general_settings.alerting_args.failure_threshold: "
        "The threshold must be at least 1 request.",
        "config.yaml line 5, general_settings.alerting_args.failure_threshold_window_seconds: "
        "must be a whole number",
        "config.yaml line 6, general_settings.alerting_args.hanging_threshold_seconds: "
        "The duration must be more than 0 seconds.",
    ]


def test_a_policy_of_the_file_cannot_take_a_litellm_policys_name():
    with pytest.raises(ConfigError) as excinfo:
        parse(
            dedent(
                """
                policies:
                  - name: "LiteLLM: failures"
                general_settings:
                  alerting_args: {}
                """
            ),
            "config.yaml",
            {},
        )

    assert excinfo.value.problems == [
        "config.yaml line 5, general_settings.alerting_args: "
        "policy name 'LiteLLM: failures' is also used at line 3"
    ]


def test_alert_types_choose_which_of_litellms_slow_and_hanging_alerts_become_policies():
    found, _ = policies(
        """
        general_settings:
          alerting: ["ms_teams"]
          alert_types: ["llm_too_slow"]
          alerting_threshold: 45
        """
    )

    assert list(found) == ["LiteLLM: slow requests"]
    assert numbers(found["LiteLLM: slow requests"]) == ("slow", 1, 600, 45.0)


def test_an_alerting_threshold_that_is_not_seconds_is_an_error_at_its_line():
    with pytest.raises(ConfigError) as excinfo:
        parse(
            "general_settings:\n  alerting: [slack]\n  alerting_threshold: soon\n",
            "config.yaml",
            {},
        )

    assert excinfo.value.problems == [
        "config.yaml line 3, general_settings.alerting_threshold: must be a number, not text"
    ]


def test_an_alerting_threshold_of_zero_is_an_error_at_its_line():
    with pytest.raises(ConfigError) as excinfo:
        parse(
            "general_settings:\n  alerting: [slack]\n  alerting_threshold: 0\n", "config.yaml", {}
        )

    assert excinfo.value.problems == [
        "config.yaml line 3, general_settings.alerting_threshold: must be a number of seconds "
        "above 0"
    ]
