"""Handing deliveries to workers: what an evaluation commits goes out in tasks of a few
deliveries each, through the real broker (Redis); nothing a rollback undid is handed over."""

import pytest
from django.db import transaction

from policies.handover import BATCH, deliver_after_commit, handed_over_together
from policies.models import Delivery, Route
from tests.broker import empty_queues, queued_tasks  # noqa: F401 - a fixture
from tests.engine_helpers import T0, add_requests, evaluate, later

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_queues")]


def test_an_evaluation_that_opens_many_incidents_hands_them_over_a_batch_to_a_task(
    make_policy, make_channel, make_route
):
    make_route([make_channel(), make_channel()], scope=Route.Scope.DEFAULT)
    policy = make_policy(threshold=1, group_by="key_alias")
    for i in range(10):
        add_requests(1, at=later(-1), key_alias=f"key-{i}")

    evaluate(policy, T0)

    tasks = queued_tasks()
    written = set(Delivery.objects.values_list("pk", flat=True))
    assert len(written) == 20
    assert [len(task) for task in tasks] == [BATCH, 20 - BATCH]
    assert sorted(pk for task in tasks for pk in task) == sorted(written)


def test_what_a_rolled_back_savepoint_wrote_is_not_handed_over():
    with handed_over_together(), transaction.atomic():
        deliver_after_commit(1, 2)
        try:
            with transaction.atomic():
                deliver_after_commit(3)
                raise RuntimeError("undone")
        except RuntimeError:
            pass
        deliver_after_commit(4)

    assert queued_tasks() == [(1, 2, 4)]


def test_nothing_is_handed_over_when_the_transaction_rolls_back():
    def write_then_fail():
        with handed_over_together(), transaction.atomic():
            deliver_after_commit(1, 2)
            raise RuntimeError("undone")

    with pytest.raises(RuntimeError):
        write_then_fail()

    assert queued_tasks() == []


def test_inside_a_transaction_already_they_go_when_that_one_commits():
    with transaction.atomic():
        with handed_over_together(), transaction.atomic():
            deliver_after_commit(1, 2)
        deliver_after_commit(3)
        assert queued_tasks() == []  # not committed yet

    assert queued_tasks() == [(1, 2), (3,)]
