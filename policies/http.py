"""The one place outbound HTTP clients are made: tests swap the transport here."""

from __future__ import annotations

import httpx
from django.conf import settings

# Tests set this to an httpx.MockTransport (or leave it and point PAGERDUTY_EVENTS_URL at a
# local fake server); production leaves it None.
transport: httpx.BaseTransport | None = None


def client() -> httpx.Client:
    return httpx.Client(
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        transport=transport,
        headers={"User-Agent": "alerting-console"},
        follow_redirects=False,
    )
