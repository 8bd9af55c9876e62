"""Health endpoints, each answering one question for the one who asks it:

- ``/healthz``: does the process answer? (liveness)
- ``/readyz``: can this web replica do its work, which is to store events? Only the database
  decides it: a load balancer that dropped replicas for a broker or evaluation problem would
  make gateways lose events over something ingest does not need.
- ``/engine-health``: is the alerting engine working (broker, evaluation, outbox)? For
  monitoring: every problem names the component at fault.

All answer JSON; a problem answers 503 with the problems named.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from alerting_console.celery import app

# A page due this long ago and not attempted means no worker is sending (issue 11's banner
# uses the same minute).
OUTBOX_LATE_SECONDS = 60


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _answer(problems: list[str]) -> JsonResponse:
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    return _answer([p for p in (_database(),) if p])


def evaluation_queue() -> str:
    """The queue beat's evaluation ticks go to (CELERY_TASK_ROUTES)."""
    return str(app.amqp.router.route({}, "policies.evaluate")["queue"].name)


def waiting_ticks(queue: str) -> int:
    """Messages waiting in the queue; raises when the broker cannot be reached."""
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel: Any = conn.default_channel  # a kombu virtual channel; the stubs know less
        try:
            return int(channel.queue_declare(queue=queue, passive=True)[1])
        except conn.channel_errors:  # never declared: no worker ever consumed it
            return 0


def evaluation_late(last_run: datetime | None, now: datetime, interval: float) -> bool:
    """Three intervals and a little: one late tick is no emergency, three are."""
    return last_run is None or now - last_run > timedelta(seconds=3 * interval + 10)


def late_pages(now: datetime) -> tuple[int, datetime | None]:
    """How many pages were due more than a minute ago and are not sent, and the oldest's due
    time (a partial index of the deliveries not delivered answers it)."""
    from policies.models import Delivery

    late = Delivery.objects.filter(
        status=Delivery.Status.PENDING,
        next_attempt_at__lt=now - timedelta(seconds=OUTBOX_LATE_SECONDS),
    ).aggregate(n=Count("pk"), oldest=Min("next_attempt_at"))
    return late["n"], late["oldest"]


def evaluation_problem(
    last_run: datetime | None, now: datetime, interval: float, waiting: int | None, queue: str
) -> str | None:
    """What is wrong with evaluation, naming the component: beat (no tick is published) or
    the worker (ticks wait in its queue, unconsumed). `waiting` is None when the broker could
    not be asked."""
    if not evaluation_late(last_run, now, interval):
        return None
    if last_run is None:
        state = "no evaluation has run yet"
    else:
        state = (
            f"the last evaluation ran at {last_run.isoformat()} "
            f"({(now - last_run).total_seconds():.0f} s ago)"
        )
    if waiting is None:
        return f"{state}, and the broker is unreachable: beat cannot publish its ticks"
    if waiting:
        return (
            f"{state}, while {waiting} evaluation ticks wait in queue {queue!r}: no Celery "
            f"worker consumes that queue, or it is stuck"
        )
    return f"{state}, and no tick is queued: is Celery beat running?"


def outbox_problem(late: int, oldest_due: datetime | None, now: datetime) -> str | None:
    if not late or oldest_due is None:
        return None
    age = (now - oldest_due).total_seconds()
    return (
        f"{late} pages were due more than {OUTBOX_LATE_SECONDS} s ago and not sent (the oldest "
        f"{age:.0f} s ago): no Celery worker consumes the deliveries, or it is stuck"
    )


def engine_health(request: HttpRequest) -> JsonResponse:
    from policies.models import Heartbeat

    database = _database()
    if database:
        return _answer([database])
    problems: list[str] = []
    queue = evaluation_queue()
    try:
        waiting: int | None = waiting_ticks(queue)
    except Exception as exc:  # kombu raises many kinds; any of them means "not reachable"
        waiting = None
        problems.append(f"broker unreachable: {type(exc).__name__}")
    now = timezone.now()
    beat = Heartbeat.objects.filter(name="evaluate").first()
    evaluation = evaluation_problem(
        beat.at if beat else None, now, settings.EVALUATION_INTERVAL_SECONDS, waiting, queue
    )
    outbox = outbox_problem(*late_pages(now), now)
    return _answer([*problems, *(p for p in (evaluation, outbox) if p)])
