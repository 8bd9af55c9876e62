"""The registry of alert kinds (policies/kinds/): every kind declared once, and a kind it does
not know is an error wherever a kind decides something, never counted as another kind."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from policies import kinds
from policies.counting import count_all, count_rows, window_for
from policies.engine import describe_count
from policies.evaluation import Count
from policies.models import KIND_DEFAULTS, AlertPolicy, PolicyKind
from policies.models.routing import LITELLM_KIND_NAMES, alert_kinds

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_the_stored_choices_are_the_registry_s_kinds():
    registered = [(k.name, k.label) for k in kinds.KINDS.values()]
    assert AlertPolicy._meta.get_field("kind").choices == registered
    assert {name: k.defaults for name, k in kinds.KINDS.items()} == KIND_DEFAULTS
    # The names code uses are registered kinds, labelled as the registry labels them.
    assert set(PolicyKind.choices) <= set(registered)


def test_litellm_alert_types_name_the_kinds_they_stand_for():
    assert LITELLM_KIND_NAMES == {
        "llm_exceptions": ("failures", "failure_rate"),
        "llm_requests_hanging": ("hung",),
        "llm_too_slow": ("slow",),
        "outage_alerts": ("deployment_outage",),
        "region_outage_alerts": ("region_outage",),
        "budget_alerts": ("budget",),
    }
    assert alert_kinds(["llm_too_slow", "hung"]) == ["hung", "slow"]


def test_litellm_settings_are_declared_by_the_kinds_they_set():
    """The LiteLLM import reads the names of its chat alerts' settings (outages, slow and
    hanging requests) from the kind whose field each sets."""
    settings = {
        name: kind.litellm_settings for name, kind in kinds.KINDS.items() if kind.litellm_settings
    }
    assert settings == {
        "hung": {"duration_seconds": "alerting_threshold"},
        "slow": {"duration_seconds": "alerting_threshold"},
        "deployment_outage": {
            "threshold": "minor_outage_alert_threshold",
            "critical_threshold": "major_outage_alert_threshold",
            "window_seconds": "outage_alert_ttl",
        },
        "region_outage": {
            "threshold": "minor_outage_alert_threshold",
            "critical_threshold": "major_outage_alert_threshold",
            "window_seconds": "region_outage_alert_ttl",
        },
    }
    for name, fields in settings.items():
        assert set(fields) <= {"threshold", "window_seconds", *kinds.get(name).parameters}, name


def test_an_unknown_kind_is_named_with_the_known_ones():
    with pytest.raises(kinds.UnknownKind) as raised:
        kinds.get("budget_typo")

    assert str(raised.value) == (
        "unknown alert kind 'budget_typo'; known: failures, hung, slow, failure_rate, "
        "latency_percentile, first_token_percentile, deployment_outage, region_outage, "
        "too_little_traffic, budget"
    )


def test_each_kind_describes_its_rule_and_a_count():
    policy = AlertPolicy(
        kind="slow", threshold=10, window_seconds=600, duration_seconds=300.0, min_requests=20
    )
    assert policy.describe() == "10 slow (> 300 s) within 600 s"
    assert describe_count(policy, Count(3, 3)) == "3 requests slower than 300 s"
    policy.kind, policy.duration_seconds, policy.failure_rate_percent = "failure_rate", None, 5.0
    assert policy.describe() == ">= 5% failed within 600 s (of at least 20 requests)"
    assert describe_count(policy, Count(5, 50)) == "10% of 50 requests failed"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"kind": "slow"}, {"duration_seconds": "A slow policy needs T"}),
        (
            {"kind": "failures", "duration_seconds": 60.0},
            {"duration_seconds": "Only hung, slow, latency percentile and time-to-first-token"},
        ),
        ({"kind": "failure_rate"}, {"failure_rate_percent": "A failure-rate policy needs R"}),
        (
            {"kind": "hung", "duration_seconds": 60.0, "failure_rate_percent": 5.0},
            {"failure_rate_percent": "Only failure-rate policies use R; leave it empty."},
        ),
    ],
)
def test_a_policy_is_checked_against_what_its_kind_needs(fields, errors):
    policy = AlertPolicy(name="p", **fields)

    with pytest.raises(ValidationError) as raised:
        policy.clean()

    assert {f: m[0][: len(errors[f])] for f, m in raised.value.message_dict.items()} == errors


def test_a_policy_of_an_unknown_kind_is_refused_on_its_kind():
    with pytest.raises(ValidationError) as raised:
        AlertPolicy(name="p", kind="budget_typo").clean()

    assert raised.value.message_dict["kind"][0].startswith("unknown alert kind 'budget_typo'")


@pytest.mark.django_db
def test_counting_refuses_an_unknown_kind_instead_of_counting_it_as_a_failure_rate():
    """A row written by a newer release, or by hand: it must stop evaluation loudly (the
    engine logs and skips the policy), not page on the wrong count."""
    policy = AlertPolicy(pk=1, name="p", kind="budget_typo", threshold=1, window_seconds=60)

    for count in (count_all, count_rows):
        with pytest.raises(kinds.UnknownKind):
            count([policy], NOW)
    with pytest.raises(kinds.UnknownKind):
        window_for(policy, NOW)
    with pytest.raises(kinds.UnknownKind):
        describe_count(policy, Count(1, 1))


@pytest.mark.django_db
def test_the_engine_skips_a_policy_of_an_unknown_kind_and_evaluates_the_others(make_policy, caplog):
    """The database refuses an unknown kind (policy_duration_matches_kind): only a release
    rolled back after writing a kind of its own leaves one. It is skipped, loudly."""
    from django.db import connection

    from policies.engine import evaluate_all
    from policies.models import Incident
    from tests.engine_helpers import T0, add_requests, later

    with connection.cursor() as cursor:
        for constraint in (
            "policy_duration_matches_kind",
            "policy_group_by_matches_kind",
            "policy_budget_matches_kind",
            "policy_window_bounds",
        ):
            cursor.execute(f"ALTER TABLE policies_alertpolicy DROP CONSTRAINT {constraint}")
    good = make_policy(name="good", threshold=1)
    newer = make_policy(name="newer", threshold=1)
    AlertPolicy.objects.filter(pk=newer.pk).update(kind="spend_forecast")
    add_requests(1, at=later(-1))

    outcomes = evaluate_all(T0)

    assert outcomes[newer.pk].startswith("skipped: unknown alert kind 'spend_forecast'")
    assert [i.policy_id for i in Incident.objects.all()] == [good.pk]
    assert f"policy {newer.pk} (newer) not evaluated: skipped: unknown alert kind" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "written",
    [
        {"critical_threshold": 5},  # not above the threshold (5)
        {"kind": "failure_rate", "failure_rate_percent": 5.0, "critical_threshold": 50},
        {"critical_failure_rate_percent": 50.0},  # a failures policy has no rate
        {"kind": "failure_rate", "failure_rate_percent": 5.0, "critical_failure_rate_percent": 5},
    ],
)
def test_the_database_refuses_a_critical_level_its_kind_does_not_take(make_policy, written):
    from django.db import IntegrityError, transaction

    policy = make_policy(threshold=5, severity="warning")

    with pytest.raises(IntegrityError), transaction.atomic():
        AlertPolicy.objects.filter(pk=policy.pk).update(**written)
