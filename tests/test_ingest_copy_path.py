"""Large batches are COPY'd straight into the table; a batch that meets a request already
stored is merged instead (the COPY is undone alone), and its source is merged directly for a
while. Which path ran is read from the database: only the merge creates the staging table."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from ingest import store
from ingest.events import parse_console_event
from ingest.models import GatewayRequest
from tests.ingest_client import EVENTS_URL, post
from tests.litellm_fixtures import JUST_AFTER_RECORDING

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

NOW = JUST_AFTER_RECORDING.timestamp()


@pytest.fixture(autouse=True)
def copy_path(monkeypatch):
    monkeypatch.setattr(store, "VALUES_BATCH_LIMIT", 0)
    monkeypatch.setattr(store, "_merge_until", {})
    # The staging table lives as long as the connection: an earlier test's may still be there.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{store.STAGING}")


def started(request_id):
    return {"event": "started", "request_id": request_id, "started_at": NOW - 10}


def finished(request_id):
    return {
        "event": "finished", "request_id": request_id, "status": "failure",
        "finished_at": NOW - 2, "status_code": 503, "error_class": "ServiceUnavailableError",
    }  # fmt: skip


def rows():
    return {
        row["request_id"]: (row["started_at"] is not None, row["outcome"])
        for row in GatewayRequest.objects.values("request_id", "started_at", "outcome")
    }


def merged_through_staging() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{store.STAGING}"])
        return cursor.fetchone()[0] is not None


def test_a_batch_of_requests_not_stored_yet_is_copied_straight_in(client, token):
    answer = post(client, EVENTS_URL, [finished("a"), started("b")], token)

    assert answer.json() == {"accepted": 2, "rejected": []}
    assert rows() == {"a": (False, "failure"), "b": (True, "")}
    assert not merged_through_staging()


def test_a_batch_that_meets_a_stored_request_is_merged_whole(client, token):
    assert post(client, EVENTS_URL, [started("a"), started("b")], token).status_code == 200

    answer = post(client, EVENTS_URL, [finished("a"), finished("c"), started("d")], token)

    assert answer.json() == {"accepted": 3, "rejected": []}
    assert rows() == {
        "a": (True, "failure"), "b": (True, ""), "c": (False, "failure"), "d": (True, ""),
    }  # fmt: skip
    assert merged_through_staging()
    assert GatewayRequest.objects.count() == 4  # the undone COPY left nothing behind


def test_a_source_that_met_stored_requests_is_merged_directly_then_copied_again(
    client, token, time_machine
):
    def at(seconds):
        time_machine.move_to(JUST_AFTER_RECORDING + timedelta(seconds=seconds), tick=False)

    post(client, EVENTS_URL, [started("a"), started("b")], token)
    post(client, EVENTS_URL, [finished("a")], token)  # meets "a": merged, and remembered
    [(source, until)] = store._merge_until.items()
    assert until == NOW + store.MERGE_MEMORY_SECONDS

    at(30)
    post(client, EVENTS_URL, [finished("b")], token)
    assert store._merge_until[source] == until  # no COPY tried: none failed again

    at(store.MERGE_MEMORY_SECONDS + 1)
    post(client, EVENTS_URL, [started("a"), started("c")], token)  # "a" again: COPY tried, fails
    assert store._merge_until[source] == NOW + 2 * store.MERGE_MEMORY_SECONDS + 1

    assert rows() == {"a": (True, "failure"), "b": (True, "failure"), "c": (True, "")}


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_the_same_requests_in_opposite_orders_do_not_deadlock():
    """Two replicas may report the same requests at once, in different orders. Written in the
    order they came, each batch could wait for a row the other holds: a deadlock, which
    Postgres breaks by failing one post. Both are written in request-id order."""
    now = JUST_AFTER_RECORDING
    errors: list[Exception] = []

    def post_batch(events, ready):
        try:
            ready.wait()
            store.store_events("replicas", events, now)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    for round_ in range(10):
        events = [parse_console_event(finished(f"r{round_}-{i:03}"), now) for i in range(300)]
        ready = threading.Barrier(2)
        threads = [
            threading.Thread(target=post_batch, args=(batch, ready))
            for batch in (events, list(reversed(events)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert GatewayRequest.objects.filter(source="replicas").count() == 3000
