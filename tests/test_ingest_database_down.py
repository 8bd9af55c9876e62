"""When Postgres drops the connection, ingest answers 503 (retry later), never 500, and the
next request works on a fresh connection."""

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from ingest.models import GatewayRequest
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


@pytest.mark.parametrize("size", [1, 40], ids=["values path", "copy path"])
def test_a_dropped_connection_is_a_503_and_the_next_request_recovers(client, token, size):
    assert post(client, EVENTS_URL, started("before", size), token).status_code == 200
    drop_our_connection()

    response = post(client, EVENTS_URL, started("during", size), token)

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
    close_old_connections()  # what the server does between requests (the test client does not)
    assert post(client, EVENTS_URL, started("after", size), token).status_code == 200
    assert GatewayRequest.objects.filter(request_id__startswith="after").count() == size
    assert not GatewayRequest.objects.filter(request_id__startswith="during").exists()
