"""Reading and checking a configuration file: plain values, and problems that name their place.

No database: parsing checks each item with the model's own validation, offline.
"""

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

from policies.config import Config, ConfigError, load_file, parse

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "console.yaml"
ENV = {
    "PD_SEARCH_KEY": "SEARCHKEY" + "a" * 19 + "0001",
    "PD_CHECKOUT_KEY": "CHECKOUTKEY" + "b" * 17 + "0002",
    "PD_PLATFORM_KEY": "PLATFORMKEY" + "c" * 17 + "0003",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-" + "s" * 24,
    "SLACK_HANGS_WEBHOOK": "https://hooks.slack.com/services/T0001/B0002/" + "h" * 24,
}


def parse_text(text: str, environ: Mapping[str, str] | None = None) -> Config:
    return parse(dedent(text), "console.yaml", ENV if environ is None else environ)


def problems(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        parse_text(text, environ)
    return excinfo.value.problems


def test_it_reads_the_example_file():
    config = load_file(EXAMPLE, ENV)

    assert [t.slug for t in config.teams] == ["search", "checkout"]
    assert config.teams[0].gateway_team_id == "team-search"
    assert [(c.name, c.kind, c.team) for c in config.channels] == [
        ("Search on-call", "pagerduty", "search"),
        ("Checkout on-call", "pagerduty", ""),
        ("Platform on-call", "pagerduty", ""),
        ("#search", "slack", "search"),
        ("#llm-hangs", "slack", ""),
    ]
    assert config.channels[0].secret == ENV["PD_SEARCH_KEY"]
    assert config.channels[3].settings == {"channel": "C0SEARCH01"}
    assert [(r.scope, r.target, r.channels, r.kinds) for r in config.routes] == [
        ("default", "", ("Platform on-call",), ()),
        ("default", "", ("#llm-hangs",), ("hung",)),
        ("team", "search", ("Search on-call", "#search"), ()),
        ("team", "search", ("#llm-hangs",), ("hung",)),  # LiteLLM's name for it, in the file
        ("team", "checkout", ("Checkout on-call",), ()),
        ("key_alias", "search-batch-indexer", ("Platform on-call",), ()),
    ]
    slow = config.policies[2]
    assert (slow.kind, slow.threshold, slow.window_seconds, slow.duration_seconds) == (
        "slow",
        10,
        600,
        30.0,
    )
    assert (slow.team, slow.model, slow.severity) == ("search", "gpt-4o", "warning")
    assert config.notes == []


def test_a_routing_key_the_old_word_is_a_pagerduty_channel_read_from_the_environment():
    config = parse_text(
        """
        routing_keys:
          - name: Search on-call
            integration_key: os.environ/MY_PD_KEY
        """,
        {"MY_PD_KEY": ENV["PD_SEARCH_KEY"] + "\n"},
    )

    (channel,) = config.channels
    assert (channel.name, channel.kind, channel.secret) == (
        "Search on-call",
        "pagerduty",
        ENV["PD_SEARCH_KEY"],
    )


def test_an_unset_environment_variable_is_an_error_naming_it():
    assert problems(
        """
        routing_keys:
          - name: Search on-call
            integration_key: os.environ/PD_NOT_SET
        """,
        {},
    ) == [
        "console.yaml line 4, routing_keys[0].integration_key: "
        "the environment variable PD_NOT_SET is not set"
    ]


def test_a_key_written_in_the_file_is_accepted_with_a_note():
    config = parse_text(
        f"""
        routing_keys:
          - name: Search on-call
            integration_key: {ENV["PD_SEARCH_KEY"]}
        """
    )

    assert config.channels[0].secret == ENV["PD_SEARCH_KEY"]
    assert "os.environ/NAME keeps it out of version control" in config.notes[0]
    assert ENV["PD_SEARCH_KEY"] not in config.notes[0]


def test_a_bad_routing_key_is_an_error_that_does_not_show_the_key():
    bad_key = "R0AB" + "x" * 20 + "-not-ok"
    found = problems(
        """
        routing_keys:
          - name: Search on-call
            integration_key: os.environ/PD_SEARCH_KEY
        """,
        {"PD_SEARCH_KEY": bad_key},
    )

    assert found == [
        "console.yaml line 4, routing_keys[0].integration_key (os.environ/PD_SEARCH_KEY): "
        "A PagerDuty integration key is exactly 32 characters; this one has 31."
    ]
    assert bad_key not in str(found)
    assert "R0AB" not in repr(parse_text("routing_keys: []\npolicies: [{name: p}]"))


def test_a_yaml_syntax_error_names_the_line_without_quoting_it():
    found = problems(
        f"""
        routing_keys:
          - name: Search on-call
            integration_key: "{ENV["PD_SEARCH_KEY"]}
        policies: []
        """
    )

    assert len(found) == 1
    assert found[0].startswith("console.yaml line 6: YAML syntax error: ")
    assert ENV["PD_SEARCH_KEY"] not in found[0]


def test_an_unknown_key_is_an_error_suggesting_the_right_one():
    assert problems(
        """
        policies:
          - name: Failures
            treshold: 10
        """
    ) == ["console.yaml line 4, policies[0].treshold: unknown key (did you mean `threshold`?)"]


def test_an_unknown_section_is_an_error():
    found = problems("polices: []\nzebra: 1\n")

    assert found[0] == "console.yaml line 1, polices: unknown key (did you mean `policies`?)"
    assert found[1].startswith("console.yaml line 2, zebra: unknown key; the file's sections are")


def test_a_key_given_twice_is_an_error():
    assert problems(
        """
        policies:
          - name: Failures
            threshold: 10
            threshold: 20
        """
    ) == ["console.yaml line 5, policies[0].threshold: duplicate key (first at line 4)"]


def test_a_window_out_of_bounds_names_the_line_and_key():
    assert problems(
        """
        policies:
          - name: Failures
            kind: failures
            window_seconds: 700000
        """
    ) == [
        "console.yaml line 5, policies[0].window_seconds: "
        "The window can be at most 7 days (604800 s)."
    ]


def test_a_hung_policy_without_T_is_an_error():
    assert problems(
        """
        policies:
          - name: Hung
            kind: hung
        """
    ) == [
        "console.yaml line 3, policies[0].duration_seconds: A hung policy needs T: after how "
        "many seconds a request counts as hung."
    ]


def test_a_failures_policy_with_T_is_an_error():
    assert problems(
        """
        policies:
          - name: Failures
            duration_seconds: 5
        """
    ) == [
        "console.yaml line 4, policies[0].duration_seconds: "
        "Only hung, slow, latency percentile and time-to-first-token percentile policies use T; "
        "leave it empty."
    ]


def test_a_policy_reads_its_critical_level():
    config = parse_text(
        """
        policies:
          - name: Outage
            threshold: 5
            critical_threshold: 10
            severity: warning
          - name: Rate
            kind: failure_rate
            failure_rate_percent: 5
            critical_failure_rate_percent: 20
            severity: error
        """
    )

    outage, rate = config.policies
    assert (outage.threshold, outage.critical_threshold, outage.severity) == (5, 10, "warning")
    assert (rate.failure_rate_percent, rate.critical_failure_rate_percent) == (5.0, 20.0)


def test_a_critical_level_is_checked_against_the_first_and_the_kind():
    assert problems(
        """
        policies:
          - name: Low
            threshold: 5
            critical_threshold: 5
            severity: warning
          - name: Critical twice
            threshold: 5
            critical_threshold: 10
          - name: Rate
            kind: failure_rate
            failure_rate_percent: 5
            critical_threshold: 10
        """
    ) == [
        "console.yaml line 5, policies[0].critical_threshold: The critical level must be above "
        "the threshold X.",
        "console.yaml line 7, policies[1].severity: With a critical level, the first level's "
        "severity must be below critical (warning, say).",
        "console.yaml line 13, policies[2].critical_threshold: Only failures, hung, slow, "
        "deployment outage, region outage and too little traffic policies use a critical "
        "threshold; leave it empty.",
    ]


def test_threshold_and_window_default_to_the_kinds_defaults():
    config = parse_text(
        """
        policies:
          - name: Failures
          - name: Hung
            kind: hung
            duration_seconds: 0.5
        """
    )

    failures, hung = config.policies
    assert (failures.kind, failures.threshold, failures.window_seconds) == ("failures", 60, 60)
    assert (hung.threshold, hung.window_seconds, hung.duration_seconds) == (60, 600, 0.5)
    assert (failures.group_by, failures.severity, failures.enabled) == (
        "everything",
        "critical",
        True,
    )


def test_each_new_kind_is_read_with_its_own_fields_and_defaults():
    config = parse_text(
        """
        policies:
          - name: Slow answers
            kind: latency_percentile
            percentile: 95
            duration_seconds: 10
            critical_duration_seconds: 30
            severity: warning
          - name: Team budgets
            kind: budget
            budget: 2500.50
            budget_time_zone: Europe/Paris
          - name: Quiet models
            kind: too_little_traffic
            critical_threshold: 1
            threshold: 10
          - name: Regions
            kind: region_outage
          - name: Slow first tokens
            kind: first_token_percentile
            percentile: 90
            duration_seconds: 2
        """
    )

    slow, budget, quiet, regions, first_token = config.policies
    assert (slow.percentile, slow.duration_seconds, slow.critical_duration_seconds) == (
        95, 10.0, 30.0
    )  # fmt: skip
    assert (budget.budget, budget.budget_unit, budget.budget_period) == (
        Decimal("2500.5"), "usd", "month"
    )  # fmt: skip
    assert (budget.budget_time_zone, budget.budget_warning_percents, budget.group_by) == (
        "Europe/Paris", "85, 95", "team"
    )  # fmt: skip
    assert (quiet.threshold, quiet.critical_threshold, quiet.group_by) == (10, 1, "model")
    assert (regions.threshold, regions.critical_threshold, regions.group_by) == (5, 10, "region")
    assert (first_token.kind, first_token.percentile, first_token.duration_seconds) == (
        "first_token_percentile", 90, 2.0
    )  # fmt: skip
    assert (first_token.threshold, first_token.window_seconds, first_token.min_requests) == (
        1, 300, 20
    )  # fmt: skip


def test_values_of_the_wrong_type_or_choice_are_errors():
    assert problems(
        """
        teams:
          - slug: no
            name: Norway
        policies:
          - name: Failures
            threshold: ten
            group_by: continent
            enabled: maybe
        """
    ) == [
        "console.yaml line 3, teams[0].slug: must be text; put it in quotes "
        "(YAML read it as something else)",
        "console.yaml line 7, policies[0].threshold: must be a whole number, not text",
        "console.yaml line 8, policies[0].group_by: must be one of: everything, team, "
        "key_alias, model, deployment, region, user",
        "console.yaml line 9, policies[0].enabled: must be true or false, not text",
    ]


def test_a_missing_required_key_is_an_error():
    assert problems(
        """
        teams:
          - slug: search
        """
    ) == ["console.yaml line 3, teams[0].name: missing: this key is required"]


def test_a_name_used_twice_is_an_error():
    assert problems(
        """
        teams:
          - {slug: search, name: Search}
          - {slug: search, name: Search again}
        policies:
          - name: Failures
          - name: Failures
        """
    ) == [
        "console.yaml line 4, teams[1].slug: team slug 'search' is also used at line 3",
        "console.yaml line 7, policies[1].name: policy name 'Failures' is also used at line 6",
    ]


def test_a_team_key_claimed_by_two_teams_is_an_error():
    assert problems(
        """
        teams:
          - {slug: search, name: Search, gateway_team_id: t-1}
          - {slug: ads, name: Ads, gateway_team_alias: t-1}
          - {slug: t-2, name: Billing, gateway_team_id: search}
        """
    ) == [
        "console.yaml line 4, teams[1].gateway_team_alias: gateway team alias 't-1' is the "
        "gateway team id of the team at line 3: requests with this team key would belong to "
        "two teams",
        "console.yaml line 5, teams[2].gateway_team_id: gateway team id 'search' is the team "
        "slug of the team at line 3: requests with this team key would belong to two teams",
    ]


def test_a_model_rule_is_checked_offline():
    assert problems(
        """
        teams:
          - slug: not a slug
            name: Search
        """
    )[0].startswith("console.yaml line 3, teams[0].slug: Enter a valid “slug”")


def test_routes_read_as_scope_target_and_channel_names():
    config = parse_text(
        """
        routes:
          default: Platform on-call
          key_aliases:
            "search service": Search on-call
        """
    )

    assert [(r.scope, r.target, r.channels, str(r.place)) for r in config.routes] == [
        ("default", "", ("Platform on-call",), "console.yaml line 3, routes.default"),
        (
            "key_alias",
            "search service",
            ("Search on-call",),
            "console.yaml line 5, routes.key_aliases['search service']",
        ),
    ]


def test_every_problem_is_reported_in_line_order():
    found = problems(
        """
        policies:
          - name: Failures
            window_seconds: 0
        teams:
          - slug: search
            colour: blue
        """
    )

    assert [p.split(",")[0] for p in found] == [
        "console.yaml line 4",
        "console.yaml line 6",
        "console.yaml line 7",
    ]


def test_an_empty_file_is_an_error():
    assert problems("") == ["console.yaml: the file is empty"]
    assert problems("teams: []\n")[0].startswith("console.yaml: nothing to apply")


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_file(tmp_path / "missing.yaml", ENV)


def test_shared_values_can_be_merged_from_an_anchor_under_an_x_key():
    config = parse_text(
        """
        x-paging: &paging
          severity: warning
          group_by: team
        policies:
          - <<: *paging
            name: A
          - <<: *paging
            name: B
            severity: error
        """
    )

    assert [(p.name, p.severity, p.group_by) for p in config.policies] == [
        ("A", "warning", "team"),
        ("B", "error", "team"),
    ]
    assert str(config.policies[0].at("severity")) == "console.yaml line 3, policies[0].severity"


def test_an_empty_section_is_nothing_but_an_empty_unknown_one_is_an_error():
    assert parse_text("teams:\ngeneral_settings:\npolicies: [{name: A}]\n").teams == []
    assert problems("polices:\n") == [
        "console.yaml line 1, polices: unknown key (did you mean `policies`?)"
    ]


def test_the_file_must_be_a_mapping():
    assert problems("- teams\n") == [
        "console.yaml line 1: must be a mapping (lines of `key: value`)"
    ]


def test_a_value_with_an_unknown_tag_is_an_error():
    assert problems("policies: [{name: !!python/name:os.system ''}]\n") == [
        "console.yaml line 1, policies[0].name: "
        "must be text, not a value tagged tag:yaml.org,2002:python/name:os.system"
    ]


def test_an_empty_environment_variable_is_an_error_naming_it():
    assert problems(
        "routing_keys: [{name: Search on-call, integration_key: os.environ/PD_KEY}]\n",
        {"PD_KEY": " "},
    ) == [
        "console.yaml line 1, routing_keys[0].integration_key: "
        "the environment variable PD_KEY is empty"
    ]
