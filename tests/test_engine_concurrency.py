"""Two evaluators at the same moment (two beat processes, or two workers with the same tick):
one incident, one page. Real threads, each with its own Postgres connection."""

import threading

import pytest
from django.db import connection, transaction

from policies.models import Delivery, Incident, Route
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

pytestmark = pytest.mark.django_db(transaction=True)


def race(policy, moments):
    """Evaluate `policy` from several threads at once; return what each said."""
    barrier = threading.Barrier(len(moments))
    results = [None] * len(moments)

    def run(i, moment):
        try:
            barrier.wait()
            results[i] = evaluate(policy, moment)
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


def test_a_delivery_another_worker_is_sending_is_skipped(
    make_policy, make_routing_key, make_route, pagerduty
):
    """While one worker holds the delivery (its send in flight), a second one skips it."""
    from policies.sending import attempt_delivery

    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    policy = make_policy(threshold=5)
    add_requests(5, at=later(-1))
    evaluate(policy, T0)
    delivery = Delivery.objects.get()
    locked, release = threading.Event(), threading.Event()

    def first_worker():
        try:
            with transaction.atomic():
                Delivery.objects.select_for_update().get(pk=delivery.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=first_worker)
    holder.start()
    try:
        assert locked.wait(10)
        outcome = attempt_delivery(delivery.pk, later(1))
    finally:
        release.set()
        holder.join(10)

    assert outcome.message == "skipped: not pending, or another worker is sending it"
    assert pagerduty.events == []
    assert Delivery.objects.get().status == "pending"
