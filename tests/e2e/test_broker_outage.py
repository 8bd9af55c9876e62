"""A real broker outage: Redis (a private one, on a port of its own) dies while a burst of
failures comes and goes. Ingest keeps storing; when Redis is back, beat's next evaluation
replays the moments it missed and records what happened meanwhile, detected when it happened
and noticed when it was found; a burst already over is not paged."""

import shutil
import time

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from policies.models import AlertPolicy, Channel, Heartbeat, Incident, Route, Team
from tests.e2e.live import database_url, failures, post, wait_until
from tests.e2e.pagerduty_server import PagerDutyServer
from tests.e2e.processes import (
    ENGINE_WORKER,
    Console,
    Process,
    celery_command,
    child_environment,
    free_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "o" * 24 + "XY12"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def start_redis(port, log):
    redis = Process(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        child_environment(),
        log,
    )
    redis.wait_for(lambda: "Ready to accept connections" in redis.output(), 20, "Redis")
    return redis


def test_what_happened_while_redis_was_down_is_recorded_when_it_is_back(tmp_path, make_token):
    team = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    key = Channel.objects.create(name="Search on-call", kind="pagerduty", secret=KEY)
    Route.objects.create(scope=Route.Scope.TEAM, team=team).channels.add(key)
    AlertPolicy.objects.create(
        name="Upstream failures", threshold=3, window_seconds=4, group_by="team",
        resolve_hold_seconds=0,
    )  # fmt: skip
    redis_port, web_port = free_port(), free_port()
    redis = start_redis(redis_port, tmp_path / "redis1.log")
    with PagerDutyServer() as pagerduty:
        env = child_environment(
            DATABASE_URL=database_url(settings.DATABASES["default"]),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            SECRET_KEY="e2e-only",
            PAGERDUTY_EVENTS_URL=pagerduty.url,
            CONSOLE_VAR_DIR=str(tmp_path / "var"),
            EVALUATION_INTERVAL_SECONDS="1",
            BIND=f"127.0.0.1:{web_port}",
        )
        console = Console(env, tmp_path, web_port)
        try:
            console.wait_until_ready()
            token, _ = make_token()
            live = {"url": console.url, "token": token}
            wait_until(lambda: Incident.objects.count() == 0 and _beat_ticked(), 30, "a tick")

            redis.kill()
            post(live, failures(4))  # stored while the broker is gone
            time.sleep(7)  # the burst leaves its 4 s window before Redis is back
            assert not Incident.objects.exists()
            assert pagerduty.fake.events == []

            back_at = timezone.now()
            redis = start_redis(redis_port, tmp_path / "redis2.log")
            wait_until(
                lambda: Incident.objects.filter(status="resolved").exists(),
                60,
                "the missed burst, replayed",
            )
            incident = Incident.objects.get()
            assert incident.trigger_count == 4
            # Replayed: it opened at a moment inside the outage, not when Redis came back, and
            # keeps when the console noticed it.
            assert incident.detected_at < back_at <= incident.noticed_at
            assert incident.resolved_at is not None
            # It was over before anybody could be paged: recorded, and nobody is woken for it.
            time.sleep(3)
            assert pagerduty.fake.events == []
            assert incident.events.get(kind="resolved").message.endswith("nothing is sent.")
        finally:
            console.stop()
            redis.kill()


def _beat_ticked():
    return Heartbeat.objects.filter(name="evaluate").exists()


def test_a_worker_holding_a_task_when_redis_dies_waits_for_it_and_goes_on(tmp_path):
    """Celery 5.7.0 exited here ("Unrecoverable error: AttributeError: 'NoneType' object has no
    attribute 'hostname'"): on losing the broker it closed the connection twice, and the second
    close tried to hand the unacknowledged task back through a transport already let go."""
    AlertPolicy.objects.create(name="Upstream failures", threshold=3, window_seconds=60)
    redis_port = free_port()
    redis = start_redis(redis_port, tmp_path / "redis1.log")
    env = child_environment(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        SECRET_KEY="e2e-only",
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
        EVALUATION_INTERVAL_SECONDS="1",
    )
    engine = Process(
        [*celery_command(), "worker", *ENGINE_WORKER, "--loglevel", "INFO"],
        env,
        tmp_path / "engine.log",
    )
    beat = Process([*celery_command(), "beat", "--loglevel", "INFO"], env, tmp_path / "beat.log")
    # Evaluation reads the policies: while this lock is held, a tick stays in the worker's hands,
    # unacknowledged (acks_late).
    lock = psycopg.connect(database_url(settings.DATABASES["default"]))
    try:
        engine.wait_for(lambda: "ready." in engine.output(), 60, "the engine worker")
        lock.execute("LOCK TABLE policies_alertpolicy IN ACCESS EXCLUSIVE MODE")
        engine.wait_for(lambda: _waiting_for_a_lock() > 0, 30, "a tick in the worker's hands")
        redis.kill()
        time.sleep(3)  # the worker notices at once; it crashed within milliseconds
        lock.rollback()
        assert engine.popen.poll() is None, engine.output()[-4000:]
        assert "Unrecoverable error" not in engine.output()

        redis = start_redis(redis_port, tmp_path / "redis2.log")
        back_at = timezone.now()
        wait_until(
            lambda: Heartbeat.objects.filter(name="evaluate", at__gt=back_at).exists(),
            60,
            "an evaluation after Redis is back",
        )
    finally:
        lock.close()
        engine.kill()
        beat.kill()
        redis.kill()


def _waiting_for_a_lock() -> int:
    with psycopg.connect(database_url(settings.DATABASES["default"]), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0
