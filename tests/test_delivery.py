"""Delivery (here to PagerDuty): retried when it may help, never when it cannot, always in
order."""

import random
from datetime import timedelta

import httpx
import pytest

from policies import channels
from policies.models import Channel, Delivery, DeliveryAttempt, Incident, Route
from policies.reach import lease
from policies.recording import resolve
from policies.sending import (
    _claim,
    _record_answers,
    attempt_delivery,
    backoff_seconds,
)
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

pytestmark = pytest.mark.django_db


def send(claim):
    """What a worker does between its claim and its record: the channel's kind sends it."""
    return channels.kind_of(claim.channel.kind).deliver(claim.notice, claim.target, claim.reference)


@pytest.fixture
def policy(make_policy, make_routing_key, make_route):
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    return make_policy(threshold=5, resolve_hold_seconds=0)


def open_incident(policy):
    add_requests(5, at=later(-1))
    evaluate(policy, T0)
    return Incident.objects.get()


def trigger(incident):
    return incident.deliveries.get(action="trigger")


def test_a_429_is_retried_no_sooner_than_retry_after(policy, pagerduty):
    pagerduty.script.append((429, {"Retry-After": "120"}))
    incident = open_incident(policy)

    assert drain(T0)[0].startswith("retrying in 120 s")
    delivery = trigger(incident)
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == later(120)
    assert drain(later(119)) == []

    drain(later(120))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert list(delivery.attempts_made.values_list("http_status", flat=True)) == [429, 202]
    assert pagerduty.actions() == [("trigger", incident.dedup_key)]
    assert delivery.last_error == ""  # found by review: it still showed the 429


def test_ten_minutes_of_500s_then_the_cleared_incidents_resolve_alone_arrives(policy, pagerduty):
    """A trigger answered 500 may have opened the alert; once the incident cleared it is not
    retried (a page for a problem that is over), and only the resolve goes, when PagerDuty
    is back."""
    pagerduty.script.extend([500] * 1000)
    incident = open_incident(policy)
    drain(T0)
    evaluate(policy, later(61))  # it clears while PagerDuty is still failing: resolve queued
    second = 0
    while second <= 600:
        drain(later(second))
        second += 5
    assert pagerduty.events == []

    pagerduty.script.clear()  # PagerDuty recovers
    while Delivery.objects.filter(status="pending").exists() and second < 1500:
        drain(later(second))
        second += 5

    assert pagerduty.actions() == [("resolve", incident.dedup_key)]
    assert trigger(incident).status == "skipped"
    assert incident.deliveries.get(action="resolve").status == "delivered"
    assert DeliveryAttempt.objects.filter(http_status=500).count() > 5


