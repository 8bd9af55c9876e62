"""/healthz: the process answers. /readyz: this replica can store events (the database, and
nothing else). /engine-health: the engine works, each problem naming the component at fault."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerting_console.celery import app
from alerting_console.health import evaluation_problem
from policies.models import Delivery, Heartbeat, Route
from policies.tasks import evaluate
from tests.engine_helpers import T0, add_requests, later
from tests.engine_helpers import evaluate as engine_evaluate

NOW = timezone.now()


@pytest.fixture
def broker_down():
    # What the health checks read through; the broker_url Celery reads it from is fixed once the
    # app has used it (Celery 5.6).
    previous = app.conf.get("broker_read_url")
    app.conf.update(broker_read_url="redis://127.0.0.1:9/0")  # nothing listens there
    yield
    app.conf.update(broker_read_url=previous)


@pytest.fixture
def empty_queue():
    """The evaluation queue with no tick in it (the suite's Redis db may hold old ones)."""
    app.control.purge()


def test_healthz_answers_without_asking_anything_else(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_is_ok_while_the_database_answers_even_with_no_evaluation_yet(client):
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_readyz_is_ok_with_the_broker_down_since_ingest_does_not_need_it(client):
    """Found by review: a load balancer dropped every web replica while Redis was down."""
    Heartbeat.objects.create(name="evaluate", at=timezone.now() - timedelta(minutes=5))

    assert client.get("/readyz").status_code == 200


@pytest.mark.usefixtures("database_down")
def test_readyz_is_not_ready_without_the_database(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["problems"] == ["database unreachable: OperationalError"]


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queue")
def test_engine_health_is_ok_when_evaluation_runs(client):
    evaluate()  # what beat's tick runs: it records the heartbeat

    response = client.get("/engine-health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queue")
def test_engine_health_blames_beat_when_no_tick_is_queued(client):
    Heartbeat.objects.create(name="evaluate", at=timezone.now() - timedelta(minutes=5))

    response = client.get("/engine-health")

    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith("the last evaluation ran at ")
    assert problem.endswith("and no tick is queued: is Celery beat running?")


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queue")
def test_engine_health_blames_the_worker_when_ticks_wait_unconsumed(client):
    for _ in range(3):
        evaluate.apply_async()  # beat's ticks, with no worker to run them

    response = client.get("/engine-health")

    assert response.status_code == 503
    assert response.json()["problems"] == [
        "no evaluation has run yet, while 3 evaluation ticks wait in queue 'engine': no Celery "
        "worker consumes that queue, or it is stuck"
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_engine_health_says_when_the_broker_is_unreachable(client):
    evaluate()

    response = client.get("/engine-health")

    assert response.status_code == 503
    assert response.json()["problems"] == ["broker unreachable: OperationalError"]


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queue")
def test_engine_health_says_when_due_pages_are_not_sent(
    client, make_policy, make_routing_key, make_route
):
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    add_requests(5, at=later(-1))
    engine_evaluate(make_policy(threshold=5, window_seconds=60), T0)  # queues its trigger
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=90))
    evaluate()

    response = client.get("/engine-health")

    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith("1 pages were due more than 60 s ago and not sent (the oldest 90 s")


@pytest.mark.parametrize(
    ("last_run", "waiting", "expected"),
    [
        (NOW - timedelta(seconds=24), 0, None),  # within three intervals and ten seconds
        (None, 0, "no evaluation has run yet, and no tick is queued: is Celery beat running?"),
        (
            NOW - timedelta(seconds=60),
            None,
            f"the last evaluation ran at {(NOW - timedelta(seconds=60)).isoformat()} (60 s ago),"
            " and the broker is unreachable: beat cannot publish its ticks",
        ),
        (None, 2, "no evaluation has run yet, while 2 evaluation ticks wait in queue 'engine'"),
    ],
)
def test_evaluation_problem_names_the_component(last_run, waiting, expected):
    problem = evaluation_problem(last_run, NOW, 5.0, waiting, "engine")

    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(expected)
