"""End to end with real processes: the production web server, a Celery worker and Celery beat
against Postgres and Redis, and a fake PagerDuty on 127.0.0.1. Events go in over HTTP; pages
come out, each exactly once, and resolve."""

import sys
import time

import httpx
import pytest
import redis
from django.conf import settings

from ingest.models import GatewayRequest
from policies.models import AlertPolicy, Incident, Route, RoutingKey, Team
from tests.e2e.pagerduty_server import PagerDutyServer
from tests.e2e.processes import Console, Process, answers, child_environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "f" * 24 + "XY12"


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def database_url(db):
    """The test database, for processes outside this one (they see what tests commit)."""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


@pytest.fixture
def console(tmp_path, make_token):
    """Web server, worker and beat, configured like production, on the test database."""
    redis_url = "redis://127.0.0.1:6379/14"
    redis.Redis.from_url(redis_url).flushdb()  # no messages left over from another run
    port = free_port()
    with PagerDutyServer() as pagerduty:
        env = child_environment(
            DATABASE_URL=database_url(settings.DATABASES["default"]),
            REDIS_URL=redis_url,
            SECRET_KEY="e2e-only",
            PAGERDUTY_EVENTS_URL=pagerduty.url,
            CONSOLE_BASE_URL=f"http://127.0.0.1:{port}",
            CONSOLE_VAR_DIR=str(tmp_path / "var"),
            EVALUATION_INTERVAL_SECONDS="1",
            BIND=f"127.0.0.1:{port}",
        )
        running = [Console(env, tmp_path, port)]

        def restart():
            """Stop every process (SIGTERM, then SIGKILL what is left) and start new ones."""
            running[0].stop()
            (tmp_path / f"run{len(running)}").mkdir()
            running.insert(0, Console(env, tmp_path / f"run{len(running)}", port))
            running[0].wait_until_ready()

        try:
            running[0].wait_until_ready()
            token, _ = make_token(source="litellm-prod")
            yield {
                "url": running[0].url,
                "token": token,
                "pagerduty": pagerduty.fake,
                "restart": restart,
            }
        finally:
            running[0].stop()


@pytest.fixture
def routed():
    team = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    key = RoutingKey.objects.create(name="Search on-call", integration_key=KEY)
    Route.objects.create(scope=Route.Scope.TEAM, team=team, routing_key=key)
    return key


def post(console, events):
    response = httpx.post(
        f"{console['url']}/ingest/v1/events",
        json=events,
        headers={"Authorization": f"Bearer {console['token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response


def failures(n, team="team-search"):
    now = time.time()
    return [
        {
            "event": "finished",
            "request_id": f"fail-{now}-{i}",
            "status": "failure",
            "finished_at": now,
            "status_code": 503,
            "error_class": "ServiceUnavailableError",
            "team_id": team,
            "model_group": "gpt-4o",
        }
        for i in range(n)
    ]


def test_a_burst_of_failures_pages_the_team_once_and_resolves_once(console, routed):
    AlertPolicy.objects.create(
        name="Upstream failures",
        threshold=5,
        window_seconds=4,
        group_by="team",
        resolve_hold_seconds=0,
    )
    fake = console["pagerduty"]
    fake.script.append((429, {"Retry-After": "1"}))  # PagerDuty is busy at first

    post(console, failures(5))
    wait_until(lambda: [a for a, _ in fake.actions()] == ["trigger"], 30, "the trigger")
    wait_until(lambda: [a for a, _ in fake.actions()] == ["trigger", "resolve"], 30, "the resolve")
    time.sleep(3)  # any duplicate would arrive now

    incident = Incident.objects.get()
    assert fake.actions() == [("trigger", incident.dedup_key), ("resolve", incident.dedup_key)]
    trigger = fake.events[0]
    assert trigger["routing_key"] == KEY
    assert (
        trigger["payload"]["summary"]
        == "Upstream failures: 5 failed requests in 4 s for team team-search"
    )
    assert (
        trigger["links"][0]["href"]
        == f"{console['url']}/admin/policies/incident/{incident.pk}/change/"
    )
    assert incident.status == "resolved"
    attempts = list(
        incident.deliveries.get(action="trigger").attempts_made.values_list(
            "http_status", flat=True
        )
    )
    assert attempts == [429, 202]


def test_a_request_that_never_finishes_pages(console, routed):
    AlertPolicy.objects.create(
        name="Hung requests",
        kind="hung",
        duration_seconds=2,
        threshold=1,
        window_seconds=60,
        group_by="team",
    )
    fake = console["pagerduty"]

    post(
        console,
        [
            {
                "event": "started",
                "request_id": "stuck-1",
                "started_at": time.time(),
                "team_id": "team-search",
            }
        ],
    )
    wait_until(lambda: fake.actions(), 30, "the trigger")
    time.sleep(3)

    assert [a for a, _ in fake.actions()] == ["trigger"]
    assert (
        fake.events[0]["payload"]["summary"]
        == "Hung requests: 1 requests hung over 2 s in 60 s for team team-search"
    )
    assert fake.events[0]["payload"]["custom_details"]["sample_request_ids"] == ["stuck-1"]


def test_a_restart_of_every_process_loses_nothing(console, routed):
    """The incident opened before the restart is resolved after it, once."""
    AlertPolicy.objects.create(
        name="Upstream failures",
        threshold=5,
        window_seconds=8,
        group_by="team",
        resolve_hold_seconds=0,
    )
    fake = console["pagerduty"]
    post(console, failures(5))
    wait_until(lambda: fake.actions(), 30, "the trigger")

    console["restart"]()
    wait_until(lambda: len(fake.actions()) == 2, 40, "the resolve")
    time.sleep(3)

    incident = Incident.objects.get()
    assert fake.actions() == [("trigger", incident.dedup_key), ("resolve", incident.dedup_key)]


def test_ingest_keeps_storing_while_redis_is_down(tmp_path, make_token):
    """Ingest writes to Postgres and nothing else: with the broker unreachable it still works."""
    port = free_port()
    env = child_environment(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL="redis://127.0.0.1:9/0",  # nothing listens there
        SECRET_KEY="e2e-only",
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
        BIND=f"127.0.0.1:{port}",
    )
    web = Process(
        [f"{sys.prefix}/bin/gunicorn", "-c", "gunicorn.conf.py", "alerting_console.wsgi"],
        env,
        tmp_path / "web.log",
    )
    try:
        web.wait_for(lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), 60, "the web server")
        token, _ = make_token()

        post({"url": f"http://127.0.0.1:{port}", "token": token}, failures(3))

        assert GatewayRequest.objects.filter(outcome="failure").count() == 3
    finally:
        web.kill()