def test_a_timeout_or_a_lost_connection_is_retried(policy, pagerduty):
    pagerduty.script.extend([httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")])
    incident = open_incident(policy)

    drain(T0)
    drain(later(3600))
    drain(later(7200))

    delivery = trigger(incident)
    assert delivery.status == "delivered"
    errors = list(delivery.attempts_made.values_list("error", flat=True))
    assert errors[0].startswith("ReadTimeout")
    assert errors[1].startswith("ConnectError")


def test_a_400_is_permanent_and_flags_the_routing_key(policy, pagerduty):
    pagerduty.script.append(400)
    incident = open_incident(policy)

    drain(T0)
    drain(later(3600))

    delivery = trigger(incident)
    assert (delivery.status, delivery.attempts) == ("refused", 1)
    key = Channel.objects.get()
    assert key.refused_at == T0
    assert key.refusal.startswith("HTTP 400")
    assert pagerduty.events == []


def test_an_event_pagerduty_would_refuse_is_refused_by_the_fake_too(
    make_policy, make_routing_key, make_route, pagerduty
):
    """The fake checks the v2 contract: a routing key that is not 32 characters is refused."""
    key = make_routing_key()
    Channel.objects.filter(pk=key.pk).update(secret="short")
    make_route(key, scope=Route.Scope.DEFAULT)
    incident = open_incident(make_policy(threshold=5))

    drain(T0)

    assert trigger(incident).status == "refused"
    assert pagerduty.refused[0]["routing_key"] == "short"


def test_a_resolve_waits_for_its_trigger_still_in_flight(policy, pagerduty):
    incident = open_incident(policy)
    [claim], _ = _claim([trigger(incident).pk], T0)  # a worker is in the call to PagerDuty
    resolve(incident, later(5), "Resolved by hand.")  # meanwhile: a resolve, due at once

    resolve_delivery = incident.deliveries.get(action="resolve")
    waited = attempt_delivery(resolve_delivery.pk, later(5))
    assert waited.message.startswith("waiting: an earlier message")
    assert pagerduty.events == []

    _record_answers([(claim, send(claim))], later(6))  # the call ends
    drain(later(8))

    assert [a for a, _ in pagerduty.actions()] == ["trigger", "resolve"]


def test_a_resolve_whose_trigger_was_refused_is_not_sent(policy, pagerduty):
    pagerduty.script.append(400)
    incident = open_incident(policy)
    drain(T0)
    evaluate(policy, later(61))
    drain(later(61))

    assert not incident.deliveries.filter(action="resolve").exists()  # refused: nothing open
    assert pagerduty.events == []


def test_a_worker_dying_after_pagerduty_answered_repeats_the_trigger_not_the_incident(
    policy, pagerduty
):
    incident = open_incident(policy)

    class WorkerKilled(BaseException):
        pass

    def accept_then_die(request):
        pagerduty.handle(request)
        raise WorkerKilled  # PagerDuty has the event; our transaction never commits

    from policies import http

    http.transport = httpx.MockTransport(accept_then_die)
    with pytest.raises(WorkerKilled):
        attempt_delivery(trigger(incident).pk, T0)
    assert trigger(incident).status == "pending"
    assert DeliveryAttempt.objects.count() == 0

    http.transport = pagerduty.transport()
    assert drain(T0) == []  # claimed: nobody sends it while the dead worker's lease lasts
    drain(T0 + lease())

    assert Incident.objects.count() == 1
    assert pagerduty.actions() == [("trigger", incident.dedup_key)] * 2
    assert trigger(incident).status == "delivered"


def test_it_gives_up_after_the_retry_period(policy, pagerduty, settings):
    settings.DELIVERY_RETRY_SECONDS = 3600
    pagerduty.script.extend([500] * 1000)
    incident = open_incident(policy)

    for minute in range(0, 70):
        drain(later(minute * 60))

    delivery = trigger(incident)
    assert delivery.status == "gave_up"
    assert delivery.finished_at >= later(3600)
    assert "gave up after" in incident.events.filter(kind="delivery").last().message


def test_a_delivered_event_is_not_sent_again(policy, pagerduty):
    incident = open_incident(policy)
    delivery = trigger(incident)
    delivery.status = "delivered"
    delivery.save()

    assert attempt_delivery(delivery.pk, T0).message.startswith("skipped: not pending")
    assert pagerduty.events == []


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap():
    rng = random.Random(7)
    delays = [backoff_seconds(n, None, rng) for n in range(1, 12)]

    assert 2.5 <= delays[0] <= 5
    assert 40 <= delays[4] <= 80
    assert all(150 <= d <= 300 for d in delays[7:])
    assert backoff_seconds(1, 90.0, rng) == 90.0


def test_retry_after_may_be_an_http_date(policy, pagerduty):
    pagerduty.script.append((429, {"Retry-After": "Sun, 22 Nov 2026 12:05:00 GMT"}))
    incident = open_incident(policy)

    import time_machine

    with time_machine.travel(T0, tick=False):
        drain(T0)

    assert trigger(incident).next_attempt_at == T0 + timedelta(minutes=5)


def test_a_duplicate_task_does_not_send_before_the_retry_is_due(policy, pagerduty):
    """Regression: the sweeper (or an older retry chain) could send at once, ignoring backoff,
    and each failure started one more chain of retries."""
    pagerduty.script.extend([500] * 10)
    incident = open_incident(policy)
    assert drain(T0)[0].startswith("retrying in")
    delivery = trigger(incident)

    outcomes = [attempt_delivery(delivery.pk, later(1)).message for _ in range(3)]

    assert outcomes == ["skipped: not due yet, or another worker is sending it"] * 3
    assert DeliveryAttempt.objects.count() == 1


def test_retry_after_in_odd_digits_is_ignored_not_a_crash():
    """Regression: "²".isdigit() is true, and float("²") raised inside the delivery."""
    from policies.channels.base import retry_after as _retry_after

    assert _retry_after("²") is None
    assert _retry_after("120") == 120.0
    assert _retry_after("9" * 50) is None
