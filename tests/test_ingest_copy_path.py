"""Large batches are COPY'd straight into the table; a batch that meets a request already
stored is merged instead (the COPY is undone alone), and its source is merged directly for a
while. Which path ran is read from the database: only the merge creates the staging table."""

import math
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from ingest import partitions, store
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


def replica_batch(prefix, count, now):
    """Finishes whose rows differ in size (a long error message or none), as real ones do."""
    sizes = random.Random(prefix).choices([0, 400], k=count)
    return [
        parse_console_event({**finished(f"{prefix}-{i:03}"), "error_message": "x" * size}, now)
        for i, size in enumerate(sizes)
    ]


def staging_heap_order(earlier, batch, now):
    """The order a staging table returns the batch in after merging the earlier batches."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{store.STAGING}")
    for events in earlier:
        store.store_events("replicas", events, now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(store.CREATE_STAGING_SQL)
        rows = sorted(batch, key=lambda event: event.request_id)
        days = [partitions.key_day(e.started_at, e.finished_at) for e in rows]
        store._copy(cursor.cursor, store.COPY_SQL, "replicas", rows, days, now)
        cursor.execute(f"SELECT request_id FROM {store.STAGING}")  # noqa: S608 - our table
        order = [request_id for (request_id,) in cursor.fetchall()]
        transaction.set_rollback(True)
    return order


def waiting_for_a_lock(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE pid = %s AND NOT granted)", [pid])
        return cursor.fetchone()[0]


def wait_until(condition, what):
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_replicas_merging_the_same_requests_at_once_do_not_deadlock(monkeypatch):
    """Two replicas may report the same requests at once. Each merges through its own staging
    table, read back in heap order; once earlier batches have been merged and deleted, a COPY
    into it fills the holes they left, and the heap order is no longer the order the rows were
    copied in. Were rows written in heap order, the posts could each wait for a row the other
    holds: a deadlock, which Postgres breaks by failing one post.

    Replica A's staging table holds three earlier batches' holes (its heap starts a page into
    the batch); replica B's is new (in request-id order). A third post holding the second
    request makes the interleaving certain: B takes the first request and waits for the
    second, then A starts. In heap order A would lock the rest of the batch and wait for B's
    first request, while B, once the second is free, would wait for A's."""
    now = JUST_AFTER_RECORDING
    monkeypatch.setitem(store._merge_until, "replicas", math.inf)  # merged, not COPY'd
    contested = replica_batch("r", 300, now)
    earlier = [replica_batch(f"earlier{n}", 300, now) for n in range(3)]
    first, second = sorted(e.request_id for e in contested)[:2]
    # Postgres fills the holes the same way for the same batches: A's order is this one, where
    # requests past the second come before the first.
    order = staging_heap_order(earlier, contested, now)
    assert 0 < order.index(first) < order.index(second)
    starts = [parse_console_event(started(e.request_id), now) for e in contested]
    store.store_events("replicas", starts, now)
    errors: list[Exception] = []
    pids: dict[str, int] = {}
    a_ready, a_go, b_ready, b_go = (threading.Event() for _ in range(4))

    def replica(name, earlier, ready, go):
        try:
            for batch in earlier:
                store.store_events("replicas", batch, now)
            connection.ensure_connection()
            pids[name] = connection.connection.info.backend_pid
            ready.set()
            go.wait()
            store.store_events("replicas", contested if name == "A" else contested[::-1], now)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [  # daemons: a failed wait below must not leave the test run hanging
        threading.Thread(target=replica, args=("A", earlier, a_ready, a_go), daemon=True),
        threading.Thread(target=replica, args=("B", [], b_ready, b_go), daemon=True),
    ]
    with transaction.atomic():
        GatewayRequest.objects.select_for_update().get(source="replicas", request_id=second)
        for thread in threads:
            thread.start()
        wait_until(lambda: a_ready.is_set() and b_ready.is_set(), "both replicas")
        b_go.set()
        wait_until(lambda: waiting_for_a_lock(pids["B"]), f"B to wait for {second}")
        a_go.set()
        wait_until(lambda: waiting_for_a_lock(pids["A"]), "A to wait")
    for thread in threads:
        thread.join()

    assert errors == []
    assert GatewayRequest.objects.filter(source="replicas", outcome="failure").count() == 1200
