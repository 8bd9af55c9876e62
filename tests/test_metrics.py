"""/metrics: ingest counters, and what the database knows, in Prometheus' text format."""

import re

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from policies.models import Delivery, Incident
from policies.tasks import evaluate
from tests.ingest_client import EVENTS_URL, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_counts():
    cache.clear()


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in the exposition text; fails if it is not there."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)\n"
    match = re.search(pattern, text)
    assert match, f"{name}{{{labels}}} not in /metrics"
    return float(match.group(1))


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return str(response.content.decode())


def test_ingested_and_rejected_events_are_counted(client, token):
    before = scrape(client)
    stored = sample(before, "console_ingest_events_total", 'result="stored"')
    rejected = sample(before, "console_ingest_events_total", 'result="rejected"')

    good = {"event": "started", "request_id": "r1", "started_at": 1795000000}
    bad = {"event": "nonsense", "request_id": "r2", "started_at": 1795000000}
    assert post(client, EVENTS_URL, [good, bad], token).status_code == 200

    after = scrape(client)
    assert sample(after, "console_ingest_events_total", 'result="stored"') == stored + 1
    assert sample(after, "console_ingest_events_total", 'result="rejected"') == rejected + 1
    assert sample(after, "console_ingest_requests_total", 'status="200"') >= 1


def test_open_incidents_outbox_deliveries_and_evaluation_are_reported(client, make_policy):
    policy = make_policy(severity="error")
    now = timezone.now()
    incident = Incident.objects.create(
        policy=policy, dedup_key="d1", summary="s", severity="error", started_at=now,
        detected_at=now, trigger_count=1, peak_count=1, last_count=1, last_paged_at=now,
    )  # fmt: skip
    Delivery.objects.create(incident=incident, action="trigger", created_at=now)
    Delivery.objects.create(
        incident=incident, action="trigger", created_at=now, status="delivered", finished_at=now
    )
    evaluate()

    text = scrape(client)

    assert sample(text, "console_open_incidents", 'severity="error"') == 1
    assert sample(text, "console_open_incidents", 'severity="critical"') == 0
    assert sample(text, "console_outbox_backlog") == 1
    assert sample(text, "console_deliveries", 'status="delivered"') == 1
    assert sample(text, "console_deliveries", 'status="gave_up"') == 0
    assert sample(text, "console_evaluation_duration_seconds") > 0
    assert sample(text, "console_evaluation_last_run_timestamp_seconds") > 0


@override_settings(METRICS_TOKEN="scrape-secret")
def test_a_metrics_token_is_required_when_set(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


@pytest.mark.usefixtures("database_down")
def test_while_the_database_is_down_the_ingest_counters_are_still_served(client):
    """Found by review: /metrics answered 500 during the outage its counters describe."""
    text = scrape(client)

    assert sample(text, "console_database_up") == 0
    assert sample(text, "console_ingest_events_total", 'result="stored"') >= 0
    assert "console_open_incidents" not in text


def test_the_database_collector_says_it_is_up(client):
    assert sample(scrape(client), "console_database_up") == 1
