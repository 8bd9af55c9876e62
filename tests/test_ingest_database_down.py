"""When Postgres drops the connection, ingest answers 503 (retry later), never 500, and the
next request works on a fresh connection. A small post, which is not health-checked first,
is sent once more on a new connection instead."""

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from prometheus_client import REGISTRY

from ingest.models import GatewayRequest
from tests.e2e.processes import free_port
from tests.ingest_client import EVENTS_URL, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("at_recording")]


def drop_our_connection():
    pid = connection.connection.info.backend_pid
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        dbname=db["NAME"], autocommit=True,
    ) as other:  # fmt: skip
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def started(request_id, size=1):
    from tests.litellm_fixtures import JUST_AFTER_RECORDING

    at = JUST_AFTER_RECORDING.timestamp() - 1
    return [
        {"event": "started", "request_id": f"{request_id}-{i}", "started_at": at}
        for i in range(size)
    ]


def test_a_dropped_connection_is_a_503_and_the_next_request_recovers(client, token):
    size = 40  # the COPY path, in a transaction of its own: not retried
    assert post(client, EVENTS_URL, started("before", size), token).status_code == 200
    drop_our_connection()

    response = post(client, EVENTS_URL, started("during", size), token)

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
    close_old_connections()  # what the server does between requests (the test client does not)
    assert post(client, EVENTS_URL, started("after", size), token).status_code == 200
    assert GatewayRequest.objects.filter(request_id__startswith="after").count() == size
    assert not GatewayRequest.objects.filter(request_id__startswith="during").exists()


def test_a_small_post_on_a_dropped_connection_is_stored_on_a_new_one(client, token):
    assert post(client, EVENTS_URL, started("before", 3), token).status_code == 200
    dropped = connection.connection.info.backend_pid
    drop_our_connection()

    response = post(client, EVENTS_URL, started("during", 3), token)

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "rejected": []}
    assert GatewayRequest.objects.filter(request_id__startswith="during").count() == 3
    assert connection.connection.info.backend_pid != dropped


def test_a_small_post_while_the_database_stays_away_is_a_503_and_stores_nothing(client, token):
    assert post(client, EVENTS_URL, started("before"), token).status_code == 200
    drop_our_connection()
    port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there: reconnecting fails
    try:
        response = post(client, EVENTS_URL, started("during"), token)
    finally:
        connection.settings_dict["PORT"] = port

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
    close_old_connections()
    assert post(client, EVENTS_URL, started("after"), token).status_code == 200
    assert not GatewayRequest.objects.filter(request_id__startswith="during").exists()


def rejected_count() -> float:
    value = REGISTRY.get_sample_value("console_ingest_events_total", {"result": "rejected"})
    assert value is not None
    return value


def test_a_post_answered_503_counts_none_of_its_events_so_its_retry_is_not_counted_twice(
    client, token
):
    assert post(client, EVENTS_URL, started("before"), token).status_code == 200
    before = rejected_count()
    drop_our_connection()
    port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    batch = [*started("during"), {"event": "nonsense", "request_id": "bad"}]
    try:
        assert post(client, EVENTS_URL, batch, token).status_code == 503
    finally:
        connection.settings_dict["PORT"] = port
    close_old_connections()

    assert rejected_count() == before  # the gateway retries: the retry is what counts
    assert post(client, EVENTS_URL, batch, token).status_code == 200
    assert rejected_count() == before + 1
