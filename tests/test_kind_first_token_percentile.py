"""The time-to-first-token percentile kind: decided exactly over the requests that reported a
first token (T is a first-token edge the counts keep), tested against the percentile of the
values themselves; counted alike on the counts and the rows; from breach to page to resolve."""

import math

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import latency
from policies.evaluation import Count
from policies.models import AlertPolicy, Incident
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

VALUES = [None, 0.05, 0.5, 0.75, 1.0, 1.2, 2.0, 2.5, 4.9, 5.0, 5.1, 30.0, 61.0]


def nearest_rank(values: list[float], p: int) -> float:
    """The p-th percentile by nearest rank: the value at rank ceil(p/100 * N)."""
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


def first_token_policy(**fields):
    values = {
        "name": "Slow streams", "kind": "first_token_percentile", "percentile": 90,
        "duration_seconds": 2.0, "critical_duration_seconds": 10.0, "threshold": 1,
        "window_seconds": 60, "min_requests": 1, "severity": "warning",
        "resolve_hold_seconds": 0, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


def test_its_t_is_a_first_token_edge_and_every_one_is_a_latency_edge_too():
    assert set(latency.FIRST_TOKEN_EDGES) <= set(latency.EDGES)  # the field's own check holds

    with pytest.raises(ValidationError) as raised:
        first_token_policy(duration_seconds=300.0, critical_duration_seconds=None).clean()

    message = raised.value.message_dict["duration_seconds"][0]
    assert message.startswith("A time-to-first-token percentile policy's T is one of the")
    assert "60 s" in message
    with pytest.raises(ValidationError) as raised:
        first_token_policy(critical_duration_seconds=120.0).clean()
    assert list(raised.value.message_dict) == ["critical_duration_seconds"]
    first_token_policy().clean()  # 2 s and 10 s are kept


def test_it_describes_its_rule():
    assert first_token_policy().describe() == (
        "p90 time to first token above 2 s within 60 s (of at least 1 requests), "
        "critical above 10 s"
    )


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.lists(st.sampled_from(VALUES), min_size=1, max_size=40),
    p=st.sampled_from([50, 90, 95, 99]),
    t=st.sampled_from([0.5, 1.0, 5.0, 30.0]),
)
def test_counted_on_the_counts_and_the_rows_as_the_percentile_of_the_reported_values(values, p, t):
    """Requests that reported no first token are not in the population (else a p90 of
    streamed requests would be diluted by the unstreamed)."""
    from django.db import transaction

    from policies.counting import count_all, count_rows
    from policies.engine import rule_for

    with transaction.atomic():
        policy = first_token_policy(
            percentile=p, duration_seconds=t, critical_duration_seconds=60.0
        )
        policy.save()
        for value in values:
            add_requests(
                1, at=later(-1), outcome="success", latency_seconds=90.0,
                time_to_first_token_seconds=value,
            )  # fmt: skip
        reported = [value for value in values if value is not None]
        expected = {}
        if reported:
            slower = sum(1 for value in reported if value > t)
            expected = {"": Count(slower, len(reported), 0, sum(v > 60 for v in reported))}

        assert count_all([policy], T0)[policy.pk] == expected
        assert count_rows([policy], T0)[policy.pk] == expected
        if reported:
            rule = rule_for(policy)
            assert rule.breached(expected[""]) == (nearest_rank(reported, p) > t)
            assert rule.critical_reached(expected[""]) == (nearest_rank(reported, p) > 60)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_from_breach_to_page_to_critical_to_resolve(make_route, make_channel, pagerduty):
    make_route(make_channel(name="On-call"), scope="default")
    policy = first_token_policy(min_requests=10)
    policy.full_clean()
    policy.save()
    add_requests(9, at=later(-1), outcome="success", time_to_first_token_seconds=0.5)
    add_requests(1, at=later(-1), outcome="success", time_to_first_token_seconds=3.0)
    # Not streamed: no first token, whatever their latency; not in the population.
    add_requests(20, at=later(-1), outcome="success", latency_seconds=40.0)

    evaluate(policy, T0)  # p90 of 10: rank 9, 0.5 s
    assert not Incident.objects.exists()
    add_requests(1, at=later(1), outcome="success", time_to_first_token_seconds=4.0)
    evaluate(policy, later(2))  # rank 10 of 11: 3 s
    drain(later(2))
    add_requests(3, at=later(3), outcome="success", time_to_first_token_seconds=15.0)
    evaluate(policy, later(4))  # rank 13 of 14: 15 s, above the critical 10 s
    drain(later(4))
    evaluate(policy, later(70))  # the window is empty: under the minimum, not judged
    drain(later(70))

    incident = Incident.objects.get()
    assert incident.status == "resolved"
    assert incident.summary == (
        "Slow streams: p90 first token above 2 s: 2 of 11 streamed requests slower, 0 slower "
        "than 10 s in 60 s"
    )
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "critical"), ("resolve", None)]


@pytest.mark.django_db
def test_the_incident_page_charts_the_share_of_streams_slower_than_t(ops):
    from datetime import timedelta

    from django.utils import timezone

    from tests.test_incident_page import change_url, open_incident

    policy = first_token_policy(critical_duration_seconds=None)
    policy.save()
    now = timezone.now()
    add_requests(3, at=now - timedelta(seconds=5), outcome="success", time_to_first_token_seconds=1)
    add_requests(1, at=now - timedelta(seconds=5), outcome="success", time_to_first_token_seconds=6)
    add_requests(4, at=now - timedelta(seconds=5), outcome="success")  # not streamed
    incident = open_incident(policy, "", detected_at=now - timedelta(seconds=30))

    page = ops.get(change_url(incident)).content.decode()

    # One of the four streamed slower than T: 25%, over the 10% a p90 allows.
    assert "% slower than T to the first token over time: last 25, peak 25, threshold 10" in page
