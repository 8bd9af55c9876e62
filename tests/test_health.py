"""/healthz says the process answers; /readyz that it can work: database, broker, beat."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting_console.celery import app
from policies.models import Heartbeat
from policies.tasks import evaluate

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_asking_anything_else(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ok_when_the_database_broker_and_beat_are(client):
    evaluate()  # what beat's tick runs: it records the heartbeat

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_says_when_no_evaluation_has_run(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["problems"] == [
        "no evaluation has run yet: are Celery beat and a worker running?"
    ]


def test_readyz_says_when_beat_stopped_ticking(client):
    Heartbeat.objects.create(name="evaluate", at=timezone.now() - timedelta(minutes=5))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert "is Celery beat running?" in response.json()["problems"][0]


def test_readyz_says_when_the_broker_is_unreachable(client):
    evaluate()
    previous = app.conf.broker_url
    app.conf.update(broker_url="redis://127.0.0.1:9/0")  # nothing listens there
    try:
        response = client.get("/readyz")
    finally:
        app.conf.update(broker_url=previous)

    assert response.status_code == 503
    assert response.json()["problems"][0].startswith("broker unreachable")
