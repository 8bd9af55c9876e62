"""`manage.py apply_config FILE`: creates, updates, and a second run changes nothing."""

from io import StringIO
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from policies.models import AlertPolicy, Channel, Route, Team

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEYS = {
    "PD_SEARCH_KEY": "SEARCHKEY" + "a" * 19 + "0001",
    "PD_CHECKOUT_KEY": "CHECKOUTKEY" + "b" * 17 + "0002",
    "PD_PLATFORM_KEY": "PLATFORMKEY" + "c" * 17 + "0003",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-" + "s" * 20 + "0004",
    "SLACK_HANGS_WEBHOOK": "https://hooks.slack.com/services/T0001/B0002/" + "h" * 20 + "0005",
}
# The example's objects: 2 teams, 5 channels, 6 routes, 3 policies.
OBJECTS = 16


@pytest.fixture(autouse=True)
def channel_secrets(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("PAGERDUTY_API_KEY", "SLACK_WEBHOOK_URL", "MS_TEAMS_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)  # LiteLLM's, read by its config


def route_rows() -> set[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return {
        (
            r.scope,
            r.team.slug if r.team else r.key_alias,
            tuple(sorted(c.name for c in r.channels.all())),
            tuple(r.kinds),
        )
        for r in Route.objects.select_related("team").prefetch_related("channels")
    }


def apply(path: Path, *args: str) -> list[str]:
    out = StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue().splitlines()


def snapshot() -> dict[str, list[Any]]:
    """Every row of every table the command writes, updated_at included."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Team, Channel, Route, AlertPolicy)
    }


def edited_example(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = (EXAMPLES / "console.yaml").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "console.yaml"
    path.write_text(text)
    return path


def test_it_creates_everything_from_the_example_file():
    lines = apply(EXAMPLES / "console.yaml")

    search = Team.objects.get(slug="search")
    assert (search.name, search.gateway_team_id, search.gateway_team_alias) == (
        "Search",
        "team-search",
        "Search",
    )
    assert {c.name: (c.kind, c.secret, c.settings) for c in Channel.objects.all()} == {
        "Search on-call": ("pagerduty", KEYS["PD_SEARCH_KEY"], {}),
        "Checkout on-call": ("pagerduty", KEYS["PD_CHECKOUT_KEY"], {}),
        "Platform on-call": ("pagerduty", KEYS["PD_PLATFORM_KEY"], {}),
        "#search": ("slack", KEYS["SLACK_BOT_TOKEN"], {"channel": "C0SEARCH01"}),
        "#llm-hangs": ("slack", KEYS["SLACK_HANGS_WEBHOOK"], {}),
    }
    assert Channel.objects.get(name="#search").team == search
    assert route_rows() == {
        ("default", "", ("Platform on-call",), ()),
        ("default", "", ("#llm-hangs",), ("hung",)),
        ("team", "search", ("#search", "Search on-call"), ()),
        ("team", "search", ("#llm-hangs",), ("hung",)),
        ("team", "checkout", ("Checkout on-call",), ()),
        ("key_alias", "search-batch-indexer", ("Platform on-call",), ()),
    }
    slow = AlertPolicy.objects.get(name="Slow search completions")
    assert (slow.kind, slow.threshold, slow.window_seconds, slow.duration_seconds) == (
        "slow",
        10,
        600,
        30.0,
    )
    assert (slow.filter_team, slow.filter_model, slow.severity) == (search, "gpt-4o", "warning")
    assert AlertPolicy.objects.count() == 3
    assert "team 'search': created" in lines
    assert "PagerDuty channel 'Search on-call' (SEAR…0001): created" in lines
    assert "Slack channel '#llm-hangs' (https://hooks.slack.com/…0005): created" in lines
    assert "route for team 'search' → 'Search on-call', '#search': created" in lines
    assert "route for team 'search' (hung) → '#llm-hangs': created" in lines
    assert "policy 'Hung requests': created" in lines
    assert lines[-1] == f"{OBJECTS} created, 0 changed, 0 unchanged."


def test_a_second_run_changes_nothing_and_reports_everything_unchanged():
    apply(EXAMPLES / "console.yaml")
    before = snapshot()

    lines = apply(EXAMPLES / "console.yaml")

    assert snapshot() == before  # updated_at included: no row was saved again
    assert all(line.endswith(": unchanged") for line in lines[:-1])
    assert lines[-1] == f"0 created, 0 changed, {OBJECTS} unchanged."


def test_an_edited_file_updates_only_what_changed(tmp_path):
    apply(EXAMPLES / "console.yaml")
    before = snapshot()
    edited = edited_example(
        tmp_path,
        ("    threshold: 60                    # X requests...", "    threshold: 30"),
        ("    severity: warning", "    severity: error"),
        ('      - channels: [Search on-call, "#search"]', "      - channels: Platform on-call"),
        ("    name: Checkout\n", "    name: Checkout & Payments\n"),
    )

    lines = apply(edited)

    after = snapshot()
    changed = {
        (model, row["id"])
        for model, rows in after.items()
        for row, old in zip(rows, before[model], strict=True)
        if row != old
    }
    policy = AlertPolicy.objects.get(name="Upstream failures per team")
    slow = AlertPolicy.objects.get(name="Slow search completions")
    search_route = Route.objects.get(scope="team", team__slug="search", kinds=[])
    checkout = Team.objects.get(slug="checkout")
    assert changed == {
        ("AlertPolicy", policy.pk),
        ("AlertPolicy", slow.pk),
        ("Route", search_route.pk),
        ("Team", checkout.pk),
    }
    assert (policy.threshold, slow.severity, checkout.name) == (30, "error", "Checkout & Payments")
    assert [c.name for c in search_route.channels.all()] == ["Platform on-call"]
    assert "policy 'Upstream failures per team': changed (fields: threshold)" in lines
    assert "policy 'Slow search completions': changed (fields: severity)" in lines
    assert "route for team 'search' → 'Platform on-call': changed (fields: channels)" in lines
    assert "team 'checkout': changed (fields: name)" in lines
    assert lines[-1] == f"0 created, 4 changed, {OBJECTS - 4} unchanged."


def test_a_new_key_in_the_environment_is_an_update(monkeypatch):
    apply(EXAMPLES / "console.yaml")
    new_key = "NEWSEARCHKEY" + "d" * 16 + "0004"
    monkeypatch.setenv("PD_SEARCH_KEY", new_key)

    lines = apply(EXAMPLES / "console.yaml")

    assert Channel.objects.get(name="Search on-call").secret == new_key
    assert "PagerDuty channel 'Search on-call' (NEWS…0004): changed (fields: credential)" in lines


def test_the_litellm_block_creates_the_matching_policies():
    # Without LiteLLM's keys and URLs in the environment: the policies, and notes.
    lines = apply(EXAMPLES / "litellm-config.yaml")

    failures = AlertPolicy.objects.get(name="LiteLLM: failures")
    hanging = AlertPolicy.objects.get(name="LiteLLM: hanging requests")
    assert (failures.kind, failures.threshold, failures.window_seconds) == ("failures", 10, 60)
    assert failures.duration_seconds is None
    assert (hanging.kind, hanging.threshold, hanging.window_seconds) == ("hung", 60, 600)
    assert hanging.duration_seconds == 120.0
    assert {failures.group_by, hanging.group_by} == {"everything"}
    outage = AlertPolicy.objects.get(name="LiteLLM: deployment outages")
    assert (outage.kind, outage.threshold, outage.critical_threshold) == (
        "deployment_outage",
        5,
        10,
    )
    slow = AlertPolicy.objects.get(name="LiteLLM: slow requests")
    assert (slow.kind, slow.threshold, slow.duration_seconds) == ("slow", 1, 300.0)
    assert lines[:6] == [
        "policy 'LiteLLM: failures': created",
        "policy 'LiteLLM: hanging requests': created",
        "policy 'LiteLLM: deployment outages': created",
        "policy 'LiteLLM: region outages': created",
        "policy 'LiteLLM: slow requests': created",
        "policy 'LiteLLM: each hanging request': created",
    ]
    assert all(line.startswith("note: ") for line in lines[6:-1])
    assert "PAGERDUTY_API_KEY is not set" in lines[6]
    assert lines[-1] == "6 created, 0 changed, 0 unchanged."
    assert Team.objects.count() == Channel.objects.count() == Route.objects.count() == 0


def test_a_tiny_litellm_hanging_threshold_is_applied_as_a_millisecond_and_stays_unchanged(
    tmp_path,
):
    path = tmp_path / "config.yaml"
    path.write_text(
        dedent(
            """
            general_settings:
              alerting: ["pagerduty"]
              alerting_args:
                failure_threshold: 1
                failure_threshold_window_seconds: 10
                hanging_threshold_seconds: 0.0000001
                hanging_threshold_window_seconds: 10
            """
        )
    )

    first = apply(path)
    second = apply(path)

    assert AlertPolicy.objects.get(name="LiteLLM: hanging requests").duration_seconds == 0.1
    assert any("using 0.1 s" in line for line in first)
    assert second[:2] == [
        "policy 'LiteLLM: failures': unchanged",
        "policy 'LiteLLM: hanging requests': unchanged",
    ]


def test_rows_the_file_does_not_mention_are_left_alone(make_team, make_policy, tmp_path):
    other_team = make_team(slug="data", name="Data")
    other_policy = make_policy(name="Hand-made", threshold=5)
    team_before = Team.objects.filter(pk=other_team.pk).values().get()
    policy_before = AlertPolicy.objects.filter(pk=other_policy.pk).values().get()

    apply(EXAMPLES / "console.yaml")

    assert Team.objects.filter(pk=other_team.pk).values().get() == team_before
    assert AlertPolicy.objects.filter(pk=other_policy.pk).values().get() == policy_before


def test_references_may_name_rows_already_in_the_console(make_team, make_channel, tmp_path):
    make_team(slug="data", name="Data")
    make_channel(name="Data on-call")
    path = tmp_path / "routes.yaml"
    path.write_text(
        "routes:\n  teams: {data: Data on-call}\npolicies: [{name: Data, team: data}]\n"
    )

    apply(path)

    assert [c.name for c in Route.objects.get(team__slug="data").channels.all()] == ["Data on-call"]
    assert AlertPolicy.objects.get(name="Data").filter_team == Team.objects.get(slug="data")


def test_a_dry_run_reports_what_would_change_and_writes_nothing(tmp_path):
    apply(EXAMPLES / "console.yaml")
    before = snapshot()
    edited = edited_example(tmp_path, ("    severity: warning", "    severity: error"))

    lines = apply(edited, "--dry-run")

    assert snapshot() == before
    assert "policy 'Slow search completions': would change (fields: severity)" in lines
    assert lines[-1] == (
        f"Dry run, nothing was written: 0 to create, 1 to change, {OBJECTS - 1} unchanged."
    )


def test_a_dry_run_on_an_empty_console_creates_nothing():
    lines = apply(EXAMPLES / "console.yaml", "--dry-run")

    assert snapshot() == {"Team": [], "Channel": [], "Route": [], "AlertPolicy": []}
    assert "team 'search': would be created" in lines


def test_the_credentials_never_appear_in_the_output(tmp_path, monkeypatch):
    lines = apply(EXAMPLES / "console.yaml")
    monkeypatch.setenv("PD_SEARCH_KEY", "CHANGEDKEY" + "e" * 18 + "0005")
    lines += apply(EXAMPLES / "console.yaml", "--dry-run")
    lines += apply(EXAMPLES / "console.yaml")

    output = "\n".join(lines)
    for key in [*KEYS.values(), "CHANGEDKEY" + "e" * 18 + "0005"]:
        assert key not in output
        assert key[4:-4] not in output
        assert key[-8:] not in output


def test_it_sets_the_engine_settings_of_a_policy(tmp_path):
    path = tmp_path / "rate.yaml"
    path.write_text(
        dedent(
            """\
            policies:
              - name: Failure rate per key
                kind: failure_rate
                failure_rate_percent: 25
                min_requests: 50
                window_seconds: 300
                group_by: key_alias
                count_gateway_rejections: true
                consecutive_breaches: 3
                resolve_threshold: 1
                resolve_hold_seconds: 120
                renotify_seconds: 3600
            """
        )
    )

    apply(path)
    second = apply(path)

    policy = AlertPolicy.objects.get()
    assert (policy.kind, policy.failure_rate_percent, policy.min_requests) == (
        "failure_rate",
        25,
        50,
    )
    assert (policy.count_gateway_rejections, policy.count_client_errors) == (True, False)
    assert (policy.consecutive_breaches, policy.resolve_threshold) == (3, 1)
    assert (policy.resolve_hold_seconds, policy.renotify_seconds) == (120, 3600)
    assert any("unchanged" in line for line in second)


def test_a_failure_rate_policy_without_its_rate_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "rate.yaml"
    path.write_text("policies:\n  - name: Rate\n    kind: failure_rate\n")

    with pytest.raises(
        CommandError, match=r"line 2, policies\[0\]\.failure_rate_percent: A failure-rate"
    ):
        apply(path)
    assert not AlertPolicy.objects.exists()
