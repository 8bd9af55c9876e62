"""End to end with real processes: the production web server, a Celery worker and Celery beat
against Postgres and Redis, and a fake PagerDuty on 127.0.0.1. Events go in over HTTP; pages
come out, each exactly once, and resolve."""

import sys
import time

import pytest
from django.conf import settings

from ingest.models import GatewayRequest
from policies.models import AlertPolicy, Channel, Incident, Route, Team
from tests.e2e.live import database_url, failures, post, wait_until
from tests.e2e.processes import Process, answers, child_environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "f" * 24 + "XY12"


@pytest.fixture
def routed():
    team = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    key = Channel.objects.create(name="Search on-call", kind="pagerduty", secret=KEY)
    Route.objects.create(scope=Route.Scope.TEAM, team=team).channels.add(key)
    return key


def test_a_burst_of_failures_pages_the_team_once_and_resolves_once(console, routed):
    AlertPolicy.objects.create(
        name="Upstream failures",
        threshold=5,
        # Longer than the retry after the 429 (a backoff of 2.5 to 5 s): an incident that
        # clears before its trigger got through pages nobody.
        window_seconds=12,
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
        == "Upstream failures: 5 failed requests in 12 s for team team-search"
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
        [sys.executable, "-m", "alerting_console.serve"],
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
