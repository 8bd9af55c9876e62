"""What ops staff may save: channels, routes and policy bounds, with messages per field."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from policies.models import KIND_DEFAULTS, AlertPolicy, Channel, PolicyKind, Route

pytestmark = pytest.mark.django_db

GOOD_KEY = "a" * 16 + "B" * 8 + "01234567"


def errors_of(instance):
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_a_32_character_alphanumeric_pagerduty_key_is_accepted():
    Channel(name="ok", kind="pagerduty", secret=GOOD_KEY).full_clean()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (GOOD_KEY[:31], "exactly 32 characters; this one has 31"),
        (GOOD_KEY[:31] + "-", "only letters and digits"),
        (GOOD_KEY[:31] + "é", "only letters and digits"),
        ("", "exactly 32 characters; this one has 0"),
    ],
)
def test_a_malformed_pagerduty_key_is_refused_on_its_field(key, message):
    errors = errors_of(Channel(name="bad", kind="pagerduty", secret=key))
    assert list(errors) == ["secret"]
    assert message in errors["secret"][0]


def test_a_channel_of_an_unknown_kind_is_refused_naming_the_known_ones():
    errors = errors_of(Channel(name="bad", kind="pager", secret=GOOD_KEY))
    assert list(errors) == ["kind"]
    assert "unknown channel kind 'pager'; known: pagerduty, slack" in errors["kind"][0]


def test_a_key_alias_route_needs_an_alias_and_no_team(make_team):
    errors = errors_of(Route(scope=Route.Scope.KEY_ALIAS, team=make_team()))
    assert "needs the API-key alias" in errors["key_alias"][0]
    assert "leave the team empty" in errors["team"][0]


def test_a_team_route_needs_a_team():
    errors = errors_of(Route(scope=Route.Scope.TEAM))
    assert "needs the team" in errors["team"][0]


def test_the_default_route_matches_nothing_in_particular():
    route = Route(scope=Route.Scope.DEFAULT, key_alias="x")
    assert "matches everything" in errors_of(route)["key_alias"][0]


def test_a_route_names_known_alert_kinds_and_litellms_names_stand_for_ours():
    route = Route(scope=Route.Scope.DEFAULT, kinds=["llm_too_slow", "hung", "llm_exceptions"])
    route.full_clean()
    assert route.kinds == ["failures", "hung", "slow", "failure_rate"]

    errors = errors_of(Route(scope=Route.Scope.DEFAULT, kinds=["hangs"]))
    assert errors["kinds"][0].startswith("Unknown alert kind 'hangs'; known: failures")


def test_several_routes_may_match_the_same_thing(make_routing_key, make_route, make_team):
    """Routes at one level send together: no longer one route per team, alias or default."""
    team = make_team()
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    make_route(make_routing_key(), scope=Route.Scope.TEAM, team=team)
    make_route(make_routing_key(), scope=Route.Scope.KEY_ALIAS, key_alias="svc")

    Route(scope=Route.Scope.DEFAULT, kinds=["hung"]).full_clean()
    Route(scope=Route.Scope.TEAM, team=team).full_clean()
    Route(scope=Route.Scope.KEY_ALIAS, key_alias="svc").full_clean()


def test_the_database_refuses_a_route_whose_fields_contradict_its_scope():
    with pytest.raises(IntegrityError):
        Route.objects.create(scope=Route.Scope.DEFAULT, key_alias="x")


def test_policy_defaults_match_litellm():
    assert KIND_DEFAULTS[PolicyKind.FAILURES].threshold == 60
    assert KIND_DEFAULTS[PolicyKind.FAILURES].window_seconds == 60
    assert KIND_DEFAULTS[PolicyKind.HUNG].duration_seconds == 60
    assert KIND_DEFAULTS[PolicyKind.HUNG].threshold == 60
    assert KIND_DEFAULTS[PolicyKind.HUNG].window_seconds == 600
    policy = AlertPolicy(name="default")
    assert (policy.kind, policy.threshold, policy.window_seconds) == ("failures", 60, 60)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"threshold": 0}, "threshold", "at least 1 request"),
        ({"window_seconds": 0}, "window_seconds", "at least 1 second"),
        ({"window_seconds": 7 * 24 * 3600 + 1}, "window_seconds", "at most 7 days"),
        ({"kind": "hung"}, "duration_seconds", "A hung policy needs T"),
        ({"kind": "slow"}, "duration_seconds", "A slow policy needs T"),
        (
            {"kind": "failures", "duration_seconds": 30},
            "duration_seconds",
            "Only hung, slow, latency percentile and time-to-first-token percentile",
        ),
        ({"kind": "hung", "duration_seconds": 0}, "duration_seconds", "more than 0 seconds"),
        (
            {"kind": "slow", "duration_seconds": 4.5},
            "duration_seconds",
            "4.5 s is not one. The nearest: 4 s or 5 s.",
        ),
        (
            {"kind": "hung", "duration_seconds": 100_000},
            "duration_seconds",
            "(from 100 ms to 1 d); 100000 s is not one. The nearest: 86400 s.",
        ),
    ],
)
def test_a_policy_out_of_bounds_is_refused_on_its_field(fields, field, message):
    errors = errors_of(AlertPolicy(name="p", **fields))
    assert message in errors[field][0]


def test_the_bounds_themselves_are_accepted(make_policy):
    make_policy(threshold=1, window_seconds=1)
    make_policy(kind="hung", duration_seconds=0.5, window_seconds=7 * 24 * 3600)
    make_policy(kind="slow", duration_seconds=300)
    assert AlertPolicy.objects.count() == 3


def test_the_database_refuses_a_policy_that_skipped_validation():
    with pytest.raises(IntegrityError):
        AlertPolicy.objects.create(name="p", kind="hung", duration_seconds=None)


def test_a_policy_describes_itself_for_people(make_policy):
    assert make_policy(kind="failures").describe() == "60 failures within 60 s"
    hung = make_policy(kind="hung", duration_seconds=60, window_seconds=600)
    assert hung.describe() == "60 hung (> 60 s) within 600 s"
