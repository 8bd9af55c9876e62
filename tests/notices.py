"""A channel notice for tests: one incident's transition, every field filled in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from policies.channels.base import Event, Notice

STARTED = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
DETECTED = datetime(2025, 3, 4, 10, 1, 0, tzinfo=UTC)
RESOLVED = datetime(2025, 3, 4, 10, 30, 0, tzinfo=UTC)


def make_notice(**overrides: Any) -> Notice:
    """An open incident of "Provider errors" for team search; `event=Event.RESOLVE` also sets
    resolved_at."""
    fields: dict[str, Any] = {
        "event": Event.TRIGGER,
        "incident_id": 42,
        "dedup_key": "alerting-console/incident/42",
        "summary": "Provider errors: 12 failed requests in 60 s for team search",
        "severity": "critical",
        "policy": "Provider errors",
        "rule": "5 or more failed requests in 60 s",
        "policy_kind": "failures",
        "group": "search",
        "group_label": "team search",
        "count": 12,
        "threshold": 5,
        "peak": 14,
        "window_seconds": 60,
        "started_at": STARTED,
        "detected_at": DETECTED,
        "noticed_at": DETECTED,
        "team": "Search",
        "model": "gpt-4o",
        "top_errors": (("RateLimitError 429", 9), ("APIConnectionError", 3)),
        "sample_request_ids": ("chatcmpl-a1", "chatcmpl-b2"),
        "runbook_url": "https://wiki.example.com/runbooks/provider-errors",
        "incident_url": "https://console.example.com/incidents/42/",
        "silence_url": "https://console.example.com/silences/new/?incident=42",
    }
    fields.update(overrides)
    if fields["event"] == Event.RESOLVE and "resolved_at" not in overrides:
        fields["resolved_at"] = RESOLVED
    return Notice(**fields)


def resolved(notice: Notice) -> Notice:
    return replace(notice, event=Event.RESOLVE, resolved_at=RESOLVED)
