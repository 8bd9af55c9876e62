"""No transaction or row lock is held while PagerDuty is called: a slow PagerDuty must not
keep an `idle in transaction` session and a locked delivery row for as long as it takes.
A real HTTP server checks, while it handles the request, from a connection of its own."""

import pytest
from django.db import OperationalError, connection, transaction

from policies.models import Delivery, Route
from policies.sending import attempt_delivery
from tests.e2e.pagerduty_server import PagerDutyServer
from tests.engine_helpers import T0, add_requests, evaluate, later

pytestmark = pytest.mark.django_db(transaction=True)


def idle_in_transaction():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def row_is_free(delivery_id):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM policies_delivery WHERE id = %s FOR UPDATE NOWAIT", [delivery_id]
            )
    except OperationalError:  # lock_not_available
        return False
    return True


def test_no_transaction_is_open_while_the_event_is_sent(
    make_policy, make_routing_key, make_route, settings
):
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    add_requests(5, at=later(-1))
    evaluate(make_policy(threshold=5), T0)
    delivery = Delivery.objects.get()
    seen = []

    def check_from_another_connection():
        try:
            seen.append((idle_in_transaction(), row_is_free(delivery.pk)))
        finally:
            connection.close()  # this thread's own connection

    with PagerDutyServer() as server:
        settings.PAGERDUTY_EVENTS_URL = server.url
        server.on_request = check_from_another_connection
        outcome = attempt_delivery(delivery.pk, T0)

    assert outcome.message.startswith("delivered")
    assert seen == [(0, True)]
