"""The too-little-traffic kind: fewer than X successful requests within Y seconds, judged for
the groups that had traffic in the last day (or the one group of a policy of everything), so
that a model that stops answering is noticed though it has no rows at all."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import rollups
from policies.counting import count_all
from policies.engine import rule_for
from policies.evaluation import Action, Count, GroupState, evaluate
from policies.models import AlertPolicy, Incident
from policies.selection import GROUP_EXPRESSIONS, filters_of, window_start
from policies.traffic_counting import baseline_start
from tests.engine_helpers import T0, add_requests, drain, later
from tests.engine_helpers import evaluate as evaluate_at


def quiet_policy(**fields):
    values = {
        "name": "Quiet models", "kind": "too_little_traffic", "threshold": 3,
        "window_seconds": 600, "group_by": "model", "severity": "warning", "min_requests": 5,
        "resolve_hold_seconds": 0, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


@pytest.mark.parametrize(
    ("count", "breached"),
    [
        (Count(0, 0), False),  # not expected: no traffic before
        (Count(0, 40), True),  # expected, and silent
        (Count(2, 40), True),
        (Count(3, 40), False),
    ],
)
def test_it_breaches_below_the_threshold_for_expected_groups_only(count, breached):
    rule = rule_for(quiet_policy())

    assert (rule.breached(count), rule.clear(count)) == (breached, not breached)
    assert not rule.critical_reached(Count(0, 40))


def test_a_new_low_is_its_peak_and_traffic_coming_back_resolves_it():
    rule = rule_for(quiet_policy())
    open_state = {"gpt-4o": GroupState(open=True, peak=2, last_paged_at=T0)}

    _, lower = evaluate(rule, {"gpt-4o": Count(0, 30)}, open_state, later(5))
    _, back = evaluate(rule, {"gpt-4o": Count(9, 30)}, open_state, later(10))

    assert [d.action for d in lower] == [Action.PEAK]
    assert [d.action for d in back] == [Action.RESOLVE]


def test_it_describes_its_rule_and_count():
    policy = quiet_policy()
    assert policy.describe() == "fewer than 3 successful requests within 600 s"
    assert rule_for(policy).below


def successes(model, n, seconds, **fields):
    add_requests(n, at=later(seconds), outcome="success", model_group=model, **fields)


def reference(policy, now):
    """Each group's successes in the window and in the last day, straight from the rows; the
    groups expected as the kind says."""
    group = GROUP_EXPRESSIONS[policy.group_by]
    conditions = ["finished_at > %s", "finished_at <= %s"]
    params = [window_start(policy, now), baseline_start(now), now]
    for condition, condition_params in filters_of(policy):
        conditions.append(condition)
        params += condition_params
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {group}, SUM(CASE WHEN finished_at > %s AND outcome = 'success' THEN 1 "  # noqa: S608
            f"ELSE 0 END), SUM(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END) "
            f"FROM ingest_gatewayrequest WHERE {' AND '.join(conditions)} GROUP BY 1",
            params,
        )
        found = {g: Count(int(w), int(b)) for g, w, b in cursor.fetchall()}
    expected = {g: c for g, c in found.items() if c.total >= max(1, policy.min_requests)}
    if policy.group_by == "everything":
        seen = expected.get("", Count(0, 0))
        expected[""] = Count(seen.matched, max(seen.total, 1))
    return expected


@pytest.mark.django_db
def test_silent_models_that_had_traffic_are_counted_with_nothing_in_the_window():
    policy = quiet_policy()
    policy.save()
    everything = quiet_policy(name="All", group_by="everything", filter_model="claude")
    everything.save()
    successes("gpt-4o", 10, -3600)  # an hour ago: expected, silent now
    successes("gpt-4o-mini", 10, -3600)
    successes("gpt-4o-mini", 2, -30)  # and 2 now
    successes("o1", 2, -3600)  # too little before to be expected
    successes("gemini", 10, -90000)  # more than a day ago: no longer expected
    add_requests(20, at=later(-60), model_group="gpt-4o")  # failures are not successes

    counted = count_all([policy, everything], T0)

    assert counted[policy.pk] == {"gpt-4o": Count(0, 10), "gpt-4o-mini": Count(2, 12)}
    assert counted[policy.pk] == reference(policy, T0)
    # A policy of everything always judges its group: claude has never been used.
    assert counted[everything.pk] == {"": Count(0, 1)} == reference(everything, T0)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([-90000, -86401, -86399, -3600, -601, -600, -599, -1, 0, 1]),
            st.sampled_from(["gpt-4o", "claude", ""]),
            st.booleans(),  # a success
        ),
        max_size=40,
    ),
    group_by=st.sampled_from(["model", "everything", "key_alias"]),
    min_requests=st.sampled_from([1, 2, 5]),
    window=st.sampled_from([60, 600, 7200]),
    folded=st.booleans(),
)
def test_generated_traffic_agrees_with_a_query_of_the_rows(
    rows, group_by, min_requests, window, folded
):
    with transaction.atomic():
        policy = quiet_policy(group_by=group_by, min_requests=min_requests, window_seconds=window)
        policy.save()
        for seconds, model, succeeded in rows:
            outcome = "success" if succeeded else "failure"
            add_requests(1, at=later(seconds), outcome=outcome, model_group=model, key_alias=model)
        if folded:
            rollups.fold()

        assert count_all([policy], T0 + timedelta(seconds=0.5))[policy.pk] == reference(
            policy, T0 + timedelta(seconds=0.5)
        )
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_model_that_stops_answering_pages_and_resolves_when_it_answers_again(
    make_route, make_channel, pagerduty
):
    make_route(make_channel(name="On-call"), scope="default")
    policy = quiet_policy()
    policy.full_clean()
    policy.save()
    successes("gpt-4o", 30, -3600)  # busy an hour ago, nothing in the last ten minutes

    evaluate_at(policy, T0)
    drain(T0)
    successes("gpt-4o", 5, 20)
    evaluate_at(policy, later(30))
    drain(later(30))

    incident = Incident.objects.get()
    assert incident.summary == (
        "Quiet models: 0 successful requests (fewer than 3) in 600 s on model gpt-4o"
    )
    assert incident.status == "resolved"
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("resolve", None)]


def test_its_critical_level_lies_below_x():
    policy = quiet_policy(threshold=10, critical_threshold=1)
    rule = rule_for(policy)

    assert policy.describe() == ("fewer than 10 successful requests within 600 s, critical below 1")
    assert (rule.breached(Count(4, 40)), rule.critical_reached(Count(4, 40))) == (True, False)
    assert rule.critical_reached(Count(0, 40))
    assert not rule.critical_reached(Count(0, 0))  # not expected: nothing to say


X_AND_ONE = "the threshold X, and at least 1"
RESOLVES = "resolves once the count is back at X; leave it empty"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"threshold": 10, "critical_threshold": 10},
            {"critical_threshold": [f"The critical level must be below {X_AND_ONE}."]},
        ),
        (
            {"resolve_threshold": 5},
            {"resolve_threshold": [f"A too little traffic policy {RESOLVES}."]},
        ),
    ],
)  # fmt: skip
def test_a_critical_level_not_below_x_or_a_resolve_threshold_is_refused(fields, errors):
    with pytest.raises(ValidationError) as raised:
        quiet_policy(**fields).clean()

    assert raised.value.message_dict == errors


def test_falling_from_a_warning_to_none_at_all_escalates_and_coming_back_falls_back():
    rule = rule_for(quiet_policy(threshold=10, critical_threshold=1))
    warned = GroupState(open=True, peak=4, last_paged_at=T0)

    _, dropped = evaluate(rule, {"m": Count(0, 40)}, {"m": warned}, later(5))
    critical = dropped[0].state
    _, better = evaluate(rule, {"m": Count(6, 40)}, {"m": critical}, later(10))

    assert [(d.action, d.state.peak) for d in dropped] == [(Action.ESCALATE, 0)]
    assert [d.action for d in better] == [Action.DEESCALATE]  # no hold: at once


@pytest.mark.django_db
def test_a_model_gone_silent_turns_critical_on_every_channel(make_route, make_channel, pagerduty):
    make_route(make_channel(name="On-call"), scope="default")
    policy = quiet_policy(threshold=10, critical_threshold=1)
    policy.full_clean()
    policy.save()
    successes("gpt-4o", 30, -3600)
    successes("gpt-4o", 3, -30)  # 3 in the window: a warning

    evaluate_at(policy, T0)
    drain(T0)
    evaluate_at(policy, later(40))  # still 3 within the window: nothing new
    evaluate_at(policy, later(580))  # they have left it: none at all
    drain(later(580))

    incident = Incident.objects.get()
    assert (incident.severity, incident.peak_count) == ("critical", 0)
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "critical")]
