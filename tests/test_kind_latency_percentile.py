"""The latency percentile kind: its decision is exact (T is a duration the counts keep), tested
against the percentile computed from the latencies themselves; and from breach to page to
resolve."""

import math

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from ingest import latency
from policies.evaluation import Count, Rule
from policies.models import AlertPolicy, Incident
from tests.engine_helpers import T0, add_requests, drain, evaluate, later


def nearest_rank(latencies: list[float], p: int) -> float:
    """The p-th percentile by nearest rank: the value at rank ceil(p/100 * N)."""
    ordered = sorted(latencies)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


@given(
    latencies=st.lists(
        st.sampled_from([0.05, 0.5, 0.75, 1.0, 1.2, 2.0, 2.5, 4.9, 5.0, 5.1, 30.0]),
        min_size=1,
        max_size=300,
    ),
    p=st.sampled_from([50, 90, 95, 99]),
    t=st.sampled_from([0.5, 1.0, 2.5, 5.0, 10.0]),
)
def test_the_decision_is_the_percentile_above_t_exactly(latencies, p, t):
    assert t in latency.EDGES  # what makes the counts answer it exactly
    slower = sum(1 for value in latencies if value > t)
    rule = Rule(threshold=1, percentile=p / 100, min_requests=1)

    assert rule.breached(Count(slower, len(latencies))) == (nearest_rank(latencies, p) > t)


def test_a_group_with_too_few_requests_is_not_judged():
    rule = Rule(threshold=1, percentile=0.95, min_requests=20)

    assert not rule.breached(Count(19, 19))
    assert rule.breached(Count(2, 20))  # rank 19 of 20 is slower: p95 above T


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"percentile": None}, "percentile"), ({"duration_seconds": None}, "duration_seconds")],
)
def test_it_needs_its_percentile_and_t(fields, field):
    policy = AlertPolicy(name="p95", kind="latency_percentile", percentile=95, duration_seconds=5.0)
    for name, value in fields.items():
        setattr(policy, name, value)

    with pytest.raises(ValidationError) as raised:
        policy.clean()

    assert list(raised.value.message_dict) == [field]


def test_it_describes_its_rule_and_count():
    policy = AlertPolicy(
        kind="latency_percentile", percentile=95, duration_seconds=5.0, window_seconds=300,
        min_requests=20,
    )  # fmt: skip

    assert policy.describe() == "p95 latency above 5 s within 300 s (of at least 20 requests)"


@pytest.mark.django_db
def test_from_breach_to_page_to_resolve(make_route, make_channel, pagerduty):
    make_route(make_channel(name="On-call"), scope="default")
    policy = AlertPolicy(
        name="Slow answers", kind="latency_percentile", percentile=90, duration_seconds=5.0,
        threshold=1, window_seconds=60, min_requests=10, severity="warning",
        resolve_hold_seconds=0,
    )  # fmt: skip
    policy.full_clean()
    policy.save()
    add_requests(9, at=later(-1), outcome="success", latency_seconds=1.0)
    add_requests(1, at=later(-1), outcome="success", latency_seconds=6.0)  # p90: rank 9, 1 s

    evaluate(policy, T0)
    assert not Incident.objects.exists()
    add_requests(1, at=later(1), outcome="success", latency_seconds=7.0)  # rank 10 of 11: 6 s
    evaluate(policy, later(2))
    drain(later(2))
    evaluate(policy, later(70))  # the window is empty: under the minimum, not judged
    drain(later(70))

    incident = Incident.objects.get()
    assert incident.status == "resolved"
    assert incident.summary == ("Slow answers: p90 above 5 s: 2 of 11 requests slower in 60 s")
    assert [e["event_action"] for e in pagerduty.events] == ["trigger", "resolve"]


