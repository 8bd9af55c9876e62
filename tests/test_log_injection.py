"""Gateway-supplied names cannot forge log lines: control characters in a logged message are
escaped, in Django's handlers and in the worker's, whose task results name the groups."""

import logging
import sys
from pathlib import Path

import pytest
import redis
from celery.app import trace as celery_trace
from django.conf import settings
from django.utils import timezone

from alerting_console.health import evaluation_queue
from alerting_console.logfilters import EscapeControlCharacters, RoutineAsDebug, printable
from tests.e2e.live import database_url
from tests.e2e.processes import ROOT, Process, child_environment
from tests.engine_helpers import add_requests
from tests.parallel import e2e_redis_url

FORGED = "ERROR policies.engine the database is gone"


def test_control_characters_are_escaped_on_one_line():
    assert printable("team\nx\r\x1b[31m\u2028\x85\tend") == "team\\nx\\r\\x1b[31m\\u2028\\x85\tend"


def test_the_filter_escapes_the_formatted_message():
    record = logging.LogRecord("x", logging.INFO, "f", 1, "group %s opened", ("a\nb",), None)

    EscapeControlCharacters().filter(record)

    assert record.getMessage() == "group a\\nb opened"


def test_djangos_handler_escapes():
    [handler] = [h for h in logging.getLogger().handlers if h.name == "console"]
    record = logging.LogRecord(
        "policies.engine", logging.WARNING, "f", 1, "group %s", (f"search\n{FORGED}",), None
    )

    assert handler.filter(record)
    assert "\n" not in handler.format(record)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_a_task_result_naming_a_forged_team_on_one_line(tmp_path, make_policy):
    """Found by review: a team name with a newline wrote a line of its own into the worker
    log, through the return value of policies.evaluate; it is in the incident's own log line
    now, escaped, and the task chatter is gone at INFO."""
    make_policy(name="Per team", threshold=1, window_seconds=60, group_by="team")
    add_requests(1, at=timezone.now(), gateway_team_id=f"search\n{FORGED}")
    redis_url = e2e_redis_url()
    redis.Redis.from_url(redis_url).flushdb()
    env = child_environment(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        SECRET_KEY="test-only",
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
    )
    celery = [str(Path(sys.executable).parent / "celery"), "-A", "alerting_console"]
    worker = Process(
        [*celery, "worker", "--pool", "solo", "-Q", evaluation_queue(), "--loglevel", "INFO"],
        env,
        tmp_path / "worker.log",
    )
    try:
        worker.wait_for(lambda: "ready." in worker.output(), 60, "the worker")
        caller = Process([*celery, "call", "policies.evaluate"], env, tmp_path / "call.log", ROOT)
        caller.popen.wait(timeout=60)
        worker.wait_for(lambda: "Opened: " in worker.output(), 60, "the incident's log line")
    finally:
        worker.kill()

    log = worker.output()
    assert "group search\\nERROR policies.engine the database is gone: Opened: " in log
    assert f"\n{FORGED}" not in log
    assert "succeeded in" not in log  # Celery's routine, DEBUG now


def _record(name, message, level=logging.INFO):
    return logging.LogRecord(name, level, "f", 1, message, None, None)


SUCCEEDED = celery_trace.LOG_SUCCESS


def test_celerys_routine_lines_are_dropped_at_info():
    routine = RoutineAsDebug()
    logging.getLogger().setLevel(logging.INFO)

    assert routine.filter(_record("celery.app.trace", SUCCEEDED)) is False
    assert routine.filter(_record("celery.worker.strategy", celery_trace.LOG_RECEIVED)) is False
    sending = "Scheduler: Sending due task %s (%s)"
    assert routine.filter(_record("celery.beat", sending)) is False
    # Failures, start-up banners and the console's own lines stay.
    assert routine.filter(_record("celery.app.trace", celery_trace.LOG_FAILURE)) is True
    assert routine.filter(_record("celery.beat", "beat: Starting...")) is True
    assert routine.filter(_record("policies.engine", "incident 1 opened")) is True


def test_celerys_routine_lines_are_debug_lines_at_debug():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        record = _record("celery.worker.strategy", celery_trace.LOG_RECEIVED)
        assert RoutineAsDebug().filter(record) is True
    finally:
        root.setLevel(level)

    assert record.levelname == "DEBUG"
