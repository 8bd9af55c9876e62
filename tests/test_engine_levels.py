"""Two levels in one policy, from breach to page to resolve: one incident per group, which
opens at the first level reached, turns critical, falls back and resolves; every channel that
has its page is told each time (PagerDuty: a trigger with the same dedup_key)."""

import pytest

from policies.models import Incident
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

pytestmark = pytest.mark.django_db

KEY = "R0123456789ABCDEF0123456789ABCDE"


@pytest.fixture
def levels(make_policy, make_routing_key, make_route):
    make_route(make_routing_key(name="On-call", secret=KEY), scope="default")
    return make_policy(
        name="Outage", threshold=5, critical_threshold=10, window_seconds=120,
        resolve_hold_seconds=20, severity="warning",
    )  # fmt: skip


def failures(n, seconds):
    add_requests(n, at=later(seconds), gateway_team_id="team-search")


def test_warning_then_critical_then_back_then_resolved(levels, pagerduty):
    """A window of 120 s: five failures at -1 s (out at 119 s) and five at 39 s (out at
    159 s)."""
    failures(5, -1)
    evaluate(levels, T0)
    drain(T0)
    failures(5, 39)  # 10 in the window: critical
    evaluate(levels, later(40))
    drain(later(40))
    evaluate(levels, later(50))  # still 10: nothing new
    for moment in (120, 130, 140):  # 5, under 10, for the hold (20 s)
        evaluate(levels, later(moment))
        drain(later(moment))
    incident = Incident.objects.get()
    assert (incident.status, incident.severity, incident.critical_since) == (
        "open",
        "warning",
        None,
    )
    for moment in (160, 170, 180):  # nothing in the window, for the hold
        evaluate(levels, later(moment))
        drain(later(moment))

    incident.refresh_from_db()
    assert incident.status == "resolved"
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [
        ("trigger", "warning"),
        ("trigger", "critical"),
        ("trigger", "warning"),
        ("resolve", None),
    ]
    assert {e["dedup_key"] for e in pagerduty.events} == {incident.dedup_key}
    assert [e.kind for e in incident.events.exclude(kind="delivery").order_by("pk")] == [
        "opened", "severity", "severity", "resolved",
    ]  # fmt: skip
    assert incident.events.filter(kind="severity").order_by("pk")[0].message == (
        "Critical: 10 failed requests, at or above the critical level."
    )
    assert incident.peak_count == 10


def test_an_incident_that_opens_above_the_critical_level_opens_critical(levels, pagerduty):
    failures(12, -1)
    evaluate(levels, T0)
    drain(T0)

    incident = Incident.objects.get()
    assert (incident.severity, incident.critical_since) == ("critical", T0)
    assert [e["payload"]["severity"] for e in pagerduty.events] == ["critical"]
    assert "critical at 10" in pagerduty.events[0]["payload"]["custom_details"]["rule"]


def test_a_change_of_severity_while_muted_is_not_sent_and_says_so(levels, pagerduty):
    from policies.models import Silence

    failures(5, -1)
    evaluate(levels, T0)
    drain(T0)
    Silence.objects.create(
        scope="policy", policy=levels, starts_at=later(1), ends_at=later(3600), reason="deploy"
    )
    failures(5, 39)
    evaluate(levels, later(40))
    drain(later(40))

    incident = Incident.objects.get()
    assert incident.severity == "critical"  # the console knows
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]  # the channel is not told
    muted = incident.events.get(kind="muted")
    assert muted.message.startswith("Not told of its severity: ")
    assert not incident.deliveries.filter(action="update").exists()