@pytest.mark.django_db
def test_the_incident_page_charts_the_share_slower_against_the_percentile_s_line(ops):
    from datetime import timedelta

    from django.utils import timezone

    from tests.test_incident_page import change_url, open_incident

    policy = AlertPolicy(
        name="Slow answers", kind="latency_percentile", percentile=90, duration_seconds=5.0,
        threshold=1, window_seconds=60, min_requests=1,
    )  # fmt: skip
    policy.save()
    now = timezone.now()
    add_requests(3, at=now - timedelta(seconds=5), outcome="success", latency_seconds=1.0)
    add_requests(1, at=now - timedelta(seconds=5), outcome="success", latency_seconds=6.0)
    incident = open_incident(policy, "", detected_at=now - timedelta(seconds=30))

    page = ops.get(change_url(incident)).content.decode()

    # One of four slower than T: 25% of the requests, over the 10% a p90 allows.
    assert "% slower than T over time: last 25, peak 25, threshold 10" in page


def percentile_policy(**fields):
    values = {
        "name": "Slow answers", "kind": "latency_percentile", "percentile": 90,
        "duration_seconds": 5.0, "critical_duration_seconds": 30.0, "threshold": 1,
        "window_seconds": 60, "min_requests": 10, "severity": "warning",
        "resolve_hold_seconds": 0, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


@given(
    latencies=st.lists(st.sampled_from([1.0, 4.0, 6.0, 25.0, 31.0, 120.0]), min_size=1),
    p=st.sampled_from([50, 90, 95, 99]),
)
def test_the_critical_level_is_the_same_percentile_above_a_longer_t(latencies, p):
    from policies.engine import rule_for

    rule = rule_for(percentile_policy(percentile=p, min_requests=1))
    value = nearest_rank(latencies, p)
    count = Count(
        sum(1 for x in latencies if x > 5.0),
        len(latencies),
        critical_matched=sum(1 for x in latencies if x > 30.0),
    )

    assert rule.breached(count) == (value > 5.0)
    assert rule.critical_reached(count) == (value > 30.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"critical_duration_seconds": 5.0}, "The critical level must be above T."),
        ({"critical_duration_seconds": 5.0, "duration_seconds": 10.0}, "The critical level"),
        ({"critical_duration_seconds": 31.0}, "T must be one of the durations"),
    ],
)  # fmt: skip
def test_a_critical_t_must_be_a_kept_duration_above_t(fields, message):
    with pytest.raises(ValidationError) as raised:
        percentile_policy(**fields).full_clean(validate_unique=False, validate_constraints=False)

    assert raised.value.message_dict["critical_duration_seconds"][0].startswith(message)


def test_it_describes_its_critical_t():
    assert percentile_policy().describe() == (
        "p90 latency above 5 s within 60 s (of at least 10 requests), critical above 30 s"
    )


@pytest.mark.django_db
def test_counted_on_the_counts_and_the_rows_and_escalated_when_the_longer_t_is_passed(
    make_route, make_channel, pagerduty
):
    from policies.counting import count_all, count_rows

    make_route(make_channel(name="On-call"), scope="default")
    policy = percentile_policy()
    policy.full_clean()
    policy.save()
    add_requests(8, at=later(-1), outcome="success", latency_seconds=1.0)
    add_requests(2, at=later(-1), outcome="success", latency_seconds=10.0)  # p90: 10 s

    for count in (count_all, count_rows):
        assert count([policy], T0)[policy.pk] == {"": Count(2, 10, 0, 0)}
    evaluate(policy, T0)
    drain(T0)
    add_requests(2, at=later(1), outcome="success", latency_seconds=45.0)  # p90 of 12: 45 s
    for count in (count_all, count_rows):
        assert count([policy], later(2))[policy.pk] == {"": Count(4, 12, 0, 2)}
    evaluate(policy, later(2))
    drain(later(2))

    incident = Incident.objects.get()
    assert incident.severity == "critical"
    assert incident.summary == (
        "Slow answers: p90 above 5 s: 2 of 10 requests slower, 0 slower than 30 s in 60 s"
    )
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "critical")]
