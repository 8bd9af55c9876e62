"""/healthz (the process answers) and /readyz (it can do its work), for load balancers and
orchestrators. Both answer JSON; /readyz names what is wrong with a 503."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from alerting_console.celery import app


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


def _broker() -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many kinds; any of them means "not reachable"
        return f"broker unreachable: {type(exc).__name__}"
    return None


def _beat() -> str | None:
    from policies.models import Heartbeat

    beat = Heartbeat.objects.filter(name="evaluate").first()
    # Three intervals and a little: one late tick is no emergency, three are.
    limit = timedelta(seconds=3 * settings.EVALUATION_INTERVAL_SECONDS + 10)
    if beat is None:
        return "no evaluation has run yet: are Celery beat and a worker running?"
    if timezone.now() - beat.at > limit:
        return f"the last evaluation ran at {beat.at.isoformat()}: is Celery beat running?"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    problems = [p for p in (_database(), _broker()) if p]
    if not problems:  # the beat check reads the database
        problems += [p for p in (_beat(),) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})
