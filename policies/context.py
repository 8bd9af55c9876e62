"""Template context for every admin page: the banners for what nobody should miss, maintenance
mode, and an engine that stopped evaluating or sending."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from alerting_console.health import evaluation_late, late_pages
from policies.models import Heartbeat, Maintenance


def banners(request: HttpRequest) -> dict[str, Any]:
    # Only pages people see carry the banners: not the ingest API, nor health checks.
    if not request.path.startswith("/admin/"):
        return {}
    now = timezone.now()
    maintenance = Maintenance.current()
    context = {"maintenance": maintenance, "maintenance_on": maintenance.is_active(now)}
    if not request.user.is_authenticated:
        return context  # the login page: the engine's state is for the people inside
    beat = Heartbeat.objects.filter(name="evaluate").first()
    late, oldest_due = late_pages(now)
    return context | {
        "evaluation_stopped": evaluation_late(
            beat.at if beat else None, now, settings.EVALUATION_INTERVAL_SECONDS
        ),
        "last_evaluation": beat.at if beat else None,
        "late_pages": late,
        "late_since": oldest_due,
    }
