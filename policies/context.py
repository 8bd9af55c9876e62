"""Template context for every admin page: the maintenance-mode banner."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from policies.models import Maintenance


def maintenance(request: HttpRequest) -> dict[str, Any]:
    # Only pages people see carry the banner: not the ingest API, nor health checks.
    if not request.path.startswith("/admin/"):
        return {}
    maintenance = Maintenance.current()
    return {"maintenance": maintenance, "maintenance_on": maintenance.is_active(timezone.now())}
