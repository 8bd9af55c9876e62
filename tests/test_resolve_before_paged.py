"""A page must not ring for a problem that is over: when an incident resolves before its
trigger reached PagerDuty, the trigger is cancelled and nothing is sent; when the trigger may
have reached it, only the resolve follows."""

import httpx
import pytest

from policies import http
from policies.models import Delivery
from policies.recording import resolve
from tests.engine_helpers import T0, drain, later

pytestmark = pytest.mark.django_db


def failing_with(error, pagerduty):
    """PagerDuty unreachable with `error` until `recover` is called, then the fake answers."""
    broken = [True]

    def answer(request):
        if broken:
            if error is httpx.ReadTimeout:
                pagerduty.handle(request)  # it got there; its answer is lost
            raise error("PagerDuty is unreachable")
        return pagerduty.handle(request)

    http.transport = httpx.MockTransport(answer)
    return broken.clear


def resolve_by_hand(incident, at):
    incident.refresh_from_db()
    resolve(incident, at, "Resolved by hand by ops.")


def test_a_trigger_that_never_got_through_is_cancelled_when_resolved_by_hand(incident, pagerduty):
    """Found by review: resolved by hand during connection errors, the incident's trigger rang
    a phone five minutes later, its resolve a second after."""
    recover = failing_with(httpx.ConnectError, pagerduty)
    for second in (0, 10, 30):
        drain(later(second))
    resolve_by_hand(incident, later(40))
    recover()

    for second in range(40, 700, 20):
        drain(later(second))

    assert pagerduty.events == []
    trigger = incident.deliveries.get(action="trigger")
    assert (trigger.status, trigger.last_error) == (
        "skipped", "cancelled: the incident resolved before the channel got it; nothing is sent"
    )  # fmt: skip
    assert not incident.deliveries.filter(action="resolve").exists()
    assert incident.events.get(kind="resolved").message.endswith(
        "Its page never reached Platform on-call and is cancelled there: nothing is sent."
    )


def test_a_trigger_that_may_have_got_through_gets_only_its_resolve(incident, pagerduty):
    recover = failing_with(httpx.ReadTimeout, pagerduty)
    drain(T0)  # PagerDuty opened the alert, but its answer was lost
    resolve_by_hand(incident, later(10))
    recover()

    for second in range(10, 300, 20):
        drain(later(second))

    assert pagerduty.actions() == [
        ("trigger", incident.dedup_key),  # the lost-answer call itself
        ("resolve", incident.dedup_key),
    ]
    trigger = incident.deliveries.get(action="trigger")
    assert trigger.status == "skipped"  # not retried
    assert trigger.last_error.startswith("not retried: the incident resolved")
    assert incident.deliveries.get(action="resolve").status == Delivery.Status.DELIVERED


def test_a_trigger_never_tried_is_cancelled(incident, pagerduty):
    resolve_by_hand(incident, T0)  # before any worker picked the trigger up

    drain(later(5))

    assert pagerduty.events == []
    assert incident.deliveries.get(action="trigger").status == "skipped"
