"""The OpenAPI description is served and true: schemathesis generates requests from it and
checks every answer against it (documented status, content type and body schema)."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from alerting_console.wsgi import application
from ingest.models import GatewayRequest
from ingest.openapi import openapi_document

schema = schemathesis.openapi.from_wsgi("/ingest/v1/openapi.json", application)


@pytest.fixture
def _keep_test_connection():
    """The WSGI app closes the database connection when a request ends, which would close the
    test's transaction; Django's own test client suspends that the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_description_is_served(client):
    response = client.get("/ingest/v1/openapi.json")

    assert response.status_code == 200
    assert response.json() == openapi_document()
    assert set(response.json()["paths"]) == {"/ingest/v1/events", "/ingest/v1/litellm"}


def test_the_answers_the_web_server_gives_before_the_app_are_described_too():
    """The body deadline (408) and size cap (413) are answered by alerting_console/asgi.py,
    outside the view that schemathesis exercises."""
    for path in openapi_document()["paths"].values():
        assert {"408", "413"} <= set(path["post"]["responses"])


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_test_connection")
@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_description(case, make_token):
    token, _ = make_token()

    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[
            # Times must lie within 30 days before now and 5 minutes after: a rule relative
            # to the clock, which a schema cannot state, so schema-valid data may still be
            # refused (with a 400 naming the field).
            schemathesis.checks.positive_data_acceptance,
            # A list is judged item by item, by design: one bad event in a LiteLLM batch must
            # not lose the others, so a list holding an invalid item is partly accepted (200,
            # with the item listed as rejected) rather than refused.
            schemathesis.checks.negative_data_rejection,
        ],
    )

    assert response.status_code < 500
    if response.status_code == 200:
        assert GatewayRequest.objects.exists()
