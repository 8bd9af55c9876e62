"""PagerDuty Events API v2: the event bodies, and sending one.

Contract (PagerDuty's developer documentation): POST to PAGERDUTY_EVENTS_URL; 202 means
accepted; 400 means the event (or its routing key) is invalid: do not retry; 429 and 5xx
mean it was not taken: retry later. The routing key in the body is the only credential, so
it appears in nothing but the request itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from policies import http
from policies.models import Incident

SUMMARY_LIMIT = 1024
SOURCE = "alerting-console"


def incident_url(incident: Incident) -> str:
    if not settings.CONSOLE_BASE_URL:
        return ""
    return f"{settings.CONSOLE_BASE_URL}/admin/policies/incident/{incident.pk}/change/"


def trigger_body(incident: Incident, routing_key: str) -> dict[str, Any]:
    policy = incident.policy
    details: dict[str, Any] = {
        "policy": policy.name,
        "rule": policy.describe(),
        "group": incident.group_key or "everything",
        "count": incident.last_count,
        "count_at_open": incident.trigger_count,
        "peak": incident.peak_count,
        "window_seconds": policy.window_seconds,
        "started_at": incident.started_at.isoformat(),
        # When the breach happened, and when the console noticed it: later after a gap in
        # evaluation, when it was found by replaying the moments missed.
        "detected_at": incident.detected_at.isoformat(),
        "noticed_at": incident.noticed_at.isoformat(),
        **incident.details,
    }
    if policy.runbook_url:
        details["runbook_url"] = policy.runbook_url
    if policy.description:
        details["description"] = policy.description
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": incident.dedup_key,
        "payload": {
            "summary": incident.summary[:SUMMARY_LIMIT],
            "source": SOURCE,
            "severity": incident.severity,
            "timestamp": incident.detected_at.isoformat(),
            # What the incident is surely about; the busiest team and model, which for a
            # platform-wide incident are not its owners, are in custom_details.
            "component": incident.model,
            "group": incident.team.name if incident.team else "",
            "class": policy.kind,
            "custom_details": details,
        },
        "client": "Alerting Console",
    }
    url = incident_url(incident)
    if url:
        body["client_url"] = url
        body["links"] = [{"href": url, "text": "Incident in the Alerting Console"}]
    if policy.runbook_url:
        body.setdefault("links", []).append({"href": policy.runbook_url, "text": "Runbook"})
    # PagerDuty rejects empty optional strings less kindly than missing ones.
    body["payload"] = {k: v for k, v in body["payload"].items() if v != ""}
    return body


def resolve_body(incident: Incident, routing_key: str) -> dict[str, Any]:
    return resolve_event(routing_key, incident.dedup_key)


def resolve_event(routing_key: str, dedup_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}


@dataclass(frozen=True)
class Answer:
    """What came of one POST: a status (None if no answer) and what it means for retrying."""

    http_status: int | None
    excerpt: str
    duration_ms: int
    error: str = ""
    retry_after: float | None = None

    @property
    def accepted(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def permanent(self) -> bool:
        """PagerDuty refused the event itself: sending it again cannot help."""
        return (
            self.http_status is not None
            and 400 <= self.http_status < 500
            and self.http_status not in (408, 429)
        )


def send(body: dict[str, Any]) -> Answer:
    """POST one event, within HTTP_TIMEOUT_SECONDS overall (policies/http.py); no answer in
    time is a transient error like a timeout."""
    started = time.monotonic()
    try:
        reply = http.post_json(settings.PAGERDUTY_EVENTS_URL, body)
    except httpx.HTTPError as exc:
        return Answer(None, "", _ms_since(started), error=f"{type(exc).__name__}: {exc}"[:500])
    return Answer(
        reply.status_code,
        reply.text[:500],
        _ms_since(started),
        retry_after=_retry_after(reply.headers.get("Retry-After")),
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _retry_after(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:  # at most 11 days
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())
