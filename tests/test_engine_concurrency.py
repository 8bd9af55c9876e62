"""Two evaluators at the same moment (two beat processes, or two workers with the same tick):
one incident, one page. Real threads, each with its own Postgres connection."""

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from policies.budget_engine import evaluate_budget
from policies.models import Delivery, Incident, Route
from tests.engine_helpers import T0, add_requests, drain, evaluate, later
from tests.test_kind_budget import DECEMBER_5, budget_policy, spent

pytestmark = pytest.mark.django_db(transaction=True)


def race(policy, moments, evaluating=evaluate):
    """Evaluate `policy` from several threads at once; return what each said."""
    barrier = threading.Barrier(len(moments))
    results = [None] * len(moments)

    def run(i, moment):
        try:
            barrier.wait()
            results[i] = evaluating(policy, moment)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, m)) for i, m in enumerate(moments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("moments", [[T0] * 4, [T0, later(0.001), later(0.002), later(0.003)]])
def test_concurrent_evaluations_open_one_incident_and_page_once(
    make_policy, make_routing_key, make_route, pagerduty, moments
):
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    policy = make_policy(threshold=5, group_by="team")
    add_requests(5, at=later(-1), gateway_team_id="team-search")

    results = race(policy, moments)
    drain(later(1))

    assert all(r is not None for r in results), results
    assert Incident.objects.count() == 1
    assert Delivery.objects.count() == 1
    assert len(pagerduty.events) == 1
    assert sum(r.startswith("evaluated: team-search open") for r in results) == 1


def test_concurrent_evaluations_of_a_budget_announce_each_level_once(
    make_route, make_channel, pagerduty
):
    """Budgets: each level is announced once per period, however many evaluators see the
    spend cross it at the same moment."""
    make_route(make_channel(name="On-call"), scope="default")
    policy = budget_policy()
    policy.full_clean()
    policy.save()

    def evaluating(policy, moment):
        return evaluate_budget(policy.pk, moment)

    spent("search", 86.0, DECEMBER_5 - timedelta(hours=1))  # over 85 %
    first = race(policy, [DECEMBER_5] * 4, evaluating)
    spent("search", 10.0, DECEMBER_5 + timedelta(seconds=5))  # over 95 %
    second = race(policy, [DECEMBER_5 + timedelta(seconds=10)] * 4, evaluating)
    drain(DECEMBER_5 + timedelta(seconds=10))

    assert all(r is not None for r in first + second), (first, second)
    incident = Incident.objects.get()
    assert incident.details["levels_announced"] == ["85%", "95%"]
    sent = [(e["event_action"], e["payload"]["severity"]) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "warning")]
    assert Delivery.objects.count() == 2


def test_a_delivery_another_worker_is_sending_is_skipped(
    make_policy, make_routing_key, make_route, settings
):
    """While one worker's send is in flight (a real HTTP call, held up by PagerDuty), a second
    worker, or the sweeper's duplicate task, does not send it again."""
    from policies.sending import attempt_delivery
    from tests.e2e.pagerduty_server import PagerDutyServer

    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    policy = make_policy(threshold=5)
    add_requests(5, at=later(-1))
    evaluate(policy, T0)
    delivery = Delivery.objects.get()
    first = []

    def first_worker():
        try:
            first.append(attempt_delivery(delivery.pk, later(1)).message)
        finally:
            connection.close()

    with PagerDutyServer() as pagerduty:
        settings.PAGERDUTY_EVENTS_URL = pagerduty.url
        pagerduty.hang()
        sender = threading.Thread(target=first_worker)
        sender.start()
        try:
            deadline = time.monotonic() + 10
            while pagerduty.received == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert pagerduty.received == 1
            second = attempt_delivery(delivery.pk, later(1.5))
        finally:
            pagerduty.release()
            sender.join(10)

    assert second.message == "skipped: not due yet, or another worker is sending it"
    assert first[0].startswith("delivered")
    assert len(pagerduty.fake.events) == 1
    assert Delivery.objects.get().status == "delivered"


def test_two_workers_recording_answers_of_the_same_channels_do_not_deadlock(
    make_policy, make_routing_key, make_route, monkeypatch
):
    """Each worker records its transition's answers in one transaction, noting each channel's
    success there: two workers whose answers came in opposite orders must lock the channels
    in the same order, or Postgres kills one transaction and its messages, delivered but not
    recorded, are sent again once their lease has passed."""
    from policies import channel_health
    from policies.channels.base import Result, Verdict
    from policies.sending import _claim, _record_answers

    first, second = make_routing_key(name="first"), make_routing_key(name="second")
    make_route([first, second], scope=Route.Scope.DEFAULT)
    policies = [make_policy(name=name, threshold=5) for name in ("one", "two")]
    add_requests(5, at=later(-1))
    for policy in policies:
        evaluate(policy, T0)
    batches = [
        list(incident.deliveries.order_by("pk").values_list("pk", flat=True))
        for incident in Incident.objects.order_by("pk")
    ]
    claims = [_claim(batch, later(1))[0] for batch in batches]
    claims[1].reverse()  # the second worker's answers came the other way round
    accepted = Result(Verdict.DELIVERED, 202, '{"status":"success"}', 5)
    # Each worker, having noted its first channel's success, waits for the other to have done
    # the same (up to 3 s: longer than Postgres's deadlock_timeout), then goes on.
    both_in = threading.Barrier(2, timeout=3)
    noted = threading.local()
    real_note = channel_health.note_success

    def note_then_wait(channel, now):
        real_note(channel, now)
        if not getattr(noted, "once", False):
            noted.once = True
            # Broken when the other waits on our channel's lock, as it should.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_in.wait()

    monkeypatch.setattr(channel_health, "note_success", note_then_wait)
    errors: list[BaseException] = []

    def record(worker_claims):
        try:
            _record_answers([(claim, accepted) for claim in worker_claims], later(2))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_two_folders_at_once_take_each_count_change_once():
    """Two beats (or a slow fold and the next tick) fold at the same moment: each change to the
    request counts goes into the rollups once, whichever folder took it."""
    from ingest import rollups
    from ingest.events import Event
    from ingest.models import RequestDelta, RequestRollup
    from ingest.store import store_events

    for n in range(40):  # 5 requests finished in each second: 200 changes, one a row
        store_events(
            "gw",
            [
                Event(request_id=f"r{n}-{i}", finished_at=later(n), outcome="failure")
                for i in range(5)
            ],
            T0,
        )
    assert RequestDelta.objects.count() == 200
    barrier = threading.Barrier(2)
    taken = [0, 0]

    def fold(i):
        try:
            barrier.wait()
            while batch := rollups.fold(limit=3):
                taken[i] += batch
        finally:
            connection.close()

    threads = [threading.Thread(target=fold, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(taken) == 200
    assert RequestDelta.objects.count() == 0
    for level in rollups.LEVELS:
        rows = RequestRollup.objects.filter(level=level)
        assert sum(rows.values_list("finished", flat=True)) == 200
